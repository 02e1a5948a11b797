"""Name normalisation: how "St James's University Hospital" and "st james university" meet.

Every name (ODS names arrive in capitals, aliases as people type them, free text as people
write it) goes through the same `tokens()` function, so matching is a lookup, not a fuzzy
comparison. Keys that consist only of generic words ("Royal Hospital", "The Surgery",
"City") are never used for free-text mentions: they would fire on ordinary sentences.
"""

from __future__ import annotations

import re
from typing import Final

# Possessive "'s" is dropped ("Addenbrooke's" -> addenbrooke); `variants()` also keeps the
# run-together spelling ("addenbrookes") so both ways people write it match.
_POSSESSIVE: Final = re.compile(r"['’`]s\b")
_APOSTROPHE: Final = re.compile(r"['’`]")
_SEPARATORS: Final = re.compile(r"[\W_]+")
_SYNONYMS: Final[dict[str, str]] = {"st": "saint", "&": "and"}

# Organisational suffixes stripped (repeatedly, longest first) to form the short names people use.
_SUFFIXES: Final[tuple[tuple[str, ...], ...]] = (
    ("nhs", "foundation", "trust"),
    ("foundation", "trust"),
    ("nhs", "trust"),
    ("nhs",),
    ("university", "hospitals"),
    ("university", "hospital"),
    ("hospitals",),
    ("hospital",),
)


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Words that on their own (or only in each other's company) name nothing in particular.
GENERIC_WORDS: Final[frozenset[str]] = _words(
    """
    a an and the of in on at for to by with from my our your their his her its this that these those
    is was are were be been it i we you they he she me us them not no yes all any some very good bad
    nhs trust foundation hospital hospitals health healthcare care service services centre center
    medical surgery practice practices clinic clinics group partnership partners family doctors
    doctor dr gp gps community mental general royal district county city town village new old
    north south east west northern southern eastern western central upper lower great little
    university teaching infirmary unit ward wards site main road street lane avenue drive park
    green hill house court place square way close view bridge market station lodge grange manor
    farm field fields valley bay cross end gate well wells saint church chapel abbey queen queens
    king kings princess prince victoria memorial children childrens women womens maternity eye
    dental head office primary secondary acute specialist trusts branch annex annexe building
    block wing floor level first second third one two three
    """
)

# Common English words that must never be a one-word mention, even when a curated alias says so.
COMMON_WORDS: Final[frozenset[str]] = GENERIC_WORDS | _words(
    """
    about after again also always because before best better big both but came can come could day
    days did do does done down each even every feel felt get got great had has have help here how
    into just know last like long look made make many more most much must never next night now
    only other out over people really right said same saw see should since still such take than
    then there thing things think time told too under until up use want way well went what when
    where which while who why will work would year years
    """
)


def tokens(text: str) -> list[str]:
    """Lower-case words with punctuation, possessives and "St"/"&" spellings made uniform."""
    lowered = _POSSESSIVE.sub("", text.casefold().replace("&", " and "))
    lowered = _APOSTROPHE.sub("", lowered)
    return [_SYNONYMS.get(word, word) for word in _SEPARATORS.split(lowered) if word]


def variants(name: str) -> set[tuple[str, ...]]:
    """The spellings of one name as token tuples: possessive dropped, and run together."""
    together = _APOSTROPHE.sub("", name)
    return {key for key in (tuple(tokens(name)), tuple(tokens(together))) if key}


def without_suffixes(key: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Shorter forms people use: "leeds teaching hospitals nhs trust" -> ... -> "leeds teaching"."""
    start = key[1:] if key[:1] == ("the",) and len(key) > 1 else key
    forms: list[tuple[str, ...]] = [start] if start != key else []
    pending = [start]
    while pending:
        current = pending.pop()
        for suffix in _SUFFIXES:
            if len(current) > len(suffix) and current[-len(suffix) :] == suffix:
                shorter = current[: -len(suffix)]
                if shorter not in forms:
                    forms.append(shorter)
                    pending.append(shorter)
    return forms


def is_distinctive(key: tuple[str, ...]) -> bool:
    """True when a key names something particular: not only generic words, not a common word."""
    if not key or all(word in GENERIC_WORDS for word in key):
        return False
    if len(key) == 1:
        word = key[0]
        return len(word) >= 3 and word not in COMMON_WORDS and not word.isdigit()
    return True


def ward_key(name: str) -> tuple[str, ...]:
    """Ward names compared without the word "ward": "Ward 12" = "12", "Ash Ward" = "ash"."""
    key = tuple(tokens(name))
    trimmed = tuple(word for word in key if word != "ward")
    return trimmed or key
