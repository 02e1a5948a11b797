"""Replace personal data in free text with fixed markers and count what was replaced.

The text is folded once for detection (normalise.py), every detector reports spans of the
detection text, spans are accepted in priority order (an identifier with a label, such as
"MRN" or "DOB", before bare numbers; numbers before postcodes and addresses; names last), a
span that overlaps one already accepted is dropped, and the accepted spans are mapped back and
replaced in the original text. Nothing is substituted until the end, so no detector ever reads
another's marker, and the output keeps the writer's own characters everywhere else.

Every detector is linear-time by construction (bounded patterns, one-pass scanners), so the
whole call is O(length of the text): docs/redaction.md, tests/unit/test_redaction_linear.py.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from string import ascii_lowercase
from typing import Final

from streams.redaction import patterns as p
from streams.redaction.names import GATE_WORDS, find_names
from streams.redaction.normalise import normalise
from streams.redaction.numbers import Span, digit_runs, find_numbers, is_valid_nhs_number
from streams.redaction.windows import around, bounds, finditer_near, match_at, merge

MARKERS: Final[dict[str, str]] = {
    "nhs_number": "[NHS_NUMBER]",
    "phone": "[PHONE]",
    "email": "[EMAIL]",
    "postcode": "[POSTCODE]",
    "dob": "[DOB]",
    "address": "[ADDRESS]",
    "hospital_number": "[HOSPITAL_NUMBER]",
    "name": "[NAME]",
}

__all__ = ["MARKERS", "Redaction", "is_valid_nhs_number", "redact", "redact_label"]


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text and how many items of each kind were replaced (only non-zero kinds)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class _Text:
    """The detection text and what the gates need to know about it, worked out once."""

    text: str
    words: frozenset[str]  # its lower-case words that some gate asks about (_GATE_WORDS)
    lower: bytes | None  # text.lower() one byte per character (non-ASCII: "?"), when positions agree
    digit_runs: list[tuple[int, int]]  # maximal runs of digits
    label: bool  # a label a source chose (ward, site), not free text: see redact_label

    @classmethod
    def of(cls, text: str, *, label: bool) -> _Text:
        lower = text.lower()
        # one byte per character: non-ASCII becomes "?", which is neither a digit nor a letter
        raw = lower.encode("ascii", "replace")
        # the words: runs of a-z, found by C string methods (anything else, the apostrophe too,
        # splits them, so "'Dr Smith'" and "o'mr jones" give "dr" and "mr")
        kept = raw.translate(_NOT_LETTER_TO_SPACE)
        # only the words some gate asks about are kept: a letter has hundreds of words, and a
        # set of all of them cost more than every detector's work on most letters
        words = _GATE_WORDS.intersection(kept.decode("ascii").split())
        if b"'" in raw and (spelt_with_apostrophes := _whole_words_with_apostrophes(raw)):
            words = words.union(spelt_with_apostrophes)
        same_positions = len(lower) == len(text)
        runs = digit_runs(text, raw if same_positions else None)
        return cls(text, words, raw if same_positions else None, runs, label)

    def near_digits(
        self, pattern: re.Pattern[str], runs: list[tuple[int, int]] | None = None
    ) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)`` for a pattern whose every match holds a digit (windows.py),
        or holds one of ``runs`` when the caller knows that only those can be part of a match."""
        limits = bounds(pattern)
        starts = merge(around(self.digit_runs if runs is None else runs, limits.width), len(self.text))
        return finditer_near(pattern, self.text, starts, limits.reach)

    def before_digits(
        self, pattern: re.Pattern[str], group: str, labels: re.Pattern[bytes] | None = None
    ) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)`` for a pattern whose every match has ``group`` end right before
        a digit that starts a run (the label of "MRN 1234567" before its number).

        A match then starts at most ``bounds(pattern, group).lead`` characters before the start of
        a run of digits, a much narrower window than the widest match before any digit (38
        characters instead of 103 for a labelled hospital number). ``labels``, when given, match
        (in the lower case) what every match starts with: the pattern is then tried only where one
        of them starts in a window (overlapping ones too), found by a search of a few dozen bytes,
        not at every position of the window and of the ``reach`` after it.
        """
        limits = bounds(pattern, group)
        windows = merge(((first - limits.lead, first + 1) for first, _ in self.digit_runs), len(self.text))
        lower = self.lower
        if labels is None or lower is None:
            return finditer_near(pattern, self.text, windows, limits.reach)
        longest = bounds(labels).width
        starts = []
        for first, stop in windows:
            end = stop + longest - 1  # a label that starts before ``stop`` ends before this
            found = labels.search(lower, first, end)
            while found is not None and found.start() < stop:
                starts.append(found.start())
                found = labels.search(lower, found.start() + 1, end)
        return match_at(pattern, self.text, starts)

    def at_house_numbers(self, pattern: re.Pattern[str]) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)`` for the address patterns, tried only where they can start.

        Both start with ``\\d{1,4}[A-Za-z]?,?\\s`` so a match takes its run of digits to the run's
        end, and the run is followed by a letter, a comma or a space: it can only start among the
        last four digits of such a run (most runs, in dates, times and amounts, are not). What
        follows the digits is the same from each of those four starts, so either the first of them
        matches (and a scan resumes after the match, past the other three) or none does: only the
        first is tried.
        """
        text = self.text
        starts = []
        for first, end in self.digit_runs:
            after = text[end : end + 1]
            if after.isalpha() or after.isspace() or after == ",":
                starts.append(max(first, end - 4))
        return match_at(pattern, text, starts)


