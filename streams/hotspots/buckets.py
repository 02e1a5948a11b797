"""The stored value of one (rule, group) key: bucket counts, organisations, samples, episode.

The value stays a plain JSON dict with short keys, because the changelogged table holds it in that
exact form (tests/unit/test_hotspot_state_format.py pins the bytes): a worker restarted on new code
reads what the old one wrote. The constants below name the keys; the value never changes shape.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import orjson

from streams.hotspots.rules import Rule
from streams.hotspots.windows import bucket_start, window_count, windows_containing

V = TypeVar("V")

SAMPLES_KEPT = 10

# Keys of a (rule, group) value.
MARKER = "m"  # position of the last input applied to this key (replays at or below are skipped)
BUCKETS = "b"  # bucket start → events counted in it
SAMPLES = "s"  # [[event_id, bucket], ...], the newest SAMPLES_KEPT
EPISODE = "ep"  # the open episode, or None
ANNOUNCED = "f"  # starts of the windows that fired an episode (a window fires at most once)
ORGANISATIONS = "g"  # bucket start → organisations whose events it counts

# Keys of an episode.
WINDOW_START = "ws"
PEAK = "c"
LIMIT = "th"
FIRED_AT = "fa"
SAMPLE_IDS = "ids"
EPISODE_ORGANISATIONS = "o"


def new_value() -> dict[str, Any]:
    """A key's value before its first event (in the stored key order)."""
    return {MARKER: -1, BUCKETS: {}, SAMPLES: [], EPISODE: None, ANNOUNCED: []}


def int_buckets(raw: dict[Any, V]) -> dict[int, V]:
    """Bucket counts (or organisations) keyed by int start. JSON gives str keys; values staged by
    this process keep their int keys (TableState writes them with OPT_NON_STR_KEYS, the same JSON),
    so the copy is made once per key read from the store, not once per event."""
    if not raw or type(next(iter(raw))) is int:
        return raw
    return {int(k): v for k, v in raw.items()}


def horizon(rule: Rule, watermark: int) -> int:
    """Oldest bucket still needed: windows a late event can reach, plus their SPC history."""
    window = rule.window
    oldest_start = bucket_start(watermark - rule.allowed_lateness_s, window.step_s) - window.size_s
    return oldest_start + window.step_s - rule.history_s()


def organisations_in(rule: Rule, value: Mapping[str, Any], starts: Sequence[int]) -> set[str]:
    """Organisations of the events in the windows starting at ``starts``.

    The windows all hold one bucket, so together they span one run of buckets: at most
    ``2*size/step - 1`` of them are read, however long the key's history.
    """
    window = rule.window
    organisations: Mapping[int, list[str]] = value.get(ORGANISATIONS) or {}
    found: set[str] = set()
    for bucket in range(min(starts), max(starts) + window.size_s, window.step_s):
        found.update(organisations.get(bucket, ()))
    return found


class BucketPrefix:
    """Running totals over one key's buckets in time order: any span's count in O(log n)."""

    __slots__ = ("starts", "totals")

    def __init__(self, buckets: Mapping[int, int]) -> None:
        self.starts = sorted(buckets)
        running, totals = 0, [0]
        for start in self.starts:
            running += buckets[start]
            totals.append(running)
        self.totals = totals

    def total(self, low: int, high: int) -> int:
        """Sum of the buckets starting in [low, high)."""
        starts = self.starts
        return self.totals[bisect.bisect_left(starts, high)] - self.totals[bisect.bisect_left(starts, low)]


def window_counts_in(
    state: Mapping[str, Any], prefix: str, rule: Rule
) -> dict[tuple[tuple[str, ...], int], int]:
    """Every non-zero window count of ``rule`` under the group keys starting with ``prefix``."""
    counts: dict[tuple[tuple[str, ...], int], int] = {}
    for key in list(state):
        if not key.startswith(prefix):
            continue
        group = tuple(orjson.loads(key[len(prefix) :]))
        buckets = int_buckets(state[key][BUCKETS])
        starts = {s for b in buckets for s in windows_containing(b, rule.window)}
        for start in starts:
            counts[(group, start)] = window_count(buckets, start, rule.window)
    return counts
