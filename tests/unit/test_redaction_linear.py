"""Hostile input is normal input: every event goes through validate → redact → tag in under a
second at the maximum sizes, whatever its text, ward, site or attributes hold.

Each generator builds text meant to stress one pattern family: a label followed by a long run
of whitespace, the same label repeated, long runs of digits or letters, separators nested
between digit groups, invisible characters. A super-linear pattern shows up as seconds or
minutes here (it did: ≈1 s at 4,000 characters, minutes at 100,000 before docs/redaction.md's
rewrite); a linear one takes milliseconds.
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # the parser's own names for repeat nodes
import re._parser as sre_parser
import time
from datetime import UTC, datetime
from types import ModuleType
from typing import Any, NamedTuple

import orjson
import pytest

from streams.pipeline import Pipeline, RawRecord
from streams.redaction import names, normalise, numbers, patterns, redact

MAX_TEXT = 100_000


class Hostile(NamedTuple):
    """A text built to make one pattern family backtrack: prefix, unit repeated, suffix."""

    unit: str
    prefix: str = ""
    suffix: str = ""

    def build(self, size: int = MAX_TEXT) -> str:
        body = size - len(self.prefix) - len(self.suffix)
        return self.prefix + (self.unit * (body // len(self.unit) + 1))[:body] + self.suffix


HOSTILE: dict[str, Hostile] = {
    # a label, then a long run of whitespace, then a digit (so the digit-only patterns run too)
    "nhs_then_spaces": Hostile(" ", prefix="NHS", suffix="1"),
    "nhs_then_newlines": Hostile("\n", prefix="NHS number", suffix="12"),
    "nhs_then_mixed_whitespace": Hostile(" \n", prefix="NHS", suffix="123 456"),
    "dob_then_spaces": Hostile(" ", prefix="DOB", suffix="1"),
    "dob_then_mixed_whitespace": Hostile(" \n", prefix="D.O.B", suffix="12"),
    "date_of_birth_then_mixed_whitespace": Hostile(" \n", prefix="date of birth", suffix="1st of"),
    "born_then_spaces": Hostile(" ", prefix="born", suffix="1"),
    "born_then_mixed_whitespace": Hostile(" \n", prefix="born", suffix="1"),
    "thanks_then_spaces": Hostile(" ", prefix="Thanks,", suffix="x"),
    "thanks_then_newlines": Hostile("\n", prefix="Thanks,", suffix="x1"),
    "thanks_then_mixed_whitespace": Hostile(" \t\r\n", prefix="Thanks,", suffix="x1"),
    "mrn_then_spaces": Hostile(" ", prefix="MRN", suffix="x1"),
    "hospital_number_then_mixed_whitespace": Hostile(" \n", prefix="hospital number", suffix="1"),
    "name_is_then_spaces": Hostile(" ", prefix="my name is", suffix="1"),
    "dr_then_spaces": Hostile(" ", prefix="Dr", suffix="1"),
    "email_at_then_spaces": Hostile(" ", prefix="jo at", suffix="x1"),
    "nbsp_run": Hostile("\u00a0", prefix="NHS", suffix="x"),
    "zero_width_run": Hostile("\u200b", prefix="07700", suffix="x"),
    "soft_hyphen_run": Hostile("\u00ad", prefix="DOB 12", suffix="x"),
    # the same label over and over
    "repeated_nhs": Hostile("NHS "),
    "repeated_nhs_number_is": Hostile("NHS number is "),
    "repeated_dob": Hostile("DOB: "),
    "repeated_born_on_the": Hostile("born on the "),
    "repeated_date_of_birth": Hostile("date of birth 1st of "),
    "repeated_thanks": Hostile("Thanks, "),
    "repeated_yours_sincerely": Hostile("Yours sincerely,\n"),
    "repeated_titles": Hostile("Dr Mr Mrs "),
    "repeated_dotted_titles": Hostile("Dr.Mr.Mrs."),
    "repeated_name_is": Hostile("my name is "),
    "repeated_sister": Hostile("Sister Matron "),
    "repeated_hospital_number": Hostile("hospital number "),
    "repeated_mrn": Hostile("MRN: "),
    "repeated_at_dot": Hostile("a at b dot "),
    "repeated_bracket_at": Hostile("a[at]b[dot]"),
    "repeated_flat": Hostile("Flat 1, "),
    # long runs of one character class
    "digits": Hostile("1"),
    "zeros": Hostile("0"),
    "fullwidth_digits": Hostile("\uff11"),
    "arabic_digits": Hostile("\u0661"),
    "letters_lower": Hostile("a"),
    "letters_upper": Hostile("A"),
    "capitalised_words": Hostile("Smith "),
    "first_names": Hostile("Sarah "),
    "accented_words": Hostile("Zoë "),
    "word_chars_then_at": Hostile("a", suffix="@"),
    "dotted_local_part": Hostile("a."),
    "at_signs": Hostile("a@"),
    "domain_labels": Hostile("a@b.", suffix="c"),
    # separators nested between digit groups
    "spaced_digits": Hostile("1 "),
    "dashed_digits": Hostile("1-"),
    "dotted_digits": Hostile("1."),
    "slashed_digits": Hostile("12/"),
    "mixed_separators": Hostile("1 - 1 ./ "),
    "parenthesised_groups": Hostile("(0) 1 "),
    "plus_44": Hostile("+44 "),
    "digit_newline": Hostile("1\n"),
    "digit_zero_width": Hostile("1\u200b"),
    "digit_soft_hyphen": Hostile("1\u00ad"),
    # shapes of the other identifiers
    "postcode_shapes": Hostile("LS1 "),
    "postcode_halves": Hostile("A1 1"),
    "house_number_words": Hostile("Acacia ", prefix="12 "),
    "house_numbers": Hostile("12 Aa "),
    "lower_street_words": Hostile("acacia ", prefix="12 "),
    "mac_prefixes": Hostile("Mac", prefix="Dr "),
    "o_apostrophes": Hostile("O'", prefix="Dr "),
    "van_der": Hostile("van der ", prefix="Dr "),
    "letter_digit_ids": Hostile("K1"),
    "month_names": Hostile("March ", prefix="DOB "),
    # every character different, so no per-character cache helps the folding
    "distinct_code_points": Hostile(
        "".join(c for c in map(chr, range(0xA0, 0x30000)) if c.isprintable())[:MAX_TEXT]
    ),
    "ordinals": Hostile("1st of "),
}

# --- by construction: no pattern of the redactor has an unbounded repetition -----------------

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT}


def _unbounded(tree: Any) -> list[str]:
    """Unbounded repeats anywhere in a parsed pattern (``*``, ``+``, ``{n,}``)."""
    found: list[str] = []
    items = tree.data if isinstance(tree, sre_parser.SubPattern) else tree
    for op, arg in items:
        if op in _REPEATS:
            low, high, body = arg
            if high == sre_constants.MAXREPEAT:
                found.append(f"{op} {{{low},}}")
            found.extend(_unbounded(body))
        elif op is sre_constants.SUBPATTERN:
            found.extend(_unbounded(arg[-1]))
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                found.extend(_unbounded(branch))
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            found.extend(_unbounded(arg[1]))
        elif op is sre_constants.ATOMIC_GROUP:
            found.extend(_unbounded(arg))
        elif op is sre_constants.GROUPREF_EXISTS:
            found.extend(_unbounded(arg[1]))
            if arg[2] is not None:
                found.extend(_unbounded(arg[2]))
    return found


def _compiled(module: ModuleType) -> dict[str, re.Pattern[str]]:
    return {f"{module.__name__}.{k}": v for k, v in vars(module).items() if isinstance(v, re.Pattern)}


ALL_PATTERNS = {
    name: pattern
    for module in (patterns, names, numbers, normalise)
    for name, pattern in _compiled(module).items()
}


def test_the_redactor_has_patterns_to_check() -> None:
    assert len(ALL_PATTERNS) >= 20


@pytest.mark.parametrize("name", sorted(ALL_PATTERNS))
def test_every_repetition_in_every_pattern_is_bounded(name: str) -> None:
    pattern = ALL_PATTERNS[name]
    assert _unbounded(sre_parser.parse(pattern.pattern, pattern.flags)) == [], name


def test_the_bound_check_catches_an_unbounded_pattern() -> None:
    assert _unbounded(sre_parser.parse(r"\bNHS\s*(?:no)?(?:a|b+)")) != []
    assert _unbounded(sre_parser.parse(r"\bNHS\s{0,3}(?:no)?(?:a|b{1,2}+)")) == []


# --- by measurement: hostile text at the maximum size -----------------------------------------

_EVENT = {"event_id": "hostile", "source": "complaint", "occurred_at": "2025-03-01T10:00:00Z"}
_NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.default(clock=lambda: _NOW)


def test_every_hostile_text_is_the_maximum_size() -> None:
    for name, hostile in HOSTILE.items():
        assert len(hostile.build()) == MAX_TEXT, name


# CPU seconds of this process: the machine running the tests is shared, so wall-clock time
# measures the neighbours too. On an idle core the two are the same.
_seconds = time.process_time


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_redactor_is_fast_on_hostile_text_at_the_maximum_size(name: str) -> None:
    text = HOSTILE[name].build()
    started = _seconds()
    redact(text)
    elapsed = _seconds() - started
    assert elapsed < 0.6, f"{name}: {elapsed:.2f} s for {len(text):,} characters"


def maximal_event(hostile: Hostile) -> dict[str, Any]:
    """An event with every bounded field at its limit, each filled with the same hostile text."""
    return {
        **_EVENT,
        "text": hostile.build(),
        "ward": hostile.build(200),
        "site": hostile.build(200),
        "provider": "RTD",
        "category_codes": [hostile.build(100)] * 50,
        "attributes": {f"attribute-{i:02d}": hostile.build(2_000) for i in range(32)},
    }


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_maximal_hostile_event_goes_through_the_pipeline_in_under_a_second(
    pipeline: Pipeline, name: str
) -> None:
    raw = orjson.dumps(maximal_event(HOSTILE[name]))
    started = _seconds()
    result = pipeline.process([RawRecord(raw, topic="feedback.raw")])
    elapsed = _seconds() - started
    assert [d.letter["error"] for d in result.dead] == [], "a maximal event is a valid event"
    assert len(result.tagged) == 1
    assert elapsed < 1.0, f"{name}: {elapsed:.2f} s through validate → redact → tag"