def _whole_words_with_apostrophes(raw: bytes) -> list[str]:
    """The gate words spelt with an apostrophe ("i'm") that stand as a whole word, a run of a-z
    and apostrophes, in the lower-cased text: the words above are split at apostrophes too."""
    found = []
    for word in _GATE_WORDS_WITH_APOSTROPHES:
        literal = word.encode("ascii")
        at = raw.find(literal)
        while at >= 0:
            end = at + len(literal)
            if raw[at - 1 : at] not in _WORD_BYTES and raw[end : end + 1] not in _WORD_BYTES:
                found.append(word)
                break
            at = raw.find(literal, at + 1)
    return found


# Every word a gate asks about ("at" and "dot" for written-out e-mail addresses).
_GATE_WORDS: Final = frozenset().union({"at", "dot"}, p.HOSPITAL_GATE, p.DOB_GATE, p.STREET_TYPES, GATE_WORDS)

# bytes: a-z stay (the text is lower-cased already), everything else splits words
_NOT_LETTER_TO_SPACE: Final = bytes(code if chr(code) in ascii_lowercase else 32 for code in range(256))
_GATE_WORDS_WITH_APOSTROPHES: Final = tuple(sorted(word for word in _GATE_WORDS if not word.isalpha()))
# what continues a word spelt with an apostrophe: a letter or another apostrophe (b"" at either end)
_WORD_BYTES: Final = frozenset(bytes([code]) for code in b"abcdefghijklmnopqrstuvwxyz'")


def _emails(source: _Text) -> list[Span]:
    text = source.text
    written_out = "at" in source.words and ("dot" in source.words or p.EMAIL_DOTTED.search(text))
    if "@" not in text and not written_out:
        return []
    spans: list[Span] = []
    for match in p.EMAIL.finditer(text):
        if match.group("word_at"):
            # " at " written out: only with a mail domain, and a local part that is not a plain word
            labels = [label.lower() for label in _labels(match.group("domain"))]
            local = match.group("local")
            plain_word = local.isalpha() and len(_labels(local)) == 1
            if labels[-1] not in p.MAIL_TLDS or (plain_word and ".".join(labels) not in p.WEBMAIL):
                continue
        spans.append(("email", match.start(), match.end()))
    return spans


def _labels(written: str) -> list[str]:
    """The labels of a domain or local part however its dots were written."""
    cleaned = written
    for token in ("[", "]", "(", ")", "{", "}", "<", ">"):
        cleaned = cleaned.replace(token, " ")
    words = cleaned.replace(".", " ").split()
    return [word for word in words if word.lower() != "dot"]


