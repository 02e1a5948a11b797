"""Compiled matchers for the curated lexicon: domain phrases, themes and sentiment.

Speed matters here (it runs on every event), and a regex of a few hundred alternatives tried at
every character is slow. So each lexicon entry is split into its top-level alternatives:
single-word ones are matched per distinct *token* and the answer cached (feedback reuses a small
vocabulary), and only the multi-word ones run as a regex over the text.
"""

from __future__ import annotations

import re
import string
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parser  # type: ignore[attr-defined]
from typing import Final

from schemas.domains import DOMAIN_IDS
from streams.tagging import decisive, lexicon

_TOKEN: Final = re.compile(r"[a-z0-9&]+(?:['’.-][a-z0-9&]+)*")
_SENTIMENT_TOKEN: Final = re.compile(r"[a-z]+(?:'[a-z]+)?")
_TOKEN_CACHE_MAX: Final = 200_000

# How strongly the phrases found speak for a domain (``analyse``).
WEAK: Final = 1
STRONG: Final = 2
DECISIVE: Final = 3


def _top_level_alternatives(fragment: str) -> list[str]:
    """Split a regex fragment on ``|`` outside groups and character classes."""
    parts, depth, in_class, escaped, start = [], 0, False, False, 0
    for index, char in enumerate(fragment):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(fragment[start:index])
            start = index + 1
    parts.append(fragment[start:])
    return parts


def _is_single_token(alternative: str) -> bool:
    return not any(marker in alternative for marker in (" ", r"\s", r"\b", "'"))


_TEXT_CHARS: Final = frozenset(string.ascii_lowercase + string.digits + "&£")


def _first_chars(items: list) -> frozenset[str] | None:
    """Characters a parsed regex can start with, or None when it could start with anything."""
    c = sre_constants
    for index, (op, av) in enumerate(items):
        if op is c.AT:
            continue
        if op is c.LITERAL:
            return frozenset({chr(av)})
        if op is c.IN:
            chars: set[str] = set()
            for sub_op, sub_av in av:
                if sub_op is c.LITERAL:
                    chars.add(chr(sub_av))
                elif sub_op is c.RANGE:
                    chars.update(chr(code) for code in range(sub_av[0], sub_av[1] + 1))
                else:
                    return None
            return frozenset(chars)
        if op is c.BRANCH:
            union: set[str] = set()
            for branch in av[1]:
                first = _first_chars(list(branch))
                if first is None:
                    return None
                union |= first
            return frozenset(union)
        if op is c.SUBPATTERN:
            return _first_chars(list(av[-1]))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, _high, sub = av
            first = _first_chars(list(sub))
            if first is None:
                return None
            if low > 0:
                return first
            rest = _first_chars(items[index + 1 :])
            return None if rest is None else first | rest
        return None
    return None


def _by_first_char(
    alternatives: list[tuple[str, str]],
) -> dict[str, tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]]:
    """Multi-word alternatives grouped by the characters they can start with.

    Matching then runs only at token starts, and only the few alternatives that can begin
    with that character are tried; the capturing group that matched names the label(s) — an
    alternative listed under several labels (a domain and a theme) is one group for all.
    """
    labels_of: dict[str, list[str]] = {}
    for label, alternative in alternatives:
        labels_of.setdefault(alternative, []).append(label)
    buckets: dict[str, list[str]] = {}
    anywhere: list[str] = []
    for alternative in labels_of:
        first = _first_chars(list(sre_parser.parse(alternative)))
        if first is None:
            anywhere.append(alternative)
            continue
        for char in first & _TEXT_CHARS:
            buckets.setdefault(char, []).append(alternative)
    compiled = {}
    for char in sorted(_TEXT_CHARS):
        entries = buckets.get(char, []) + anywhere
        if entries:
            # The word-end check applies to every alternative, not only the last one.
            alternation = "|".join(f"({alternative})" for alternative in entries)
            pattern = re.compile(f"(?:{alternation})(?![a-z0-9])")
            compiled[char] = (pattern, tuple(tuple(labels_of[alternative]) for alternative in entries))
    return compiled


