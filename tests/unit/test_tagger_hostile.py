"""Hostile input is normal input: tagging time grows linearly with the text, whatever the text.

Each case is a 100,000-character text (the FeedbackEvent maximum) built from one repeated unit
that could make a phrase matcher backtrack or a tokenizer degenerate: runs of whitespace, one
endless word, hyphen and apostrophe chains, the first words of gapped phrases ("nobody ...
told", "given ... twice"), digits before durations, redaction markers. Doubling the text must
roughly double the time (a quadratic matcher would quadruple it), and no case may take long.
"""

from __future__ import annotations

import time

import pytest

from streams.tagging import Tagger

UNITS = {
    "sentence": "the nurse was not told about the wrong dose and we waited 6 hours ",
    "whitespace": " \t\n \r ",
    "one_word": "a",
    "hyphen_chain": "a-",
    "apostrophes": "'",
    "dotted": "a.",
    "digits": "1 ",
    "gap_starts": "nobody never not given for over ",
    "markers": "[NAME] ",
    "ampersands": "&",
    "emoji": "😡 ",
}


def _cpu_seconds(tagger: Tagger, text: str) -> float:
    started = time.process_time()
    tagger.tag(text, "complaint")
    return time.process_time() - started


@pytest.mark.parametrize("unit", list(UNITS.values()), ids=list(UNITS))
def test_tagging_time_is_linear_in_the_text(unit: str) -> None:
    tagger = Tagger.default()
    half = (unit * (50_000 // len(unit) + 1))[:50_000]
    full = (unit * (100_000 // len(unit) + 1))[:100_000]
    tagger.tag(half[:2000], "complaint")  # load and warm
    # Best of three: the machine is shared, and a descheduled run only ever adds time.
    t_half = min(_cpu_seconds(tagger, half) for _ in range(3))
    t_full = min(_cpu_seconds(tagger, full) for _ in range(3))
    assert t_full < 1.5, f"100,000 characters took {t_full:.2f} s of CPU"
    # Linear: about 2x for twice the text; quadratic would be 4x. Tiny times are all noise.
    assert t_full < 3.2 * t_half + 0.02, f"50k: {t_half:.3f} s, 100k: {t_full:.3f} s"


def test_hostile_text_still_gets_a_sensible_answer() -> None:
    tags = Tagger.default().tag(UNITS["sentence"] * 1500, "complaint")
    assert {"safe_high_quality_care", "better_information_more_choice", "access_and_waiting"} <= set(
        tags.domains
    )
    assert len(tags.evidence) <= 3 * len(tags.domains) + 2, "evidence stays bounded"
