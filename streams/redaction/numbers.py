"""NHS numbers and UK phone numbers, however their digits are grouped.

Writers group the same ten or eleven digits every way there is: "943 476 5919", "943.476.5919",
"9 4 3 4 7 6 5 9 1 9", "07700\\n900123", "(07700) 900 123", "+44 (0) 7700 900123". A pattern per
grouping misses the next one, so this is a scanner instead of a regex: it reads the runs of
digits in the detection text once, chains runs separated by at most three joining characters
(space, line break, dash, dot, slash, brackets), and within a chain looks for consecutive runs
whose digits make an NHS number (ten digits passing modulus 11, or any ten digits after an "NHS
number" label) or a UK phone number (0 + nine or ten digits; +44 / 0044 forms). Each start is
tried against at most four end points found by bisection, so the cost is linear in the text.

What keeps clinical and operational numbers safe: runs are never joined across words, commas or
colons (so "BP 140/90, pulse 88", "£1,250,000" and "14:30" are separate runs), a candidate must
be exactly 10-11 digits, dates ("12/03/2019") and references after "Ref", "Datix", "Complaint"
are skipped, and money (£, $, €) and decimals are never a start.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Final

from streams.redaction import patterns as p

_ZEROS: Final = re.compile(rb"00{0,63}")  # a literal first, so the engine's fast search applies
_DIGITS_TO_ZERO: Final = bytes(48 if 48 <= code <= 57 else 32 for code in range(256))
_JOINERS: Final = frozenset(" \t\r\n-./()_")
_MAX_GAP: Final = 3
_NHS_WEIGHTS: Final = (10, 9, 8, 7, 6, 5, 4, 3, 2)
_LOOK_BACK: Final = 40
_WORD_BEFORE: Final = re.compile(r"[A-Za-z]{1,8}$")
# Words that may be glued to a number that is still a phone or NHS number ("tel07700900123").
_GLUED_OK: Final = frozenset({"nhs", "tel", "mob", "ph", "phone", "mobile", "no", "number", "t", "m"})

Span = tuple[str, int, int]


def is_valid_nhs_number(digits: str) -> bool:
    """Modulus-11 check of a 10-digit NHS number (check digit 10 means invalid)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits, _NHS_WEIGHTS, strict=False))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def digit_runs(text: str, raw: bytes | None = None) -> list[tuple[int, int]]:
    """Maximal runs of digits as (start, end), built from bounded matches.

    The detection text's digits are ASCII (normalise.py folds every other script's), so a copy
    with every digit made "0" and every other character a space has the same runs, and there
    the engine jumps from "0" to "0" (a literal) instead of testing every character for a digit.
    ``raw`` is the text already encoded one byte per character (``encode("ascii", "replace")``,
    of the text or of its lower case when that has the same length), else ``text`` is encoded.
    """
    if raw is None:
        raw = text.encode("ascii", "replace")
    zeros = raw.translate(_DIGITS_TO_ZERO)
    runs: list[tuple[int, int]] = []
    if b"0" not in zeros:
        return runs
    for match in _ZEROS.finditer(zeros):
        start, end = match.span()
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end)
        else:
            runs.append((start, end))
    return runs


