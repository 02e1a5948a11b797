"""Text → sparse features, shared by training and inference so both see exactly the same thing.

Two blocks: word uni/bi-grams (sublinear TF-IDF, L2-normalised), and character 2–5-grams inside
word boundaries, which carry misspellings ("apointment", "recieved") and word stems that short
FFT comments depend on. The character block is defined per word — the sum of each word's
idf-weighted n-gram counts, divided by the root of the summed per-word squared norms — so the
model's dot product and norm can be cached per distinct word; that makes inference several
times faster than re-scoring hundreds of n-grams per text, at no cost in accuracy.
Redaction markers such as ``[NAME]`` are removed first so they never become features.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from typing import Final

_MARKER: Final = re.compile(r"\[[A-Z_]+\]")
_WORD: Final = re.compile(r"\b\w\w+\b")
_SPACES: Final = re.compile(r"\s+")

CHAR_MIN: Final = 2
CHAR_MAX: Final = 5


def normalise(text: str) -> str:
    """Lower-cased text without redaction markers, whitespace collapsed."""
    return _SPACES.sub(" ", _MARKER.sub(" ", text)).strip().lower()


def word_terms(norm: str) -> Counter[str]:
    """Word unigrams and bigrams ("not listened" matters as much as "listened")."""
    words = _WORD.findall(norm)
    counts = Counter(words)
    counts.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    return counts


def word_char_terms(word: str) -> Counter[str]:
    """Character n-grams of one space-padded word, like scikit-learn's ``char_wb``."""
    padded = f" {word} "
    length = len(padded)
    return Counter(
        padded[start : start + n]
        for n in range(CHAR_MIN, min(CHAR_MAX, length) + 1)
        for start in range(length - n + 1)
    )


def char_terms(norm: str) -> Counter[str]:
    """Character n-grams of every word of the text (document frequencies for training)."""
    counts: Counter[str] = Counter()
    for word in norm.split():
        counts.update(word_char_terms(word))
    return counts


def char_vector(norm: str, idf: dict[str, float]) -> dict[str, float]:
    """The character block as defined above (training uses this; inference caches per word)."""
    total: dict[str, float] = {}
    norm_sq = 0.0
    for word in norm.split():
        for term, count in word_char_terms(word).items():
            weight = idf.get(term)
            if weight is not None:
                value = count * weight
                total[term] = total.get(term, 0.0) + value
                norm_sq += value * value
    if norm_sq == 0.0:
        return {}
    scale = 1.0 / math.sqrt(norm_sq)
    return {term: value * scale for term, value in total.items()}


def tfidf(counts: Counter[str], idf: dict[str, float]) -> dict[str, float]:
    """Sublinear TF-IDF over known terms, L2-normalised (unknown terms are dropped)."""
    values = {term: (1.0 + math.log(tf)) * idf[term] for term, tf in counts.items() if term in idf}
    norm = math.sqrt(sum(v * v for v in values.values()))
    if norm == 0.0:
        return {}
    return {term: v / norm for term, v in values.items()}
