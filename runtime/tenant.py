"""What a stage implements to be hosted by the consume → effect → commit loop (docs/runtime.md).

In the spirit of Quix Streams' sinks: the loop owns the consumer, the commits, the pauses and
the retries; a tenant owns only its effect. The loop hands it what it polled (`add`), asks
whether a flush is due (`flush_due`), and on `flush` the tenant takes its effect and returns the
offsets that are now safe to commit: those whose effects the other side acknowledged. A tenant
that cannot take its effect now raises `BackpressureError` (optionally with `retry_after`) and
keeps what it holds; the loop asks again later, with the same records.

`BatchingSink` is the short way: buffer per partition, and implement only `write(batch)`.
"""

from __future__ import annotations

import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Offsets = dict[Any, int]  # TopicPartition → next offset to read


class Tenant(Protocol):
    """The hosted stage. Every method runs on the loop's event loop; none may block it."""

    async def setup(self) -> None:
        """Before the first poll (open a connection, rebuild state); may raise BackpressureError."""

    async def add(self, fetched: Mapping[Any, Sequence[Any]]) -> None:
        """Take polled records (TopicPartition → ConsumerRecords); may raise BackpressureError,
        in which case the same records are offered again."""

    def buffered(self) -> int:
        """Records held and not yet flushed: the loop polls at most `max_buffered` minus this."""

    def flush_due(self, now: float) -> bool:
        """True when `flush` should run now (size, age, or a periodic effect of the tenant)."""

    async def flush(self) -> Offsets:
        """Take the effect of what is held; return the offsets now safe to commit.
        On BackpressureError nothing was acknowledged, or what was is harmless to repeat."""

    def on_assigned(self, partitions: Iterable[Any]) -> None: ...

    def on_revoked(self, partitions: Iterable[Any]) -> None:
        """Drop what is held for these partitions: their next owner re-reads it.

        A tenant may also define ``async def settle(self)``: awaited at a revocation before the
        loop commits, until a flush under way has finished (docs/runtime.md)."""

    def on_paused(self, paused: bool) -> None:
        """The loop paused (True) or resumed (False) fetching because of backpressure."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Batch:
    """Records of one flush, per partition, in offset order."""

    records: Mapping[Any, Sequence[Any]]

    def __len__(self) -> int:
        return sum(len(records) for records in self.records.values())

    def __iter__(self) -> Any:
        return itertools.chain.from_iterable(self.records.values())

    def offsets(self) -> Offsets:
        return {tp: records[-1].offset + 1 for tp, records in self.records.items() if records}


class BatchingSink(ABC):
    """A tenant that buffers records per partition and writes them all at once.

    Flushes when `batch_size` records are held or the oldest has waited `linger_s` (0: after
    every poll). A subclass implements `write(batch)`: return once every effect is acknowledged,
    or raise BackpressureError to have the same batch written again later.
    """

    def __init__(self, batch_size: int = 1000, linger_s: float = 0.0) -> None:
        self.batch_size = batch_size
        self.linger_s = linger_s
        self._held: dict[Any, list[Any]] = {}
        self._oldest: float | None = None

    @abstractmethod
    async def write(self, batch: Batch) -> None: ...

    async def setup(self) -> None:
        return None

    async def add(self, fetched: Mapping[Any, Sequence[Any]]) -> None:
        for tp, records in fetched.items():
            self._held.setdefault(tp, []).extend(records)
        if self._oldest is None and fetched:
            self._oldest = time.monotonic()

    def buffered(self) -> int:
        return sum(len(records) for records in self._held.values())

    def flush_due(self, now: float) -> bool:
        if not self._held:
            return False
        return self.buffered() >= self.batch_size or now - (self._oldest or now) >= self.linger_s

    async def flush(self) -> Offsets:
        if not self._held:
            return {}
        batch = Batch(dict(self._held))
        await self.write(batch)  # BackpressureError: keep everything, the loop retries
        self._held.clear()
        self._oldest = None
        return batch.offsets()

    def on_assigned(self, partitions: Iterable[Any]) -> None:
        return None

    def on_revoked(self, partitions: Iterable[Any]) -> None:
        for tp in partitions:
            self._held.pop(tp, None)
        if not self._held:
            self._oldest = None

    def on_paused(self, paused: bool) -> None:
        return None

    async def close(self) -> None:
        return None
