"""The redactor scans only near digits and cue words, and finds exactly what a whole scan finds.

streams/redaction/windows.py runs a digit pattern (dates of birth, hospital numbers, postcodes,
addresses) only within its widest match of a digit, and tries a name cue pattern ("Dr", "Kind
regards", "my husband") only where one of its cue words starts. Both are claimed to give the
same matches as ``pattern.finditer(text)``; these tests compare the two on every text the
repository holds and on hostile texts, and count the work done as the text doubles (a count,
not a clock, so a busy machine cannot make the test pass or fail).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from connectors.synthetic import PERSONAL
from streams.redaction import names, redactor, windows
from streams.redaction import patterns as p
from streams.redaction.normalise import normalise

DATA = Path(__file__).resolve().parent.parent / "data"
DIGIT_PATTERNS = {
    name: getattr(p, name)
    for name in ("HOSPITAL_LABELLED", "DOB", "HOSPITAL_BARE", "POSTCODE", "ADDRESS", "ADDRESS_ONE_WORD")
}
CUE_PATTERNS = {pattern.pattern[:40]: (pattern, starts) for pattern, _, _, starts in names._CUES}
HOSTILE_UNITS = (
    "NHS 1 ",
    "a1 ",
    "Dr Mr Mrs ",
    "mrmrmrdr",
    "Kind regards, Sister Jones ",
    "I'm Ann, i am Bob, Im Cy ",
    "'Dr Smith' o'mr Jones ",
    "my husband John my ",
    "Yours sincerely,\n",
    "12 Acacia Avenue LS1 4AB DOB 1.2.1950 ",
    "Flat 3, 7 Kingsway ",
    "MRN 1234567 K123456 ",
    "ＤＲ ＳＭＩＴＨ ",  # fullwidth letters fold to ASCII
    "İ Dr Ann ",  # a character whose lower case is two characters long
    "MRN 1 pt no 2 hosp 3 ",  # a label before every run of digits
    "A1 1AB 2CD ",  # every run followed by two letters: every postcode window scanned
    "1 a, 22 b 333c, ",  # every run followed by a letter, comma or space: every house number tried
)


def _texts() -> list[str]:
    """Every text of the repository's labelled and adversarial sets, plus letters built from them."""
    texts: list[str] = list(PERSONAL)
    for name in ("other_sources_labelled.jsonl", "tagger_train_multisource.jsonl", "tagger_dev.jsonl"):
        texts += [json.loads(line)["text"] for line in (DATA / name).read_text().splitlines() if line.strip()]
    adversarial = (DATA / "redaction_adversarial.jsonl").read_text().splitlines()
    texts += [json.loads(line)["text"] for line in adversarial if line.strip()]
    rng = random.Random(14)
    for _ in range(300):  # letters: identifiers spliced between feedback sentences
        parts = [rng.choice(texts) for _ in range(rng.randint(2, 12))]
        texts.append(rng.choice(("\n\n", " ", ",\n")).join(parts))
    texts += [(unit * (600 // len(unit) + 1))[:600] for unit in HOSTILE_UNITS]
    return [normalise(text).text for text in texts]


TEXTS = _texts()


def _spans(matches) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in matches]


@pytest.mark.parametrize("name", sorted(DIGIT_PATTERNS))
def test_a_digit_pattern_scanned_near_digits_finds_what_a_whole_scan_finds(name: str) -> None:
    pattern = DIGIT_PATTERNS[name]
    found = 0
    for text in TEXTS:
        source = redactor._Text.of(text, label=False)
        whole = _spans(pattern.finditer(text))
        assert _spans(source.near_digits(pattern)) == whole, (name, text[:80])
        found += len(whole)
    assert found > 0, f"{name} matched nothing: the comparison proves nothing"


def test_labelled_hospital_numbers_tried_just_before_runs_of_digits_are_what_a_whole_scan_finds() -> None:
    found = 0
    extra = [
        "M.R.N. 1234567",
        "m. r. n 12345",
        "Pt no: 1234",
        "CASE NOTES # 99887",
        "medical  records id 4455",
        "MRNis1234 and hospitalnumber 5678",
        "hospital number is ABCD-1234 5678",
    ]
    for text in [*TEXTS, *extra]:
        source = redactor._Text.of(text, label=False)
        whole = _spans(p.HOSPITAL_LABELLED.finditer(text))
        assert _spans(source.before_digits(p.HOSPITAL_LABELLED, "id_start", p.HOSPITAL_LABELS)) == whole, (
            text[:80]
        )
        found += len(whole)
    assert found > 5


def test_postcodes_scanned_only_near_runs_followed_by_two_letters_are_what_a_whole_scan_finds() -> None:
    found = 0
    extra = ["LS14AB", "ls1 4ab", "GIR 0AA", "LS1-4AB", "T2 3rd", "E11 2AB 12/03/2019 LS1 4AB"]
    for text in [*TEXTS, *extra]:
        source = redactor._Text.of(text, label=False)
        whole = _spans(p.POSTCODE.finditer(text))
        assert _spans(source.near_digits(p.POSTCODE, redactor._inward_code_runs(source))) == whole, text[:80]
        found += len(whole)
    assert found > 5


@pytest.mark.parametrize("name", ["ADDRESS", "ADDRESS_ONE_WORD"])
def test_an_address_pattern_tried_at_house_numbers_finds_what_a_whole_scan_finds(name: str) -> None:
    pattern = DIGIT_PATTERNS[name]
    found = 0
    for text in [*TEXTS, "12345 Acacia Avenue", "1 2 3 4 5 High Street", "12a, Broadway 123456 Kingsway"]:
        source = redactor._Text.of(text, label=False)
        whole = _spans(pattern.finditer(text))
        assert _spans(source.at_house_numbers(pattern)) == whole, (name, text[:80])
        found += len(whole)
    assert found > 0


@pytest.mark.parametrize("key", sorted(CUE_PATTERNS))
def test_a_cue_pattern_tried_at_its_cue_words_finds_what_a_whole_scan_finds(key: str) -> None:
    pattern, starts = CUE_PATTERNS[key]
    found = 0
    for text in TEXTS:
        source = redactor._Text.of(text, label=False)
        if source.lower is None:
            continue
        present = names._start_words(source.words)
        whole = _spans(pattern.finditer(text))
        assert _spans(names._matches(pattern, text, source.lower, present, starts)) == whole, (key, text[:80])
        found += len(whole)
    assert found > 0, f"{key} matched nothing: the comparison proves nothing"


def test_a_text_whose_lower_case_is_longer_is_scanned_whole() -> None:
    source = redactor._Text.of("İ Dr Ann Smith", label=False)
    assert source.lower is None
    assert redactor.redact("İ Dr Ann Smith").text == "İ Dr [NAME]"


def test_bounds_refuse_a_pattern_that_is_unbounded_or_can_match_nothing() -> None:
    with pytest.raises(ValueError):
        windows.bounds(re.compile(r"\d+"))
    with pytest.raises(ValueError):
        windows.bounds(re.compile(r"\d{0,3}"))
    limits = windows.bounds(re.compile(r"ab{1,5}(?=xyz)"))
    assert limits.width == 6 and limits.reach >= 6 + 3


def test_a_missing_window_would_be_caught() -> None:
    """The comparison can fail: scanning without the window before a digit loses matches."""
    text = "DOB 12/03/1950, MRN 1234567"
    source = redactor._Text.of(text, label=False)
    short = windows.merge(source.digit_runs, len(text))  # no room before the digits
    limits = windows.bounds(p.DOB)
    assert _spans(windows.finditer_near(p.DOB, text, short, limits.reach)) != _spans(p.DOB.finditer(text))


class _Counting:
    """A pattern that counts the characters its scans may read and the positions it is tried at."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.compiled = pattern
        self.pattern, self.flags, self.groupindex = pattern.pattern, pattern.flags, pattern.groupindex
        self.read = 0

    def finditer(self, text: str, pos: int = 0, endpos: int | None = None):
        self.read += (len(text) if endpos is None else endpos) - pos
        return self.compiled.finditer(text, pos, len(text) if endpos is None else endpos)

    def match(self, text: str, pos: int = 0):
        self.read += 1
        return self.compiled.match(text, pos)


def _work(text: str) -> int:
    """Characters read by every windowed scan of ``text``, and positions tried by every cue pattern,
    each through the path the redactor takes for it."""
    source = redactor._Text.of(text, label=False)
    total = 0
    for name, pattern in DIGIT_PATTERNS.items():
        counting = _Counting(pattern)
        if name == "HOSPITAL_LABELLED":
            list(source.before_digits(counting, "id_start", p.HOSPITAL_LABELS))  # type: ignore[arg-type]
        elif name == "POSTCODE":
            list(source.near_digits(counting, redactor._inward_code_runs(source)))  # type: ignore[arg-type]
        elif name in ("ADDRESS", "ADDRESS_ONE_WORD"):
            list(source.at_house_numbers(counting))  # type: ignore[arg-type]
        else:
            list(source.near_digits(counting))  # type: ignore[arg-type]
        total += counting.read
    present = names._start_words(source.words)
    for pattern, starts in CUE_PATTERNS.values():
        counting = _Counting(pattern)
        list(names._matches(counting, text, source.lower, present, starts))  # type: ignore[arg-type]
        total += counting.read
    return total


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_the_work_of_the_windows_doubles_with_the_text_not_more(unit: str) -> None:
    def text(size: int) -> str:
        return normalise((unit * (size // len(unit) + 1))[:size]).text

    small, large = _work(text(25_000)), _work(text(50_000))
    assert large <= 2.1 * small + 1_000, (unit, small, large)
    # and the windows never read more than a few whole scans would
    assert large <= 20 * 50_000 * (len(DIGIT_PATTERNS) + len(CUE_PATTERNS)), (unit, large)


def test_the_words_kept_for_the_gates_answer_every_gate_as_all_the_words_would() -> None:
    """Only the words some gate asks about are kept; every gate must find its words among them."""
    gates = [p.HOSPITAL_GATE, p.DOB_GATE, p.STREET_TYPES, {"at", "dot"}, names._FIRST_NAMES_LOWER]
    gates += [cue for _, _, cue, _ in names._CUES]
    for gate in gates:
        assert set(gate) <= redactor._GATE_WORDS
    for text in TEXTS:
        every = frozenset(re.split(r"[^a-z']{1,64}", text.lower()))
        kept = redactor._Text.of(text, label=False).words
        for gate in gates:
            assert every.isdisjoint(gate) == kept.isdisjoint(gate) or not kept.isdisjoint(gate), text[:80]
