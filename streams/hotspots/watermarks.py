"""Positions and the watermark log of one partition of ``feedback.tagged``.

Lateness and liveness depend on the partition watermark *as it was* before each input, not as it
is after a crash, so the watermark is kept as a short list of ``[position, watermark]`` changes and
an input at position p uses the last change before p (streams/hotspots/engine.py explains why this
keeps replays exact). The list lives in the partition's metadata value, beside the first event time
and the open episodes; its serialized form is pinned by tests/unit/test_hotspot_state_format.py.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

WATERMARK_HISTORY = 256

# Keys of the metadata value as stored (changing them breaks state written by running workers).
META_CHANGES = "w"
META_ORIGIN = "o"
META_OPEN = "open"


def event_position(offset: int) -> int:
    return 2 * offset


def tick_position(after_offset: int) -> int:
    return 2 * after_offset + 1


@dataclass
class PartitionMeta:
    """Per-partition metadata: watermark changes, first event time, open episodes."""

    # [(position, watermark), ...]: tuples, so the stored copy (a new outer list) shares them safely.
    changes: list[tuple[int, int]] = field(default_factory=list)
    origin: int | None = None
    open: dict[str, str] = field(default_factory=dict)  # group key → rule id
    dirty: bool = False

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> PartitionMeta:
        if not raw:
            return cls()
        return cls(
            changes=[(c[0], c[1]) for c in raw[META_CHANGES]],
            origin=raw[META_ORIGIN],
            open=dict(raw[META_OPEN]),
        )

    def dump(self) -> dict[str, Any]:
        """The stored form (same JSON as ever: tuples serialise as arrays), sharing nothing mutable."""
        return {META_CHANGES: list(self.changes), META_ORIGIN: self.origin, META_OPEN: dict(self.open)}

    def record(self, position: int, watermark: int, history: int) -> None:
        """Append a watermark change, keeping the newest ``history`` of them."""
        self.changes.append((position, watermark))
        if len(self.changes) > history:
            del self.changes[:-history]
        self.dirty = True

    def move_last(self, watermark: int) -> None:
        """Raise the newest change's watermark in place (another tick at the same position)."""
        self.changes[-1] = (self.changes[-1][0], watermark)
        self.dirty = True

    def watermark_before(self, position: int) -> tuple[int | None, bool]:
        """Watermark in force just before ``position``; second item False when history ran out."""
        changes = self.changes
        if not changes:
            return None, True
        if position > changes[-1][0]:
            return changes[-1][1], True  # the usual case: an input after every remembered change
        index = bisect.bisect_left(self.changes, position, key=lambda change: change[0])
        if index == 0:
            # Everything we remember happened at or after this position: a replay older than
            # the history. The oldest value is the best we have (and never too small).
            return self.changes[0][1], False
        return self.changes[index - 1][1], True

    def sync_open(self, key: str, rule_id: str, is_open: bool) -> None:
        """Keep the list of open episodes in step with a key's value."""
        if is_open and self.open.get(key) != rule_id:
            self.open[key] = rule_id
            self.dirty = True
        elif not is_open and key in self.open:
            del self.open[key]
            self.dirty = True

    @property
    def last_position(self) -> int:
        return self.changes[-1][0] if self.changes else -1

    @property
    def watermark(self) -> int | None:
        return self.changes[-1][1] if self.changes else None


class MetaCache:
    """The partition's metadata, loaded once and reused while the stored value is the one we wrote.

    Loading copies the watermark history (up to ``WATERMARK_HISTORY`` changes); doing it per event
    was a tenth of the engine's time. The stored object is compared by identity: a value read
    back from a changelogged table, restored after a crash or replaced by a test is a new object
    and is loaded afresh, so the cache can never answer with state the store does not hold.
    """

    __slots__ = ("_meta", "_stored")

    def __init__(self) -> None:
        self._stored: Any = None
        self._meta: PartitionMeta | None = None

    def load(self, raw: Mapping[str, Any] | None) -> PartitionMeta:
        if raw is None or raw is not self._stored or self._meta is None:
            self._meta = PartitionMeta.load(raw)
            self._stored = raw
        self._meta.dirty = False
        return self._meta

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Forget the cache when the block fails: it may have changed the metadata half-way."""
        try:
            yield
        except BaseException:
            self.forget()
            raise

    def forget(self) -> None:
        """Drop the cached value (after an input failed half-way through changing it)."""
        self._stored = self._meta = None

    def dump(self, meta: PartitionMeta) -> dict[str, Any]:
        """The value to store for ``meta``; remembered so that reading it back costs nothing."""
        self._stored = meta.dump()
        self._meta = meta
        return self._stored
