"""The shipped linear domain model, read and applied with plain Python.

Scoring is a sparse dot product: for each known term, ``(1 + log tf) * idf`` times its five
weights, divided by the block's L2 norm at the end. Per-domain thresholds (tuned on the train
split) are folded in, so a score of 0.5 is exactly the decision boundary.
"""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter
from pathlib import Path
from typing import Final

from schemas.domains import DOMAIN_IDS
from schemas.errors import ConfigError
from streams.tagging import features
from streams.tagging.phrases import DECISIVE as _DECISIVE

MODEL_FORMAT: Final = 3
# Lexicon features, in the order of the model's ``lexicon_weights`` rows: per domain the log of
# 1 + distinct phrases found, then per domain whether a decisive phrase was found.
LEXICON_FEATURES: Final[tuple[str, ...]] = (*DOMAIN_IDS, *(f"decisive:{d}" for d in DOMAIN_IDS))
MODEL_PATH: Final = Path(__file__).with_name("model.json.gz")
_CHAR_CACHE_MAX: Final = 200_000
# Words a person cannot check a decision against (model evidence leaves n-grams of only these out).
_FUNCTION_WORDS: Final = frozenset(
    (  # noqa: SIM905 - a paragraph of words reads better than eighty quoted items
        "a about after all also an and any are as at be been being but by can could did do does for "
        "from had has have he her him his how i if in into is it its me more my no not of on or our out "
        "over she so some than that the their them then there they this to too up us very was we were "
        "what when which who will with would you your just get got go went one two day now"
    ).split()
)

# term → (idf, weights per domain or None when every weight is negligible)
_Vocab = dict[str, tuple[float, tuple[float, ...] | None]]
_WordVocab = dict[str, tuple[float, tuple[float, ...] | None, float]]


def _vocab(raw: dict[str, list[float]]) -> _Vocab:
    return {term: (entry[0], tuple(entry[1:]) if len(entry) > 1 else None) for term, entry in raw.items()}