def _chains(text: str, runs: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """Runs joined by at most three joining characters; only chains that hold 10+ digits."""
    chain: list[tuple[int, int]] = []
    digits = 0
    for run in runs:
        if chain:
            gap = text[chain[-1][1] : run[0]]
            if len(gap) > _MAX_GAP or not all(c in _JOINERS for c in gap):
                if digits >= 10:
                    yield chain
                chain, digits = [], 0
        chain.append(run)
        digits += run[1] - run[0]
    if digits >= 10:
        yield chain


def _blocked(text: str, chain: list[tuple[int, int]]) -> set[int]:
    """Runs that belong to a date (12/03/2019: one separator, 1-2, 1-2, 2 or 4 digits) or a time
    written with a dot (08.30), which are never part of an identifier."""
    blocked: set[int] = set()
    sizes = [end - start for start, end in chain]
    gaps = [text[chain[k][1] : chain[k + 1][0]].strip() for k in range(len(chain) - 1)]
    for k in range(len(chain) - 2):
        one_separator = gaps[k] in ("/", ".", "-") and gaps[k] == gaps[k + 1]
        if one_separator and sizes[k] <= 2 and sizes[k + 1] <= 2 and sizes[k + 2] in (2, 4):
            blocked.update((k, k + 1, k + 2))
    for k in range(len(chain) - 1):
        if gaps[k] == "." and sizes[k] == 2 and sizes[k + 1] == 2:
            hours, minutes = int(text[slice(*chain[k])]), int(text[slice(*chain[k + 1])])
            if hours <= 23 and minutes <= 59:
                blocked.update((k, k + 1))
    return blocked


def _start_allowed(text: str, start: int) -> bool:
    """Money, decimals, thousands and numbers glued to a word are not identifiers."""
    before = text[start - 1 : start]
    if before in ("£", "$", "€"):
        return False
    if before in (".", ",") and text[start - 2 : start - 1].isdigit():
        return False
    if before.isalpha():
        word = _WORD_BEFORE.search(text[max(0, start - 8) : start])
        return word is not None and word.group().lower() in _GLUED_OK
    return True


def _phone_digits(text: str, start: int, digits: str) -> str | None:
    """The national form (0 + 9-10 digits) of a phone candidate, or None when it is not one."""
    plus = text[start - 1 : start] == "+" or text[max(0, start - 2) : start] == "+ "
    if digits.startswith("0044"):
        digits, plus = digits[2:], True
    if plus and not digits.startswith("44"):
        # another country's number ("+1 212 555 0123", "+353 1 234 5678"): E.164 allows 8-15
        return digits if 8 <= len(digits) <= 14 else None
    if plus or (len(digits) == 12 and digits.startswith("44")):
        rest = digits[2:]
        national = rest if rest.startswith("0") else "0" + rest
        return national if len(national) in (10, 11) and national[1] != "0" else None
    if len(digits) in (10, 11) and digits[0] == "0" and digits[1] != "0":
        return digits
    return None


def _classify(text: str, start: int, digits: str, window: str) -> str | None:
    if len(digits) == 10:
        if is_valid_nhs_number(digits):
            return "nhs_number"
        if p.NHS_LABEL_BEFORE.search(window):
            # a mistyped NHS number after its label still points at a person
            return "nhs_number"
    if _phone_digits(text, start, digits) is not None:
        return "phone"
    return None


def _extend(text: str, start: int, end: int) -> tuple[int, int]:
    """Take in a leading "+" or "(" and a closing ")" that belong to the number."""
    if text[start - 1 : start] in ("+", "("):
        start -= 1
    elif text[max(0, start - 2) : start] == "+ ":
        start -= 2
    inside = text[start:end]
    if inside.count("(") > inside.count(")") and text[end : end + 1] == ")":
        end += 1
    return start, end


def find_numbers(text: str, runs: list[tuple[int, int]] | None = None) -> list[Span]:
    """(kind, start, end) of every NHS and phone number in the detection text ``text``.

    ``runs`` are ``digit_runs(text)`` when the caller has them already.
    """
    found: list[Span] = []
    for chain in _chains(text, digit_runs(text) if runs is None else runs):
        blocked = _blocked(text, chain)
        next_blocked = [len(chain)] * (len(chain) + 1)
        for k in range(len(chain) - 1, -1, -1):
            next_blocked[k] = k if k in blocked else next_blocked[k + 1]
        counts = [0]
        for start, end in chain:
            counts.append(counts[-1] + end - start)
        chain_digits = "".join(text[start:end] for start, end in chain)
        first = 0
        while first < len(chain):
            start = chain[first][0]
            best: tuple[str, int] | None = None
            if first not in blocked and _start_allowed(text, start):
                window = text[max(0, start - _LOOK_BACK) : start]
                # the ends whose digit total is 10-14 ("0044 (0) 7700 900123" has 14)
                low = bisect_left(counts, counts[first] + 10)
                for stop in range(low, min(len(counts), low + 5)):
                    if counts[stop] - counts[first] > 14 or stop - 1 >= next_blocked[first]:
                        break
                    kind = _classify(text, start, chain_digits[counts[first] : counts[stop]], window)
                    if kind:
                        best = (kind, stop - 1)
                if best is not None and p.REFERENCE_BEFORE.search(window):
                    best = None
            if best is None:
                first += 1
                continue
            kind, last = best
            found.append((kind, *_extend(text, start, chain[last][1])))
            first = last + 1
    return found
