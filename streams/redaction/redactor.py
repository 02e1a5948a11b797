"""Replace personal data in free text with fixed markers and count what was replaced.

Order matters: labelled identifiers (MRN, NHS number) go before bare number patterns so a
hospital number is not mistaken for a phone; e-mail goes first so its digits are gone before
the number patterns look. Names go last because their cues (titles, sign-offs) never contain
digits. Clinical numbers (ward 7, bed 12, BP 140/90, INR 2.5, 10mg, £25, 2019, 111, 999) are
safe because every numeric pattern needs 10+ digits, a postcode shape, or a label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from streams.redaction import patterns as p

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

_NHS_WEIGHTS: Final = (10, 9, 8, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True, slots=True)
class Redaction:
    """Redacted text and how many items of each kind were replaced (only non-zero kinds)."""

    text: str
    counts: dict[str, int] = field(default_factory=dict)


def is_valid_nhs_number(digits: str) -> bool:
    """Modulus-11 check of a 10-digit NHS number (check digit 10 means invalid)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits, _NHS_WEIGHTS, strict=False))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _uk_phone_digits(candidate: str) -> str:
    """Normalise a phone candidate to national form (leading 0) for the length check."""
    digits = re.sub(r"\D", "", candidate)
    stripped = candidate.lstrip("(")
    if stripped.startswith("+"):
        digits = digits[2:]
    elif stripped.startswith("00"):
        digits = digits[4:]
    else:
        return digits
    return digits if digits.startswith("0") else "0" + digits


class _Counter:
    """Counts replacements per kind during one ``redact`` call."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return MARKERS[kind]


def _name_words(run: str) -> list[str]:
    """The leading words of ``run`` that can be a name (stop at the first ordinary word)."""
    words: list[str] = []
    for word in run.split():
        is_initial = len(word) == 2 and word.endswith(".")
        if not is_initial and word.rstrip(".").lower() in p.NOT_NAMES:
            break
        words.append(word)
    return words


def _replace_name(match: re.Match[str], counter: _Counter, weak_cue: bool = False) -> str:
    run = match.group("name")
    words = _name_words(run)
    if not words:
        return match.group(0)
    if weak_cue:
        # "Thanks, Great service" is not a sign-off: the name must end the line or clause.
        rest = match.string[match.end("name") :]
        if len(words) == len(run.split()) and rest[:1] not in ("", "\n", "\r", ",", ".", "!"):
            return match.group(0)
    # Keep the remainder of the run (the ordinary words after the name) verbatim.
    kept = run
    for word in words:
        kept = kept[kept.index(word) + len(word) :]
    return match.group("title") + counter.add("name") + kept


def _sign_off(match: re.Match[str], counter: _Counter) -> str:
    cue = match.group("title").strip().rstrip(",.-–").strip().lower()
    cue = re.sub(r"\s+", " ", cue)
    weak = cue in p.SIGN_OFF_WEAK
    if weak and "," not in match.group("title") and "\n" not in match.group("title"):
        return match.group(0)
    return _replace_name(match, counter, weak_cue=weak)


def _first_name(match: re.Match[str], counter: _Counter) -> str:
    following = match.string[match.end() : match.end() + 40].split(None, 1)
    if following and following[0].strip(".,;:!?").lower() in p.PLACE_WORDS:
        return match.group(0)
    words = match.group("name").split()
    if len(words) == 2 and (words[1].lower() in p.NOT_NAMES or words[1].lower() in p.PLACE_WORDS):
        # "Sarah Ward", "Rachel The ..." — keep the second word, redact the first name only.
        if words[1].lower() in p.PLACE_WORDS:
            return match.group(0)
        return counter.add("name") + match.group(0)[len(words[0]) :]
    return counter.add("name")


def _hospital_number(match: re.Match[str], counter: _Counter) -> str:
    if sum(ch.isdigit() for ch in match.group("id")) < 4:
        return match.group(0)
    return match.group("label") + counter.add("hospital_number")


def _nhs_labelled(match: re.Match[str], counter: _Counter) -> str:
    # With an "NHS number" label a 10-digit number is redacted even if the check digit fails:
    # a mistyped NHS number still points at a person.
    return match.group("label") + counter.add("nhs_number")


def _nhs_bare(match: re.Match[str], counter: _Counter) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if is_valid_nhs_number(digits):
        return counter.add("nhs_number")
    if digits.startswith("0"):
        # Not an NHS number, but 10 digits starting 0 is a UK phone number.
        return counter.add("phone")
    return match.group(0)


def _phone(match: re.Match[str], counter: _Counter) -> str:
    digits = _uk_phone_digits(match.group(0))
    if len(digits) in (10, 11) and digits.startswith("0"):
        return counter.add("phone")
    return match.group(0)


def _dob(match: re.Match[str], counter: _Counter) -> str:
    return match.group("label") + counter.add("dob")


def _postcode(match: re.Match[str], counter: _Counter) -> str:
    found = match.group(0)
    if not found.isupper():
        inward_letters = found[-2:].lower()
        # "Q1 2nd", "T2 3rd" in lower or mixed case are ordinals, not postcodes; an unspaced
        # lower-case token is too ambiguous to call a postcode.
        if inward_letters in p.ORDINAL_SUFFIXES or not match.group("space"):
            return match.group(0)
    return counter.add("postcode")


def _address(match: re.Match[str], counter: _Counter) -> str:
    if p.ADDRESS_NOT_AFTER.search(match.string, max(0, match.start() - 20), match.start()):
        return match.group(0)
    return counter.add("address")


_Step = tuple[re.Pattern[str], Callable[[re.Match[str], _Counter], str], str | None]

# (pattern, replacement, quick gate: skip the pattern when this character set is absent)
_STEPS: Final[tuple[_Step, ...]] = (
    (p.EMAIL, lambda m, c: c.add("email"), "@"),
    (p.HOSPITAL_NUMBER, _hospital_number, "digit"),
    (p.NHS_LABELLED, _nhs_labelled, "digit"),
    (p.DOB, _dob, "digit"),
    (p.NHS_BARE, _nhs_bare, "digit"),
    (p.PHONE, _phone, "digit"),
    (p.POSTCODE, _postcode, "digit"),
    (p.ADDRESS, _address, "digit"),
    (p.TITLE_NAME, _replace_name, None),
    (p.TITLE_LOWER_NAME, _replace_name, None),
    (p.SELF_INTRO, _replace_name, None),
    (p.I_AM, _replace_name, None),
    (p.RELATIVE, _replace_name, None),
    (p.SIGN_OFF, _sign_off, None),
    (p.FIRST_NAME, _first_name, None),
)

_HAS_DIGIT: Final = re.compile(r"\d")


def redact(text: str) -> Redaction:
    """Return ``text`` with personal data replaced by markers such as ``[NHS_NUMBER]``."""
    counter = _Counter()
    has_digit = _HAS_DIGIT.search(text) is not None
    has_at = "@" in text
    for pattern, replace, gate in _STEPS:
        if (gate == "digit" and not has_digit) or (gate == "@" and not has_at):
            continue
        text = pattern.sub(lambda m, r=replace: r(m, counter), text)
    return Redaction(text=text, counts=counter.counts)