def _hospital_labelled(source: _Text) -> list[Span]:
    if source.words.isdisjoint(p.HOSPITAL_GATE):
        return []
    spans: list[Span] = []
    for match in source.before_digits(p.HOSPITAL_LABELLED, "id_start", p.HOSPITAL_LABELS):
        if sum(ch.isdigit() for ch in match.group("id")) >= 4:
            spans.append(("hospital_number", match.start("id"), match.end("id")))
    return spans


def _hospital_bare(source: _Text) -> list[Span]:
    text = source.text
    if all(end - start < 6 for start, end in source.digit_runs):
        return []
    spans: list[Span] = []
    for match in source.near_digits(p.HOSPITAL_BARE):
        letters = match.group("letters")
        if letters.lower() in p.NOT_HOSPITAL_PREFIX:
            continue
        if match.group("space") and not letters.isupper():
            continue  # "on 123456", "at 1234567": a word, then a number
        if p.REFERENCE_BEFORE.search(text, max(0, match.start() - 30), match.start()):
            continue
        spans.append(("hospital_number", match.start(), match.end()))
    return spans


def _dates_of_birth(source: _Text) -> list[Span]:
    if source.words.isdisjoint(p.DOB_GATE):
        return []
    return [("dob", m.start("date"), m.end("date")) for m in source.near_digits(p.DOB)]


def _inward_code_runs(source: _Text) -> list[tuple[int, int]]:
    """The runs of digits a postcode can hold: every match ends with its inward code, a digit
    followed by two letters ("4AB", "0AA"), and that digit ends its run. Most runs (dates, times,
    amounts) are not followed by two letters, so their windows are never scanned."""
    text = source.text
    return [(first, end) for first, end in source.digit_runs if text[end : end + 2].isalpha()]


def _postcodes(source: _Text) -> list[Span]:
    text = source.text
    spans: list[Span] = []
    for match in source.near_digits(p.POSTCODE, _inward_code_runs(source)):
        found = match.group(0)
        if not found.isupper() and found[-2:].lower() in p.ORDINAL_SUFFIXES:
            continue  # "T2 3rd level", "q1 2nd floor": ordinals, not postcodes
        if p.PLACE_CODE_BEFORE.search(text, max(0, match.start() - 24), match.start()):
            continue  # "ward E11 2AB": a ward code shaped like a postcode
        if source.label and found == text.strip():
            continue  # a ward or site field holding only a postcode-shaped code
        spans.append(("postcode", match.start(), match.end()))
    return spans


def _is_year(number: str) -> bool:
    return len(number) == 4 and number.isdigit() and 1800 <= int(number) <= 2099


def _address_words_fit(words: list[str], street_type: str) -> bool:
    """Capitalised or upper-case street names; lower case only with an unambiguous street type."""
    every = [*words, street_type]
    if all(word[:1].isupper() for word in every):
        return all(word.lower() not in p.NOT_STREET_WORDS or word.lower() == "the" for word in words)
    if street_type.lower() not in p.LOWER_STREET_TYPES:
        return False
    if words and words[0].lower() == "the":
        return len(words) == 1
    return bool(words) and all(word.lower() not in p.NOT_STREET_WORDS for word in words)


def _house_number_starts(text: str, start: int) -> bool:
    before = text[start - 1 : start]
    return not (before.isalnum() or before in p.NUMBER_NOT_AFTER)


