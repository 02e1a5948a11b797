"""The demo's synthetic feed must be valid input, cover every source, and plant what the demo promises."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from connectors.synthetic import HOTSPOTS, SOURCES, SyntheticFeed
from schemas.feedback_event import validate

START = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def test_every_event_is_a_valid_feedback_event_and_every_source_appears() -> None:
    events = [e for _, e in SyntheticFeed(seed=1).stream(START, rate_per_s=50, duration_s=120)]
    assert all(validate(e) == [] for e in events)
    assert set(Counter(e["source"] for e in events)) == set(SOURCES)
    assert len({e["event_id"] for e in events}) == len(events)


def test_stream_is_in_time_order_and_contains_each_planted_hotspot() -> None:
    timed = list(SyntheticFeed(seed=2).stream(START, rate_per_s=5, duration_s=90))
    offsets = [t for t, _ in timed]
    assert offsets == sorted(offsets)
    for hotspot in HOTSPOTS:
        burst = [
            e for _, e in timed
            if e["ward"] == hotspot.unit.ward and e["source"] == hotspot.source
        ]  # fmt: skip
        assert len(burst) >= hotspot.count, hotspot.name


def test_some_texts_carry_personal_data_for_redaction_to_remove() -> None:
    texts = [
        e["text"]
        for _, e in SyntheticFeed(seed=3, personal_data_rate=0.5).stream(START, rate_per_s=20, duration_s=30)
    ]
    assert any("943 476 5919" in t for t in texts) or any("07700 900123" in t for t in texts)


def test_same_seed_gives_the_same_texts() -> None:
    a = [e["text"] for _, e in SyntheticFeed(seed=9).stream(START, rate_per_s=10, duration_s=20)]
    b = [e["text"] for _, e in SyntheticFeed(seed=9).stream(START, rate_per_s=10, duration_s=20)]
    assert a == b


def test_planted_incident_burst_is_harmful_so_the_demo_rule_counts_it() -> None:
    incidents = [
        e for _, e in SyntheticFeed(seed=7).stream(START, rate_per_s=0.1, duration_s=40)
        if e["source"] == "incident" and e["ward"] == HOTSPOTS[0].unit.ward
    ]  # fmt: skip
    harmful = [e for e in incidents if e["severity"] in ("moderate", "severe", "death")]
    assert len(harmful) >= HOTSPOTS[0].count >= 5
