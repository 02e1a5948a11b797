"""Tag redacted feedback with domains, scores, themes, sentiment and evidence.

Four deterministic layers, combined per domain (docs/tagging.md):
1. National category codes (``schemas.categories``) — a code's domains score 1.0.
2. The source: an incident report or a GP clinical concern is a patient-safety report, which
   docs/domains.md puts in safe care almost always, so those sources carry safe care whatever words
   they use (the hotspot rule ``ward-incidents-24h`` counts only incidents tagged safe care).
3. Phrases: ``decisive.py`` phrases decide a domain alone; the definitions' vocabulary
   (``lexicon.py``) decides with a second phrase or a multi-word phrase, and one ambiguous word
   counts only when the model leans the same way.
4. The linear model over word and character n-grams plus lexicon counts, trained on FFT comments
   and our multi-source examples, with per-domain thresholds folded in so 0.5 is the boundary.
   Outside FFT a model score with no phrase behind it is discounted: that is where a model that
   learnt mostly short comments guesses from function words.
Evidence is the code, the source, the phrases, or failing those the content words that pushed
the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from schemas.categories import domains_for_code, normalise_code
from schemas.domains import DOMAIN_IDS, SAFE
from streams.tagging import features, lexicon, phrases
from streams.tagging.model import MODEL_PATH, LinearDomainModel, lexicon_features, sigmoid

TAGGER_VERSION: Final = "2.0.0"

# Sources that are patient-safety reports by nature, and the evidence line they carry.
SOURCE_PRIORS: Final[dict[str, tuple[str, str]]] = {
    "incident": (SAFE, "source: patient-safety incident report"),
    "gp_clinical_concern": (SAFE, "source: GP clinical concern about a provider"),
}

_EVIDENCE_PER_DOMAIN: Final = 3
_PRIOR_SCORE: Final = 0.75  # score of a domain the source implies
_DECISIVE_SCORE: Final = 0.75  # score of a domain a decisive phrase names
_DECISIVE_ON_FFT: Final = True  # FFT comments too: measured in docs/tagging.md
_LEXICON_SCORE: Final = 0.6  # score of a domain two lexicon phrases (or one multi-word phrase) name
# One ambiguous lexicon word counts when the model gives the domain at least this much.
_WEAK_SUPPORT: Final = 0.3
# Outside FFT, a model score with no phrase behind it counts only above 0.5 / discount.
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
    strength: dict[str, int]  # phrases.WEAK / STRONG / DECISIVE per domain found
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
            return _TextAnalysis((0.0,) * len(DOMAIN_IDS), {}, {}, ((),) * len(DOMAIN_IDS), (), 0.0)
        hits, strength, themes = phrases.analyse(norm)
        words = features.word_terms(norm)
        margins, sentiment_margin = self._model.margins(norm, lexicon_features(hits, strength), words)
        scores = tuple(sigmoid(m) for m in margins)
        # Evidence from the model only where the lexicon gives none and the model decides.
        terms = tuple(
            tuple(self._model.top_terms(words, i, _EVIDENCE_PER_DOMAIN))
            if scores[i] >= 0.5 and domain not in hits
            else ()
            for i, domain in enumerate(DOMAIN_IDS)
        )
        return _TextAnalysis(
            model_scores=scores,
            lexicon_hits=hits,
            strength=strength,
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

        prior = SOURCE_PRIORS.get(source)
        if prior is not None and prior[0] not in coded:
            scores[prior[0]] = max(scores[prior[0]], _PRIOR_SCORE)
            evidence.append({"domain": prior[0], "phrase": prior[1]})
            coded.add(prior[0])  # decided: the phrases below still say what about
        for domain in DOMAIN_IDS:
            if domain in coded:
                continue
            strength = analysis.strength.get(domain, 0)
            if strength == phrases.DECISIVE and (source != "fft" or _DECISIVE_ON_FFT):
                scores[domain] = max(scores[domain], _DECISIVE_SCORE)
            elif source == "fft":
                continue  # the model learnt FFT comments; it decides there
            elif strength == phrases.STRONG:
                scores[domain] = max(scores[domain], _LEXICON_SCORE)
            elif strength == phrases.WEAK:
                # In a patient-safety report one ambiguous word ("for 8 hours": a delay in care,
                # not a wait for a service) is not enough, whatever the model says.
                if prior is None and scores[domain] >= _WEAK_SUPPORT:
                    scores[domain] = max(scores[domain], 0.5)
                elif prior is not None:
                    scores[domain] *= _UNSUPPORTED_DISCOUNT
            else:
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