def _addresses(source: _Text) -> list[Span]:
    text = source.text
    spans: list[Span] = []
    street_words = not source.words.isdisjoint(p.STREET_TYPES)
    for match in source.at_house_numbers(p.ADDRESS) if street_words else ():
        start = match.start()
        words = match.group("words").split()
        if not _house_number_starts(text, start) or _is_year(match.group("number")):
            continue
        if not _address_words_fit(words, match.group("type")) or not words:
            continue  # "12 Street" alone is not an address
        flat = p.FLAT_BEFORE.search(text, max(0, start - 24), start)
        if flat:
            start = flat.start()
        elif p.ADDRESS_NOT_AFTER.search(text, max(0, start - 24), start):
            continue
        spans.append(("address", start, match.end()))
    for match in source.at_house_numbers(p.ADDRESS_ONE_WORD):
        start = match.start()
        if (
            not _house_number_starts(text, start)
            or _is_year(match.group("number"))
            or p.ADDRESS_NOT_AFTER.search(text, max(0, start - 24), start)
        ):
            continue
        spans.append(("address", start, match.end()))
    return spans


def _names(source: _Text) -> list[Span]:
    return find_names(source.text, source.words, first_names=not source.label, lower=source.lower)


_Detector = Callable[[_Text], list[Span]]
# Priority order: a span overlapping one found by an earlier detector is dropped.
_PRIORITY: Final[tuple[tuple[_Detector, bool], ...]] = (
    (_emails, False),
    (_hospital_labelled, True),
    (_dates_of_birth, True),
    (lambda source: find_numbers(source.text, source.digit_runs), True),
    (_hospital_bare, True),
    (_postcodes, True),
    (_addresses, True),
    (_names, False),
)
# (whether each needs a digit: a text without one skips those detectors in one test, not six)
_DETECTORS: Final = tuple(detect for detect, _ in _PRIORITY)
_DETECTORS_WITHOUT_DIGITS: Final = tuple(detect for detect, needs_digit in _PRIORITY if not needs_digit)


class _Accepted:
    """Non-overlapping spans, kept sorted by start so each overlap test is a bisection."""

    __slots__ = ("ends", "kinds", "starts")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        self.kinds: list[str] = []

    def add(self, kind: str, start: int, end: int) -> None:
        at = bisect_left(self.starts, start)
        if at > 0 and self.ends[at - 1] > start:
            return
        if at < len(self.starts) and self.starts[at] < end:
            return
        self.starts.insert(at, start)
        self.ends.insert(at, end)
        self.kinds.insert(at, kind)


def redact(text: str) -> Redaction:
    """Return ``text`` with personal data replaced by markers such as ``[NHS_NUMBER]``."""
    return _redact(text, label=False)


def redact_label(text: str) -> Redaction:
    """Redact a short label a source chose (a ward, a site, an attribute name, a category code).

    The same detectors as ``redact`` except a common first name with no cue, and a label that
    is nothing but a postcode-shaped code: wards and sites are often named after people
    ("Victoria", "Elizabeth Ward") or coded ("E11 2AB"), and those are not personal data, while
    a title or role with a name ("Mrs Smith's bay"), a phone or NHS number, an e-mail or a
    postcode within a longer label is (docs/redaction.md, "Per field").
    """
    return _redact(text, label=True)


def _redact(text: str, *, label: bool) -> Redaction:
    # ASCII text, most feedback, is its own detection text: no folding, no position map
    folded = None if text.isascii() else normalise(text)
    source = _Text.of(text if folded is None else folded.text, label=label)
    # every detector's spans in priority order (most feedback has none: nothing more to do)
    found = [
        span
        for detect in (_DETECTORS if source.digit_runs else _DETECTORS_WITHOUT_DIGITS)
        for span in detect(source)
    ]
    if not found:
        return Redaction(text, {})
    accepted = _Accepted()
    for kind, start, end in found:
        if end > start:
            accepted.add(kind, start, end)
    if not accepted.starts:
        return Redaction(text, {})
    pieces: list[str] = []
    counts: dict[str, int] = {}
    done = 0
    for kind, start, end in zip(accepted.kinds, accepted.starts, accepted.ends, strict=True):
        original_start, original_end = (start, end) if folded is None else folded.span(start, end)
        pieces.append(text[done:original_start])
        pieces.append(MARKERS[kind])
        counts[kind] = counts.get(kind, 0) + 1
        done = original_end
    pieces.append(text[done:])
    return Redaction("".join(pieces), counts)
