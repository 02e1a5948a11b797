"""Positions and the watermark log of one partition of ``feedback.tagged``.

Lateness and liveness depend on the partition watermark *as it was* before each input, not as it
is after a crash, so the watermark is kept as a short list of ``[position, watermark]`` changes and
an input at position p uses the last change before p (streams/hotspots/engine.py explains why this
keeps replays exact). The list lives in the partition's metadata value, beside the first event time
and the open episodes; its serialized form is pinned by tests/unit/test_hotspot_state_format.py.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
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

    changes: list[list[int]] = field(default_factory=list)  # [[position, watermark], ...]
    origin: int | None = None
    open: dict[str, str] = field(default_factory=dict)  # group key → rule id
    dirty: bool = False

    @classmethod
    def load(cls, raw: Mapping[str, Any] | None) -> PartitionMeta:
        if not raw:
            return cls()
        return cls(
            changes=[list(c) for c in raw[META_CHANGES]], origin=raw[META_ORIGIN], open=dict(raw[META_OPEN])
        )

    def dump(self) -> dict[str, Any]:
        return {META_CHANGES: self.changes, META_ORIGIN: self.origin, META_OPEN: self.open}

    def record(self, position: int, watermark: int, history: int) -> None:
        """Append a watermark change, keeping the newest ``history`` of them."""
        self.changes.append([position, watermark])
        del self.changes[:-history]
        self.dirty = True

    def watermark_before(self, position: int) -> tuple[int | None, bool]:
        """Watermark in force just before ``position``; second item False when history ran out."""
        if not self.changes:
            return None, True
        index = bisect.bisect_left(self.changes, position, key=lambda change: change[0])
        if index == 0:
            # Everything we remember happened at or after this position: a replay older than
            # the history. The oldest value is the best we have (and never too small).
            return self.changes[0][1], False
        return self.changes[index - 1][1], True

    @property
    def last_position(self) -> int:
        return self.changes[-1][0] if self.changes else -1

    @property
    def watermark(self) -> int | None:
        return self.changes[-1][1] if self.changes else None