class LinearDomainModel:
    """Word + character TF-IDF logistic regression per domain, plus lexicon-count features."""

    def __init__(self, raw: dict) -> None:
        if raw.get("format") != MODEL_FORMAT or raw.get("domains") != list(DOMAIN_IDS):
            raise ConfigError(
                f"domain model has format {raw.get('format')!r} and domains {raw.get('domains')!r}; "
                f"expected format {MODEL_FORMAT} over {list(DOMAIN_IDS)}"
            )
        # Learned polarity of word n-grams (positive vs negative analyst labels) rides along with
        # each word's domain weights, so one pass over the words gives both.
        self.sentiment_bias: Final[float] = raw["sentiment"]["bias"]
        polarity = raw["sentiment"]["word"]
        self.word: Final[_WordVocab] = {
            term: (idf, weights, polarity.get(term, 0.0))
            for term, (idf, weights) in _vocab(raw["word"]).items()
        }
        self.char: Final = _vocab(raw["char"])
        # Threshold folded into the bias: margin > 0 exactly when the tuned rule says yes.
        self.offset: Final = tuple(b - t for b, t in zip(raw["bias"], raw["threshold"], strict=True))
        self.lexicon_weights: Final = tuple(tuple(row) for row in raw["lexicon_weights"])
        if len(self.lexicon_weights) != len(LEXICON_FEATURES):
            raise ConfigError(
                f"domain model has {len(self.lexicon_weights)} lexicon weight rows; "
                f"expected {len(LEXICON_FEATURES)} ({', '.join(LEXICON_FEATURES)})"
            )
        # word → (five partial dot products, squared norm) of its character n-grams
        self._char_cache: dict[str, tuple[float, float, float, float, float, float]] = {}

    def _char_word(self, word: str) -> tuple[float, float, float, float, float, float]:
        cached = self._char_cache.get(word)
        if cached is not None:
            return cached
        sums = [0.0, 0.0, 0.0, 0.0, 0.0]
        norm_sq = 0.0
        for term, count in features.word_char_terms(word).items():
            entry = self.char.get(term)
            if entry is None:
                continue
            value = count * entry[0]
            norm_sq += value * value
            weights = entry[1]
            if weights is not None:
                for j in range(5):
                    sums[j] += value * weights[j]
        result = (sums[0], sums[1], sums[2], sums[3], sums[4], norm_sq)
        if len(self._char_cache) >= _CHAR_CACHE_MAX:
            self._char_cache.clear()  # crude but bounded; the working set refills in seconds
        self._char_cache[word] = result
        return result

    def _char_block(self, norm: str, totals: list[float]) -> None:
        sums = [0.0, 0.0, 0.0, 0.0, 0.0]
        norm_sq = 0.0
        char_word = self._char_word
        for word in norm.split():
            a, b, c, d, e, n = char_word(word)
            sums[0] += a
            sums[1] += b
            sums[2] += c
            sums[3] += d
            sums[4] += e
            norm_sq += n
        if norm_sq:
            inv = 1.0 / math.sqrt(norm_sq)
            for j in range(5):
                totals[j] += sums[j] * inv

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinearDomainModel:
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                raw = json.load(handle)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read domain model {path}: {exc}") from exc
        return cls(raw)

    def _word_block(self, counts: Counter[str], totals: list[float]) -> float:
        """Add the L2-normalised word TF-IDF block's contribution to ``totals`` in place.

        Returns the learned sentiment margin of the same block.
        """
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        norm_sq = 0.0
        vocab_get = self.word.get
        log = math.log
        for term, tf in counts.items():
            entry = vocab_get(term)
            if entry is None:
                continue
            value = (1.0 + log(tf)) * entry[0] if tf > 1 else entry[0]
            norm_sq += value * value
            s5 += value * entry[2]
            weights = entry[1]
            if weights is not None:
                w0, w1, w2, w3, w4 = weights
                s0 += value * w0
                s1 += value * w1
                s2 += value * w2
                s3 += value * w3
                s4 += value * w4
        if norm_sq:
            inv = 1.0 / math.sqrt(norm_sq)
            totals[0] += s0 * inv
            totals[1] += s1 * inv
            totals[2] += s2 * inv
            totals[3] += s3 * inv
            totals[4] += s4 * inv
            return self.sentiment_bias + s5 * inv
        return self.sentiment_bias

    def margins(
        self, norm: str, lexicon_counts: list[float], word_counts: Counter[str] | None = None
    ) -> tuple[list[float], float]:
        """Per-domain margins (positive exactly when the tuned rule says the domain applies) and
        the learned sentiment margin (positive = the analysts would call it positive)."""
        totals = list(self.offset)
        words = features.word_terms(norm) if word_counts is None else word_counts
        sentiment = self._word_block(words, totals)
        self._char_block(norm, totals)
        for i, count in enumerate(lexicon_counts):  # one per LEXICON_FEATURES
            if count:
                row = self.lexicon_weights[i]
                for j in range(5):
                    totals[j] += count * row[j]
        return totals, sentiment

    def top_terms(self, word_counts: Counter[str], domain_index: int, limit: int = 3) -> list[str]:
        """Word n-grams (``features.word_terms``) that pushed hardest towards one domain (evidence).

        N-grams of function words only ("to the", "has") are left out: they do push the model,
        but a person cannot check a decision against them.
        """
        scored = []
        for term, tf in word_counts.items():
            if all(word in _FUNCTION_WORDS for word in term.split()):
                continue
            entry = self.word.get(term)
            if entry is not None and entry[1] is not None:
                push = (1.0 + math.log(tf)) * entry[0] * entry[1][domain_index]
                if push > 0.0:
                    scored.append((push, term))
        if not scored:
            # The word block had nothing to say ("Professionalism." is not in its vocabulary):
            # the character block decided, so name the words whose character n-grams pushed.
            for term in word_counts:
                if " " not in term and term not in _FUNCTION_WORDS:
                    push = self._char_word(term)[domain_index]
                    if push > 0.0:
                        scored.append((push, term))
        scored.sort(reverse=True)
        return [term for _, term in scored[:limit]]


def lexicon_features(found: dict[str, list[str]], strength: dict[str, int]) -> list[float]:
    """What ``phrases.analyse`` found, as the model's lexicon features (``LEXICON_FEATURES``)."""
    counts = [math.log1p(len(found.get(domain, ()))) for domain in DOMAIN_IDS]
    return counts + [1.0 if strength.get(domain, 0) >= _DECISIVE else 0.0 for domain in DOMAIN_IDS]


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
