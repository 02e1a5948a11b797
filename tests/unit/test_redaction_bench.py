"""`pxstream bench --only redaction`: µs per event for the realistic mix and for each source kind."""

from __future__ import annotations

from bench.redaction import LETTER_CHARS, bench_redaction, realistic_texts
from schemas.settings import Settings

FFT_DATA = Settings.from_env().fft_data  # where this machine keeps the labelled FFT comments


def test_the_mix_draws_fft_comments_most_and_letters_one_in_twenty() -> None:
    mix, kinds = realistic_texts(2_000, FFT_DATA)
    letters = sum(len(text) >= LETTER_CHARS for text, _ in mix)
    fft = sum(source == "fft" for _, source in mix)
    assert fft > len(mix) // 2 and 0.02 * len(mix) < letters < 0.09 * len(mix)
    assert {"fft", "complaint", "pals", "incident", "letter", "letter_with_identifiers"} <= set(kinds)
    assert all(text.startswith(("Mrs", "From", "Flat")) for text in kinds["letter_with_identifiers"])


def test_the_redaction_part_reports_each_kind_and_the_mix_with_the_load() -> None:
    report = bench_redaction(FFT_DATA, events=300, repeats=1)["redaction"]
    assert report["mix_events"] == 300 and report["mix_us_per_event"] > 0
    assert sum(report["mix_shares"].values()) == 300
    letter = report["per_kind"]["letter_with_identifiers"]
    assert letter["mean_chars"] >= LETTER_CHARS and letter["us_per_event"] > 0
    assert "at start" in report["load_average"]
