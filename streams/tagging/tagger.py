"""Tag redacted feedback with domains, scores, themes, sentiment and evidence.

Three deterministic layers, combined per domain:
1. National category codes (``schemas.categories``) — a code's domains score 1.0.
2. The learned linear model over word and character n-grams plus lexicon counts, trained on
   FFT comments, with per-domain thresholds folded in so 0.5 is the decision boundary.
3. The curated lexicon (DOMAINS.md vocabulary). FFT comments are short; letters, incident
   reports and news items are long and worded differently, so for every source other than FFT
   strong lexicon evidence (a multi-word phrase, or two distinct phrases) takes a domain even
   when the model, which never saw such texts, stays under its threshold — and a model score
   with no lexicon phrase at all behind it is discounted, since that is where the FFT-trained
   model guesses from function words.
Evidence is the code, the lexicon phrases, or failing those the n-grams that pushed the model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from schemas.categories import domains_for_code, normalise_code
from schemas.domains import DOMAIN_IDS
from streams.tagging import features, lexicon, phrases
from streams.tagging.model import MODEL_PATH, LinearDomainModel, sigmoid

TAGGER_VERSION: Final = "1.0.0"

_EVIDENCE_PER_DOMAIN: Final = 3
_LEXICON_SCORE: Final = 0.6  # score given to a domain decided by the lexicon alone
# Outside FFT, a model score with no lexicon phrase behind it counts only above 0.8 (0.8 × 0.625 = 0.5).
_UNSUPPORTED_DISCOUNT: Final = 0.625
_WORD_LIST_LOGIT: Final = 3.0  # one polar word can overturn a typical learned margin (about 2 logits)
_CACHE_TEXT_MAX: Final = 400  # only short texts are cached (FFT repeats "Nothing." a lot)


@dataclass(frozen=True, slots=True)
class Tags:
    """What the tagger says about one text (the TaggedEvent v1 tagging fields)."""

    domains: list[str]
    domain_scores: dict[str, float]
    themes: list[str]
    sentiment: float
    evidence: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domains": list(self.domains),
            "domain_scores": dict(self.domain_scores),
            "themes": list(self.themes),
            "sentiment": self.sentiment,
            "evidence": [dict(item) for item in self.evidence],
        }


@dataclass(frozen=True, slots=True)
class _TextAnalysis:
    """Everything that depends on the text alone (cacheable across sources and codes)."""

    model_scores: tuple[float, ...]
    lexicon_hits: dict[str, list[str]]
    model_terms: tuple[tuple[str, ...], ...]
    themes: tuple[str, ...]
    sentiment: float


class Tagger:
    """Domain tagger; build once with ``Tagger.default()`` and share it."""

    def __init__(self, model: LinearDomainModel, cache_size: int = 8192) -> None:
        """``cache_size`` short texts are remembered: feeds repeat "Nothing." and "Very good"."""
        self._model = model
        self._analyse_cached = lru_cache(maxsize=cache_size)(self._analyse) if cache_size else self._analyse

    @classmethod
    def default(cls) -> Tagger:
        """The tagger with the shipped model, loaded once per process."""
        return _default_tagger()

    def _analyse(self, text: str) -> _TextAnalysis:
        norm = features.normalise(text)
        if not norm:
            return _TextAnalysis((0.0,) * len(DOMAIN_IDS), {}, ((),) * len(DOMAIN_IDS), (), 0.0)
        hits, themes = phrases.analyse(norm)
        counts = [math.log1p(len(hits.get(domain, ()))) for domain in DOMAIN_IDS]
        margins, sentiment_margin = self._model.margins(norm, counts)
        scores = tuple(sigmoid(m) for m in margins)
        # Evidence from the model only where the lexicon gives none and the model decides.
        terms = tuple(
            tuple(self._model.top_terms(norm, i, _EVIDENCE_PER_DOMAIN))
            if scores[i] >= 0.5 and domain not in hits
            else ()
            for i, domain in enumerate(DOMAIN_IDS)
        )
        return _TextAnalysis(
            model_scores=scores,
            lexicon_hits=hits,
            model_terms=terms,
            themes=tuple(themes),
            sentiment=_blend_sentiment(phrases.sentiment_evidence(norm), sentiment_margin),
        )

    def tag(self, text: str, source: str, category_codes: Sequence[str] = ()) -> Tags:
        """Tag one redacted text from ``source`` with its national ``category_codes``."""
        analysis = self._analyse_cached(text) if len(text) <= _CACHE_TEXT_MAX else self._analyse(text)
        scores = dict(zip(DOMAIN_IDS, analysis.model_scores, strict=True))
        evidence: list[dict[str, str]] = []
        coded: set[str] = set()
        code_themes: list[str] = []
        for code in dict.fromkeys(normalise_code(raw) for raw in category_codes):
            for domain in domains_for_code(code):
                scores[domain] = 1.0
                coded.add(domain)
                evidence.append({"domain": domain, "phrase": f"code {code}"})
            theme = lexicon.CODE_THEMES.get(code)
            if theme:
                code_themes.append(theme)

        if source != "fft":
            # The model learnt FFT comments; elsewhere it needs the lexicon's support.
            for domain in DOMAIN_IDS:
                if domain in coded:
                    continue
                hits = analysis.lexicon_hits.get(domain, ())
                if len(hits) >= 2 or any(" " in hit for hit in hits):
                    scores[domain] = max(scores[domain], _LEXICON_SCORE)
                elif not hits:
                    scores[domain] *= _UNSUPPORTED_DISCOUNT

        domains = [domain for domain in DOMAIN_IDS if scores[domain] >= 0.5]
        for index, domain in enumerate(DOMAIN_IDS):
            if domain not in domains:
                continue
            # A coded domain is decided by its code; its lexicon phrases still say what about.
            found = analysis.lexicon_hits.get(domain) or (
                [] if domain in coded else analysis.model_terms[index]
            )
            evidence.extend({"domain": domain, "phrase": p} for p in found[:_EVIDENCE_PER_DOMAIN])

        themes = list(dict.fromkeys([*code_themes, *analysis.themes]))
        return Tags(
            domains=domains,
            domain_scores={domain: round(score, 4) for domain, score in scores.items()},
            themes=themes,
            sentiment=analysis.sentiment,
            evidence=evidence,
        )

    def tag_many(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[Tags]:
        """Tag a batch of ``(text, source, category_codes)``; same results as ``tag`` one by one."""
        tag = self.tag
        return [tag(text, source, codes) for text, source, codes in items]


def _blend_sentiment(word_list_score: float, learned_margin: float) -> float:
    """Learned polarity plus the word list's evidence, squashed to -1..1.

    The learned part knows that a bare suggestion ("More staff.") is a complaint; the word list
    handles negation ("not helpful") and texts unlike FFT. Each polar word adds
    ``_WORD_LIST_LOGIT`` to the learned margin.
    """
    if not word_list_score and learned_margin == 0.0:
        return 0.0
    return round(2.0 * sigmoid(learned_margin + _WORD_LIST_LOGIT * word_list_score) - 1.0, 3)


@lru_cache(maxsize=1)
def _default_tagger() -> Tagger:
    return Tagger(LinearDomainModel.load(MODEL_PATH))
