"""The hotspot stage as a tenant of the Kafka runtime's loop (runtime/loop.py, docs/runtime.md).

feedback.tagged → engine (streams/hotspots/engine.py) → hotspots.alerts, with each partition's
state in memory and in its changelog (streams/hotspots/changelog.py). The loop owns the consumer,
the commits, the pauses and the retries; this module owns the order that keeps the counts exact
(docs/hotspot-speed.md):

1. **Recover before counting.** When a partition is assigned, its changelog is read to its end and
   the consumer is moved to the group's committed offset (or, the first time, to the offset the
   worker's Faust group had committed when the stage was a Faust agent) before any of its records
   is applied or its clock ticks. The alerts already on the topic are read again at the same time,
   so a replay of what another worker did is not re-announced.
2. **A batch, then its effects, then its state.** Every held record of a partition runs through its
   engine on a :class:`StagedState` (each touched key decoded once, encoded once). The batch's
   alert transitions are sent and acknowledged first; then each partition's touched keys go to its
   changelog partition, once per batch, as one record batch (Kafka appends it whole); only when
   Kafka has those does the in-memory state take them and ``flush`` return the input offsets for
   the loop to commit. A failure anywhere leaves the in-memory state as it was: the loop offers the
   same records again, or the next owner replays them. Keys stored newer than the committed offset
   replay exactly (the engine's per-key markers and watermark history).
3. **The clock in the loop.** A partition that is caught up (nothing held, its position at the high
   watermark) and quiet for ``quiet_after_s`` gets a tick from the wall clock, applied, delivered
   and stored like a batch. A backlog is never made to look late by wall-clock time.
4. **Revocation waits.** ``settle`` lets a flush under way finish before the loop commits and lets
   the partitions go; what is held for them is dropped and their state forgotten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import orjson

from runtime.admin import CommittedOffsets, committed_offsets
from runtime.exceptions import BackpressureError
from runtime.produce import new_producer, send_batched
from runtime.tenant import Offsets
from streams.hotspots.changelog import Changelog, PendingWrites
from streams.hotspots.engine import HotspotEngine, StagedState
from streams.hotspots.metrics import hotspot_counters, hotspot_events_counter
from streams.hotspots.table_state import PublishedAlerts, TableState

log = logging.getLogger(__name__)

Alerts = list[dict[str, Any]]
Step = Callable[[HotspotEngine], Alerts]  # what a flush does to one partition's engine


class HotspotTenant:
    """The tenant: per-partition engines and states, one producer for alerts and changelog."""

    def __init__(
        self,
        runtime: Any,  # streams.hotspots.agent.HotspotRuntime
        *,
        bootstrap: str,
        changelog: Changelog,
        published: PublishedAlerts,
        legacy_group: str | None,
        quiet_after_s: float,
        tick_interval_s: float,
        clock_lag_s: float = 0.0,
        batch_size: int = 1000,
        batch_within_s: float = 0.05,
        client_id: str = "pxstream-hotspots",
    ) -> None:
        self.runtime = runtime
        self.bootstrap = bootstrap
        self.changelog = changelog
        self.published = published
        self.legacy_group = legacy_group
        self.quiet_after_s = quiet_after_s
        self.tick_interval_s = tick_interval_s
        self.clock_lag_s = clock_lag_s
        self.batch_size = batch_size
        self.batch_within_s = batch_within_s
        self.client_id = client_id
        self.consumer: Callable[[], Any] = lambda: None  # the loop's consumer (set by the host)
        self.group_offsets: CommittedOffsets | None = None  # the loop's group (set by the host)
        self.producer: Any = None
        self.held: dict[Any, list[Any]] = {}
        self._oldest: float | None = None
        self.next_offset: dict[Any, int] = {}  # ready partitions → next offset to apply
        self.committed: dict[int, int] = {}  # partition → an offset at or before the committed one
        self.recovering: set[Any] = set()
        self._next_tick_at = 0.0
        self._now = 0.0  # wall clock of the flush under way: the alerts' fired/resolved time
        self._idle = asyncio.Event()
        self._idle.set()
        self.processed = hotspot_events_counter()
        self.counters = hotspot_counters()

    # -- the tenant ------------------------------------------------------------------------------
    async def setup(self) -> None:
        from aiokafka.errors import KafkaError

        try:
            await self.changelog.ensure()
            if self.producer is None:
                producer = new_producer(self.bootstrap, client_id=self.client_id)
                await producer.start()
                self.producer = producer
        except (KafkaError, OSError) as exc:
            raise BackpressureError(f"Kafka at {self.bootstrap}: {type(exc).__name__}") from exc

    async def add(self, fetched: Mapping[Any, Sequence[Any]]) -> None:
        for tp, records in fetched.items():
            expected = self.next_offset.get(tp)
            if expected is None:
                continue  # not recovered yet: read again from its start offset once it is
            if records[0].offset < expected:  # fetched before a seek: already held or applied
                records = [record for record in records if record.offset >= expected]
                if not records:
                    continue
            self.held.setdefault(tp, []).extend(records)
            self.next_offset[tp] = records[-1].offset + 1
            self.runtime.last_input_at[tp.partition] = time.time()
        if self._oldest is None and self.held:
            self._oldest = time.monotonic()

    def buffered(self) -> int:
        return sum(len(records) for records in self.held.values())

    def flush_due(self, now: float) -> bool:
        if self.recovering or now >= self._next_tick_at:
            return True
        if not self.held:
            return False
        return self.buffered() >= self.batch_size or now - (self._oldest or now) >= self.batch_within_s

    async def flush(self) -> Offsets:
        self._idle.clear()
        try:
            if self.recovering:
                await self._recover()
            offsets: Offsets = {}
            if self.held:
                offsets = await self._count()
            if time.monotonic() >= self._next_tick_at:
                self._next_tick_at = time.monotonic() + self.tick_interval_s
                await self._refresh_committed()
                await self._tick()
            return offsets
        finally:
            self._idle.set()

    async def settle(self) -> None:
        await self._idle.wait()

    def on_assigned(self, partitions: Iterable[Any]) -> None:
        self.recovering.update(partitions)

    def on_revoked(self, partitions: Iterable[Any]) -> None:
        # A partition that moves away may come back after another worker advanced it: its state,
        # engine and progress here would then be stale. The next owner recovers them.
        for tp in partitions:
            self.held.pop(tp, None)
            self.next_offset.pop(tp, None)
            self.recovering.discard(tp)
            self.runtime.engines.pop(tp.partition, None)
            self.runtime.last_input_at.pop(tp.partition, None)
            self.committed.pop(tp.partition, None)
        if not self.held:
            self._oldest = None

    def on_paused(self, paused: bool) -> None:
        return None

    async def close(self) -> None:
        if self.group_offsets is not None:
            await self.group_offsets.close()
        if self.producer is not None:
            producer, self.producer = self.producer, None
            with contextlib.suppress(Exception):
                await producer.stop()

    # -- recovery --------------------------------------------------------------------------------
    async def _recover(self) -> None:
        from aiokafka.errors import KafkaError

        consumer = self.consumer()
        tps = sorted(self.recovering, key=lambda tp: tp.partition)
        try:
            stores = await self.changelog.read([tp.partition for tp in tps])
            starts = await self._start_offsets(consumer, tps)
            await self.published.load()
        except (KafkaError, OSError) as exc:
            raise BackpressureError(f"recovering hotspot state from {self.changelog.topic}: {exc}") from exc
        now = time.time()
        for tp in tps:
            if tp not in self.recovering:
                continue  # revoked meanwhile
            partition, start = tp.partition, starts[tp]
            self.runtime.engines[partition] = HotspotEngine(
                self.runtime.rules, TableState(stores[partition]), partition=partition
            )
            self.held.pop(tp, None)
            consumer.seek(tp, start)
            self.next_offset[tp] = start
            self.committed[partition] = start
            self.runtime.last_input_at[partition] = now
            self.recovering.discard(tp)
            log.info(
                "hotspot partition %s: %d keys recovered from %s, counting from offset %s",
                partition,
                len(stores[partition]),
                self.changelog.topic,
                start,
            )

    async def _start_offsets(self, consumer: Any, tps: list[Any]) -> dict[Any, int]:
        """The group's committed offset; else the Faust group's (state carried over); else the start."""
        starts: dict[Any, int] = {}
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is not None and committed >= 0:
                starts[tp] = committed
        missing = [tp for tp in tps if tp not in starts]
        if missing and self.legacy_group:
            legacy = await committed_offsets(self.bootstrap, self.legacy_group)
            for tp in missing:
                if (tp.topic, tp.partition) in legacy:
                    starts[tp] = legacy[(tp.topic, tp.partition)]
                    log.info(
                        "hotspot partition %s: continuing where %s stopped", tp.partition, self.legacy_group
                    )
        missing = [tp for tp in tps if tp not in starts]
        if missing:
            starts.update(await consumer.beginning_offsets(missing))
        return starts

    async def _refresh_committed(self) -> None:
        """What the group has committed, for forgetting event ids no replay can need. Asked of
        the broker on a connection of its own (never the consumer's coordinator, which may be in
        the middle of a rebalance); a failed refresh keeps the older, lower, safe view."""
        if self.group_offsets is None:
            return
        await self.group_offsets.refresh()
        for tp in self.next_offset:
            committed = self.group_offsets.get(tp.topic, tp.partition)
            if committed is not None:
                self.committed[tp.partition] = max(self.committed.get(tp.partition, 0), committed)

    # -- counting --------------------------------------------------------------------------------
    async def _count(self) -> Offsets:
        batch, self.held, self._oldest = self.held, {}, None
        tagged = 0

        def events(records: list[Any]) -> Step:
            def step(engine: HotspotEngine) -> Alerts:
                alerts: Alerts = []
                for record in records:
                    alerts += self._apply(engine, record)
                return alerts

            return step

        steps = {tp: events(records) for tp, records in batch.items()}
        try:
            stored = await self._run(steps, lambda tp: f"batch ending {tp.topic}[{tp.partition}]")
        except BaseException:
            for tp, records in batch.items():  # offered again by the loop
                if tp in self.next_offset:
                    self.held[tp] = records + self.held.get(tp, [])
            if self.held:
                self._oldest = time.monotonic()
            raise
        offsets = {}
        for tp in stored:
            offsets[tp] = batch[tp][-1].offset + 1
            tagged += len(batch[tp])
        self.processed.inc(tagged)
        return offsets

    def _apply(self, engine: HotspotEngine, record: Any) -> Alerts:
        try:
            document = orjson.loads(record.value) if record.value is not None else None
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            log.error("%s[%s]@%s: not a JSON object, skipped", record.topic, record.partition, record.offset)
            return []
        return engine.on_event(document, record.offset, self._now)

    async def _tick(self) -> None:
        """A tick for each caught-up, quiet partition (docs/hotspot-speed.md, "the clock")."""
        consumer = self.consumer()
        if consumer is None:
            return
        now = time.time()
        steps: dict[Any, Step] = {}
        for tp, position in self.next_offset.items():
            engine = self.runtime.engines.get(tp.partition)
            highwater = consumer.highwater(tp)
            if engine is None or not highwater or position < highwater or self.held.get(tp):
                continue  # never written, not fetched yet, or behind: event time will move it
            if now - self.runtime.last_input_at.get(tp.partition, now) < self.quiet_after_s:
                continue
            after = engine.progress if engine.progress is not None else position - 1
            steps[tp] = lambda engine, after=after: engine.on_tick(now - self.clock_lag_s, after, now)
        if steps:
            await self._run(steps, lambda tp: f"clock tick of {tp.topic}[{tp.partition}]")
            self.runtime.ticks_sent += len(steps)

    async def _run(self, steps: Mapping[Any, Step], where: Callable[[Any], str]) -> list[Any]:
        """Apply each partition's step on a staged state; deliver the alerts; store the state.

        Returns the partitions whose state was stored (a partition revoked meanwhile is not).
        """
        self._now = time.time()
        staged: list[tuple[Any, HotspotEngine, StagedState, PendingWrites, Any]] = []
        alerts: Alerts = []
        wheres = []
        try:
            for tp, step in steps.items():
                engine = self.runtime.engines[tp.partition]
                base, before, progress = engine.state, replace(engine.stats), engine.progress
                pending = PendingWrites(base.table)
                state = StagedState(TableState(pending))
                engine.state = state
                try:
                    found = step(engine)
                    if found:
                        alerts += found
                        wheres.append(where(tp))
                    engine.end_batch(self.committed.get(tp.partition))
                finally:
                    engine.state = base
                staged.append((tp, engine, state, pending, (before, progress)))
            if alerts:
                await self._deliver(alerts, "; ".join(wheres))
            for _, _, state, _, _ in staged:
                state.commit()  # into the pending writes: each touched key encoded once
            await self._store(staged)
        except BaseException:
            # Nothing of this batch is in the in-memory state; the engines' caches, counters and
            # progress go back to where it left them, and the loop offers the records again.
            for _, engine, _, _, (before, progress) in staged:
                engine.forget_cached()
                engine.stats, engine.progress = before, progress
            raise
        stored = []
        for tp, engine, _, pending, (before, _) in staged:
            if self.runtime.engines.get(tp.partition) is engine:  # else revoked meanwhile
                pending.apply()
                self.counters.observe(before, engine.stats)
                stored.append(tp)
        return stored

    async def _deliver(self, alerts: Alerts, where: str) -> None:
        """Send new alert transitions and wait until Kafka has them all."""
        from aiokafka.errors import KafkaError

        published = self.published
        fresh = [alert for alert in alerts if alert not in published]
        if len(fresh) < len(alerts):
            published.suppressed += len(alerts) - len(fresh)
            log.info(
                "replay of %s: %d alert transition(s) already on %s, not sent again",
                where,
                len(alerts) - len(fresh),
                published.topic,
            )
        for alert in fresh:
            log.info(
                "hotspot %s %s rule=%s group=%s window_start=%s count=%s (%s)",
                alert["status"],
                alert["alert_id"],
                alert["rule_id"],
                alert["group"],
                alert["window_start"],
                alert["count"],
                where,
            )
        try:
            records = [(alert["alert_id"].encode(), orjson.dumps(alert)) for alert in fresh]
            await asyncio.gather(*await send_batched(self.producer, published.topic, records))
        except (KafkaError, OSError) as exc:
            raise BackpressureError(f"sending {len(fresh)} alerts to {published.topic}: {exc}") from exc
        for alert in fresh:
            published.add(alert)

    async def _store(self, staged: list[Any]) -> None:
        from aiokafka.errors import KafkaError

        try:
            pending = []
            for tp, _, _, writes, _ in staged:
                if writes.writes:
                    pending += await self.changelog.write(self.producer, tp.partition, writes)
            await asyncio.gather(*pending)
        except (KafkaError, OSError) as exc:
            raise BackpressureError(f"writing hotspot state to {self.changelog.topic}: {exc}") from exc