class PhraseMatcher:
    """Finds which labels' phrases occur in lower-cased text, and the phrases themselves."""

    def __init__(self, phrases_by_label: dict[str, tuple[str, ...]]) -> None:
        self.labels: Final = tuple(phrases_by_label)
        single: dict[str, list[str]] = {}
        multi: list[tuple[str, str]] = []
        for label, fragments in phrases_by_label.items():
            for fragment in fragments:
                for alternative in _top_level_alternatives(fragment):
                    if _is_single_token(alternative):
                        single.setdefault(label, []).append(alternative)
                    else:
                        multi.append((label, alternative.replace(r"\b", "")))
        self._single = [
            (label, re.compile("|".join(f"(?:{a})" for a in alternatives)))
            for label, alternatives in single.items()
        ]
        self._multi = _by_first_char(multi)
        self._token_labels: dict[str, tuple[str, ...]] = {}

    def _labels_of(self, token: str) -> tuple[str, ...]:
        labels = tuple(label for label, pattern in self._single if pattern.fullmatch(token))
        if len(self._token_labels) >= _TOKEN_CACHE_MAX:
            self._token_labels.clear()
        self._token_labels[token] = labels
        return labels

    def find(self, norm: str) -> dict[str, list[str]]:
        """Phrases per label, in order of appearance (may repeat)."""
        found: dict[str, list[str]] = {}
        cache_get = self._token_labels.get
        multi_get = self._multi.get
        for match in _TOKEN.finditer(norm):
            token = match.group()
            bucket = multi_get(token[0])
            if bucket is not None:
                phrase = bucket[0].match(norm, match.start())
                if phrase is not None:
                    text = phrase.group()
                    for label in bucket[1][phrase.lastindex - 1]:
                        if label in found:
                            found[label].append(text)
                        else:
                            found[label] = [text]
            labels = cache_get(token)
            if labels is None:
                labels = self._labels_of(token)
            for label in labels:
                if label in found:
                    found[label].append(token)
                else:
                    found[label] = [token]
        return found


# Decisive phrases first: where two multi-word phrases start at one token, the first listed wins.
_MATCHER: Final = PhraseMatcher(
    {f"s:{domain}": decisive.DECISIVE_PHRASES[domain] for domain in DOMAIN_IDS}
    | {f"d:{domain}": lexicon.DOMAIN_PHRASES[domain] for domain in DOMAIN_IDS}
    | {f"w:{domain}": fragments for domain, fragments in lexicon.WEAK_PHRASES.items()}
    | {f"t:{theme}": fragments for theme, fragments in lexicon.THEME_PHRASES.items()}
)
_THEME_LABELS: Final = tuple((f"t:{theme}", theme) for theme in lexicon.THEME_PHRASES)


def analyse(norm: str) -> tuple[dict[str, list[str]], dict[str, int], list[str]]:
    """One pass over the text: distinct phrases found per domain, how strongly they speak for
    each domain, and the themes named (in lexicon order).

    Strength: ``DECISIVE`` when a ``decisive.py`` phrase is found; ``STRONG`` for two distinct
    lexicon phrases or one multi-word lexicon phrase other than a bare duration ("for 8 hours"
    measures a delay in care as often as a wait); ``WEAK`` for one ambiguous word.
    """
    found = _MATCHER.find(norm)
    if not found:
        return {}, {}, []
    domains: dict[str, list[str]] = {}
    strength: dict[str, int] = {}
    for kind in "sdw":  # decisive phrases first: they are the better evidence
        for label, hits in found.items():
            if label[0] == kind:
                domains.setdefault(label[2:], []).extend(hits)
    for domain, hits in domains.items():
        distinct = list(dict.fromkeys(hits))
        domains[domain] = distinct
        if f"s:{domain}" in found:
            strength[domain] = DECISIVE
        elif len(distinct) >= 2 or any(" " in hit for hit in found.get(f"d:{domain}", ())):
            strength[domain] = STRONG
        else:
            strength[domain] = WEAK
    themes = [theme for label, theme in _THEME_LABELS if label in found]
    return domains, strength, themes


def domain_phrases(norm: str) -> dict[str, list[str]]:
    """Distinct lexicon phrases found per domain (lower-cased text)."""
    return analyse(norm)[0]


def themes(norm: str) -> list[str]:
    """Themes named in the text, in the lexicon's order."""
    return analyse(norm)[2]


def sentiment_evidence(norm: str) -> float:
    """Negation-aware word-list polarity: the sum of +1 / -1 per polar word.

    A polar word flips (at 0.8 strength) when a negator appears in the three tokens before it
    ("not rude", "never listened"); an intensifier just before it counts one and a half times.
    """
    tokens = _SENTIMENT_TOKEN.findall(norm)
    score = 0.0
    for index, token in enumerate(tokens):
        if token in lexicon.POSITIVE_WORDS:
            polarity = 1.0
        elif token in lexicon.NEGATIVE_WORDS:
            polarity = -1.0
        else:
            continue
        if any(word in lexicon.NEGATORS for word in tokens[max(0, index - 3) : index]):
            polarity = -polarity * 0.8
        if index and tokens[index - 1] in lexicon.INTENSIFIERS:
            polarity *= 1.5
        score += polarity
    return score
