"""What the engine remembers of each (rule, group) key between events: its key string, and how far
back the value it last wrote is pruned.

Pruning (dropping buckets, organisations, samples and fired windows older than the horizon,
buckets.horizon) reads the whole value, yet the horizon only moves when the watermark does: most
events find nothing to drop. A slot remembers the value object this engine last stored for its
key, the marker it stored with it and the horizon it was pruned to. While the value read back is
that very object with that marker, nothing but this engine's own events has changed it (any other
writer, a restore or a replay gives a new object or a new marker), so it holds nothing older than
that horizon and pruning again to the same or an older one would drop nothing. The stored value
never changes shape (tests/unit/test_hotspot_state_format.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from streams.hotspots.buckets import ANNOUNCED, BUCKETS, MARKER, ORGANISATIONS, SAMPLES, horizon
from streams.hotspots.rules import Rule

MAX_SLOTS = 65_536  # bounded: hostile input can name any number of wards


class GroupSlot:
    """One (rule, group) key: its state key, and the value this engine last stored under it."""

    __slots__ = ("key", "marker", "pruned_to", "value")

    def __init__(self, key: str) -> None:
        self.key = key
        self.value: Any = None
        self.marker = -1
        self.pruned_to = 0

    def pruned_below(self, value: Any) -> int | None:
        """The horizon ``value`` holds nothing older than, or None when it is not as this engine left it."""
        if value is self.value and value[MARKER] == self.marker:
            return self.pruned_to
        return None

    def stored(self, value: Any, pruned_to: int) -> None:
        """Remember ``value`` as stored, holding nothing older than ``pruned_to``."""
        self.value, self.marker, self.pruned_to = value, value[MARKER], pruned_to


class GroupSlots:
    """The slots of one partition's keys, built once per (rule, group)."""

    __slots__ = ("_horizons", "_prefix", "_slots")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._slots: dict[tuple[str, tuple[str, ...]], GroupSlot] = {}
        self._horizons: dict[str, tuple[int, int]] = {}  # rule id → (watermark, its horizon)

    def get(self, rule_id: str, group: tuple[str, ...]) -> GroupSlot:
        slot = self._slots.get((rule_id, group))
        if slot is None:
            if len(self._slots) >= MAX_SLOTS:
                self._slots.clear()
            key = f"{self._prefix}{rule_id}|{orjson.dumps(group).decode()}"
            slot = self._slots[(rule_id, group)] = GroupSlot(key)
        return slot

    def horizon(self, rule: Rule, watermark: int) -> int:
        """buckets.horizon, worked out again only when the watermark has moved (rarely)."""
        memo = self._horizons.get(rule.id)
        if memo is None or memo[0] != watermark:
            memo = self._horizons[rule.id] = (watermark, horizon(rule, watermark))
        return memo[1]

    def forget(self) -> None:
        """Forget every remembered value (the caller's batch was not stored)."""
        self._slots.clear()


def prune(value: dict[str, Any], oldest: int) -> None:
    """Drop what lies before ``oldest``: buckets and organisations (when a bucket does), samples,
    fired windows. The stored form is the one written before slots existed."""
    buckets = value[BUCKETS]
    if min(buckets) < oldest:  # pruning is rare (the watermark moved): skip the copy otherwise
        value[BUCKETS] = {k: v for k, v in buckets.items() if k >= oldest}
        value[ORGANISATIONS] = {k: v for k, v in value[ORGANISATIONS].items() if k >= oldest}
    value[SAMPLES] = [s for s in value[SAMPLES] if s[1] >= oldest]
    value[ANNOUNCED] = [start for start in value[ANNOUNCED] if start >= oldest]


def prune_since(value: dict[str, Any], pruned_to: int, oldest: int, step: int) -> None:
    """:func:`prune` of a value known to hold nothing before ``pruned_to`` (its slot says so), when
    the horizon has moved on to ``oldest``: only the buckets in between can go.

    Bucket starts are multiples of ``step``, so those are looked up one by one (usually one or
    two: the horizon moves a step at a time) instead of copying every bucket of the key's history;
    keys keep their order, so the stored bytes are :func:`prune`'s. Organisations are kept per
    counted bucket, so they go with their buckets, as in :func:`prune`. A long jump (a tick after a
    quiet night) prunes in full.
    """
    first = pruned_to - pruned_to % step
    if (oldest - first) // step > len(value[BUCKETS]):
        prune(value, oldest)
        return
    buckets, pop = value[BUCKETS], value[BUCKETS].pop
    size = len(buckets)
    for start in range(first, oldest, step):
        pop(start, None)
    if len(buckets) < size:
        pop_organisations = value[ORGANISATIONS].pop
        for start in range(first, oldest, step):
            pop_organisations(start, None)
    samples = value[SAMPLES]
    for sample in samples:
        if sample[1] < oldest:
            value[SAMPLES] = [s for s in samples if s[1] >= oldest]
            break
    announced = value[ANNOUNCED]
    old = 0  # fired windows are listed mostly oldest first: the ones to drop lead
    while old < len(announced) and announced[old] < oldest:
        old += 1
    if old:
        del announced[:old]
    if announced and min(announced) < oldest:
        value[ANNOUNCED] = [start for start in announced if start >= oldest]
