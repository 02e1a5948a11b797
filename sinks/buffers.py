"""Per-partition buffers of the ClickHouse sink: records read and not yet written, cut into batches.

A batch is cut where an earlier owner of the partition cut it (its journaled range, see
`sinks.writer`), so a replayed batch carries the same de-duplication token as the first attempt.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.rows import ColumnBatch, Position
from sinks.writer import PlannedRange


@dataclass(frozen=True)
class TableRoute:
    table: str
    columns: tuple[str, ...]
    build_row: Callable[[dict[str, Any], Position, int], tuple[Any, ...]]


@dataclass
class PartitionBuffer:
    """Records of one topic-partition read but not yet written.

    `plans` are journaled ranges from an earlier owner that may not have been committed; the
    batch that starts at a planned first offset is cut at its planned last offset, so its
    de-duplication token is the same as the first attempt's.
    """

    route: TableRoute
    topic: str
    partition: int
    plans: deque[PlannedRange] | None = None  # None: journal not read yet
    open: ColumnBatch | None = None
    target_last: int | None = None
    sealed: list[ColumnBatch] = field(default_factory=list)
    oldest: float | None = None

    @property
    def buffered(self) -> int:
        return sum(b.records for b in self.sealed) + (self.open.records if self.open else 0)

    def add(self, offset: int, row: tuple[Any, ...] | None, now: float) -> None:
        if self.open is None:
            self.open = ColumnBatch(self.route.table, self.route.columns, self.topic, self.partition)
            self.target_last = self._planned_end(offset)
        self.open.add(offset, row)
        if self.oldest is None:
            self.oldest = now
        if self.target_last is not None and offset >= self.target_last:
            self._seal()

    def _planned_end(self, offset: int) -> int | None:
        plans = self.plans or deque()
        while plans and plans[0].last_offset < offset:
            plans.popleft()
        if plans and plans[0].first_offset <= offset:
            return plans.popleft().last_offset
        return None

    def _seal(self) -> None:
        if self.open is not None and self.open.records:
            self.sealed.append(self.open)
        self.open = None
        self.target_last = None

    def take_ready(self) -> list[ColumnBatch]:
        """Batches to write now; a replay still waiting for its planned end stays open."""
        if self.target_last is None:
            self._seal()
        ready, self.sealed = self.sealed, []
        if self.open is None:
            self.oldest = None
        return ready

    def restore(self, batches: list[ColumnBatch]) -> None:
        """Put batches back (a flush abandoned at shutdown) so nothing is committed past them."""
        self.sealed = batches + self.sealed
