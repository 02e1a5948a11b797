"""Event-time bucket arithmetic, checked against counting events into windows directly."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from streams.hotspots.rules import Window
from streams.hotspots.windows import (
    bucket_start,
    counts_containing,
    epoch_seconds,
    history_starts,
    is_live,
    iso_z,
    parse_iso_seconds,
    window_count,
    windows_containing,
)

HOPPING = Window(size_s=86400, step_s=3600)
TUMBLING = Window(size_s=600, step_s=600)


def test_bucket_start_floors_to_step() -> None:
    assert bucket_start(7199, 3600) == 3600
    assert bucket_start(7200, 3600) == 7200
    assert bucket_start(0, 60) == 0


def test_windows_containing_hopping() -> None:
    starts = list(windows_containing(86400 + 5, HOPPING))
    assert len(starts) == 24
    assert starts[0] == 3600 and starts[-1] == 86400
    assert all(start <= 86405 < start + HOPPING.size_s for start in starts)


def test_windows_containing_tumbling_is_one() -> None:
    assert list(windows_containing(1234, TUMBLING)) == [1200]


def test_is_live() -> None:
    assert is_live(1200, TUMBLING, 1799)
    assert not is_live(1200, TUMBLING, 1800)
    assert not is_live(1200, TUMBLING, None)


@pytest.mark.parametrize("window", [HOPPING, TUMBLING, Window(size_s=300, step_s=60)])
def test_bucket_sums_equal_direct_counts(window: Window) -> None:
    rng = random.Random(7)
    times = [rng.randrange(0, 5 * window.size_s) for _ in range(500)]
    buckets: dict[int, int] = {}
    for t in times:
        buckets[bucket_start(t, window.step_s)] = buckets.get(bucket_start(t, window.step_s), 0) + 1
    for start in range(-window.size_s, 6 * window.size_s, window.step_s):
        direct = sum(1 for t in times if start <= t < start + window.size_s)
        assert window_count(buckets, start, window) == direct


def test_history_is_non_overlapping_previous_windows() -> None:
    assert history_starts(10 * 86400, HOPPING, 3) == [9 * 86400, 8 * 86400, 7 * 86400]


def test_iso_round_trip() -> None:
    assert epoch_seconds("2026-03-01T10:00:00Z") == 1772359200
    assert epoch_seconds("2026-03-01T11:00:00+01:00") == 1772359200
    # Alerts are written in the events' one output form: milliseconds, truncated, and `Z`.
    assert iso_z(1772359200) == "2026-03-01T10:00:00.000Z"
    assert iso_z(1772359200.2509) == "2026-03-01T10:00:00.250Z"
    assert epoch_seconds(iso_z(1772359200.9999)) == 1772359200


@pytest.mark.parametrize("window", [HOPPING, TUMBLING, Window(size_s=300, step_s=60)])
def test_sliding_counts_equal_window_sums(window: Window) -> None:
    rng = random.Random(3)
    buckets = {
        bucket_start(rng.randrange(0, 4 * window.size_s), window.step_s): rng.randrange(1, 5)
        for _ in range(60)
    }
    for t in range(0, 4 * window.size_s, max(1, window.step_s // 3)):
        expected = [(start, window_count(buckets, start, window)) for start in windows_containing(t, window)]
        assert counts_containing(buckets, t, window) == expected


def _parsed(parse: Callable[[str], int], value: str) -> int | str:
    try:
        return parse(value)
    except ValueError:
        return "refused"


def test_the_fast_form_parses_as_the_standard_library_does() -> None:
    """epoch_seconds reads the output form by a looked-up minute; whatever the string, it answers
    (or refuses with ValueError) exactly as the full parse does."""
    rng = random.Random(5)
    alphabet = "0123456789-:T .Z+z\u0660\u00b2,"
    cases = ["2026-03-01T10:00:00.000Z", "2026-02-29T10:00:00.000Z", "2024-02-29T23:59:59.999Z"]
    for _ in range(4000):
        text = iso_z(rng.randrange(-(10**10), 10**10) / 7)
        for _ in range(rng.choice((0, 0, 1, 2))):
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(alphabet) + text[at + rng.choice((0, 1)) :]
        cases.append(text)
    cases += [
        c.replace(".000Z", suffix) for c in cases[:3] for suffix in ("Z", "", ".5Z", "+01:00", ".0000Z")
    ]
    cases += ["2026-03-01T24:00:00.000Z", "2026-03-01T10:60:00.000Z", "2026-03-01T10:00:60.000Z"]
    for text in cases * 2:  # the second time each minute is known
        assert _parsed(epoch_seconds, text) == _parsed(parse_iso_seconds, text), text
