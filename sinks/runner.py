"""The Kafka → ClickHouse sink: batches by size and time, commits only what ClickHouse holds.

Its own aiokafka consumer (group `pxstream-sink`, auto-commit off) reads `feedback.tagged` and
`hotspots.alerts` with `getmany`. Records are buffered per topic-partition; a flush happens at
`batch_size` buffered records or `linger_s` after the oldest one, writes every partition's batch
(see `sinks.writer` for why a retry never doubles anything) and only then commits the offsets -
Quix's rule: a failed write is re-read, never lost.

While writes fail (ClickHouse down, the embedded engine's directory locked) the sink pauses
every partition, keeps polling (so the group does not evict it) and retries with exponential
back-off; nothing more is fetched, so memory stays at one flush. ClickHouse calls are blocking,
so they run on one dedicated thread and the event loop - shared with the Faust worker when the
sink runs inside `pxstream worker` - keeps serving the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from schemas import topics
from schemas.settings import Settings
from sinks import metrics
from sinks.action_rows import ACTION_HISTORY_COLUMNS, action_history_row
from sinks.client import connect
from sinks.exceptions import ConfigError
from sinks.rows import (
    ALERT_COLUMNS,
    EVENT_COLUMNS,
    ColumnBatch,
    Position,
    RefusedRecord,
    alert_row,
    decode,
    event_row,
)
from sinks.schema import ensure_schema
from sinks.writer import ACTION_HISTORY_TABLE, ALERTS_TABLE, EVENTS_TABLE, ClickHouseWriter, PlannedRange

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)
T = TypeVar("T")

RETENTION_ENV = "PXSTREAM_CLICKHOUSE_RETENTION_DAYS"
BATCH_SIZE_ENV = "PXSTREAM_SINK_BATCH_SIZE"
LINGER_ENV = "PXSTREAM_SINK_LINGER_S"
HOLD_ENV = "PXSTREAM_SINK_TEST_HOLD"


def hold_from_env() -> Callable[[str], None] | None:
    """Crash-test hook, `PXSTREAM_SINK_TEST_HOLD=STAGE:MARKER_FILE` (never set in production).

    The first time a flush reaches STAGE ("journaled": batch ranges recorded, nothing inserted;
    "inserted": rows stored, offsets not committed) the sink writes MARKER_FILE and stops there,
    so the test can `kill -9` it at exactly that point.
    """
    spec = os.environ.get(HOLD_ENV, "")
    if ":" not in spec:
        return None
    stage, marker = spec.split(":", 1)

    def hold(reached: str) -> None:
        if reached == stage:
            with open(marker, "w") as file:
                file.write(str(os.getpid()))
            while True:
                time.sleep(3600)

    return hold


@dataclass(frozen=True)
class SinkConfig:
    batch_size: int = 5000
    linger_s: float = 1.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    shutdown_timeout_s: float = 10.0
    retention_days: int | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> SinkConfig:
        """Retention and batching from the environment; keyword arguments win (CLI options)."""
        env = dict(os.environ) if env is None else env
        values: dict[str, Any] = {}
        for name, key, kind in (
            (RETENTION_ENV, "retention_days", int),
            (BATCH_SIZE_ENV, "batch_size", int),
            (LINGER_ENV, "linger_s", float),
        ):
            raw = env.get(name, "").strip()
            if not raw:
                continue
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name}={raw!r}: expected a {kind.__name__}") from None
            if value <= 0:
                if key == "retention_days":  # 0 = keep forever
                    continue
                raise ConfigError(f"{name}={raw!r}: must be positive")
            values[key] = value
        values.update(overrides)
        return cls(**values)


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


class KafkaClickHouseSink:
    """One consumer, one ClickHouse writer, one thread for blocking ClickHouse calls."""

    def __init__(
        self,
        settings: Settings,
        *,
        tagged_topic: str = "feedback.tagged",
        alerts_topic: str = "hotspots.alerts",
        actions_topic: str = topics.ACTIONS,
        group_id: str = "pxstream-sink",
        config: SinkConfig | None = None,
        client_factory: Callable[[], Client] | None = None,
    ) -> None:
        self.settings = settings
        self.group_id = group_id
        self.config = config or SinkConfig.from_env()
        self.routes = {
            tagged_topic: TableRoute(EVENTS_TABLE, EVENT_COLUMNS, event_row),
            alerts_topic: TableRoute(ALERTS_TABLE, ALERT_COLUMNS, alert_row),
            actions_topic: TableRoute(ACTION_HISTORY_TABLE, ACTION_HISTORY_COLUMNS, action_history_row),
        }
        self._client_factory = client_factory or (lambda: connect(settings.clickhouse_url))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pxstream-sink-ch")
        self._writer: ClickHouseWriter | None = None
        self._buffers: dict[TopicPartition, PartitionBuffer] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._stop = asyncio.Event()
        self._backoff = self.config.backoff_initial_s

    # -- ClickHouse on its own thread -------------------------------------------------------
    async def _on_ch_thread(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _open_writer(self) -> ClickHouseWriter:
        if self._writer is None:
            client = self._client_factory()
            try:
                ensure_schema(client, self.config.retention_days)
            except Exception:
                client.close()
                raise
            self._writer = ClickHouseWriter(client, self.group_id)
            self._writer.on_stage = hold_from_env()
        return self._writer

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _retry_pause(self, what: str, exc: BaseException) -> None:
        """Log without content, pause fetching, and wait out the back-off while still polling."""
        log.warning(
            "sink: %s failed (%s); retrying in %.1fs, offsets not committed",
            what,
            _describe(exc),
            self._backoff,
        )
        await self._on_ch_thread(self._drop_writer)
        consumer = self._consumer
        if consumer is not None and consumer.assignment() and not self._stop.is_set():
            consumer.pause(*consumer.assignment())
            metrics.PAUSED.set(1)
            # Polling a paused consumer keeps it a live group member. It returns nothing unless a
            # rebalance handed over a partition that is not paused yet: rewind that one, so a
            # record is never dropped here.
            fetched = await consumer.getmany(timeout_ms=int(self._backoff * 1000))
            for tp, messages in fetched.items():
                if messages:
                    consumer.seek(tp, messages[0].offset)
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self._backoff)
        self._backoff = min(self._backoff * 2, self.config.backoff_max_s)

    def _resume(self) -> None:
        self._backoff = self.config.backoff_initial_s
        consumer = self._consumer
        if consumer is not None and consumer.paused():
            consumer.resume(*consumer.paused())
        metrics.PAUSED.set(0)

    async def _ensure_writer(self) -> bool:
        while not self._stop.is_set():
            try:
                await self._on_ch_thread(self._open_writer)
                return True
            except Exception as exc:
                await self._retry_pause("opening ClickHouse", exc)
        return False

    # -- Kafka --------------------------------------------------------------------------------
    async def _start_consumer(self) -> bool:
        from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener

        sink = self

        class Listener(ConsumerRebalanceListener):
            async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
                # Unwritten records are simply re-read by the next owner; the journal makes
                # that owner rebuild any batch this one may have half-written.
                for tp in revoked:
                    sink._buffers.pop(tp, None)

            async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
                for tp in assigned:
                    sink._buffers[tp] = PartitionBuffer(sink.routes[tp.topic], tp.topic, tp.partition)

        while not self._stop.is_set():
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.settings.kafka_bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=1 << 20,
                fetch_max_bytes=8 << 20,
            )
            try:
                await consumer.start()
            except Exception as exc:
                await consumer.stop()
                log.warning(
                    "sink: Kafka at %s unreachable (%s); retrying",
                    self.settings.kafka_bootstrap,
                    _describe(exc),
                )
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self._backoff)
                self._backoff = min(self._backoff * 2, self.config.backoff_max_s)
                continue
            consumer.subscribe(list(self.routes), listener=Listener())
            self._consumer = consumer
            self._backoff = self.config.backoff_initial_s
            return True
        return False

    async def _load_plans(self, buffer: PartitionBuffer, first_offset: int) -> None:
        while buffer.plans is None:
            if not await self._ensure_writer():
                return
            writer = self._writer
            assert writer is not None
            try:
                plans = await self._on_ch_thread(
                    writer.planned_ranges, buffer.topic, buffer.partition, first_offset
                )
            except Exception as exc:
                await self._retry_pause("reading the batch journal", exc)
                continue
            buffer.plans = deque(plans)
            if plans:
                log.info(
                    "sink: %s[%d] replays %d journaled batch(es) from offset %d",
                    buffer.topic,
                    buffer.partition,
                    len(plans),
                    plans[0].first_offset,
                )

    async def _take(self, tp: TopicPartition, messages: list[Any], now: float, now_ms: int) -> None:
        buffer = self._buffers.get(tp)
        if buffer is None:  # revoked while the fetch was in flight
            return
        if buffer.plans is None:
            await self._load_plans(buffer, messages[0].offset)
            if buffer.plans is None:  # stopping
                return
        route = buffer.route
        for message in messages:
            try:
                row = route.build_row(
                    decode(message.value), Position(tp.topic, tp.partition, message.offset), now_ms
                )
            except RefusedRecord as refused:
                metrics.REFUSED.labels(route.table, refused.reason).inc()
                log.warning(
                    "sink: refused %s[%d]@%d for %s: %s",
                    tp.topic,
                    tp.partition,
                    message.offset,
                    route.table,
                    refused.reason,
                )
                row = None
            buffer.add(message.offset, row, now)

    def _buffered(self) -> int:
        return sum(b.buffered for b in self._buffers.values())

    def _flush_due(self, now: float) -> bool:
        buffered = self._buffered()
        metrics.BUFFERED.set(buffered)
        if buffered >= self.config.batch_size:
            return True
        oldest = [b.oldest for b in self._buffers.values() if b.oldest is not None]
        return bool(oldest) and now - min(oldest) >= self.config.linger_s

    async def _flush(self, *, final: bool = False) -> None:
        """Write every ready batch, retrying until it succeeds, then commit their offsets.

        On stop, a normal flush gives up at once and the final one after `shutdown_timeout_s`;
        either way the batches go back to their buffers uncommitted, to be re-read later.
        """
        ready = {tp: buf.take_ready() for tp, buf in self._buffers.items()}
        ready = {tp: batches for tp, batches in ready.items() if batches}
        if not ready:
            return
        batches = [b for group in ready.values() for b in group]
        deadline = time.monotonic() + self.config.shutdown_timeout_s
        while True:
            started = time.perf_counter()
            try:
                writer = await self._on_ch_thread(self._open_writer)
                await self._on_ch_thread(writer.write_all, batches)
            except Exception as exc:
                for table in {b.table for b in batches}:
                    metrics.ERRORS.labels(table).inc()
                if self._stop.is_set() and (not final or time.monotonic() > deadline):
                    break
                await self._retry_pause("writing a batch", exc)
                continue
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            self._resume()
            await self._commit(ready)
            return
        for tp, group in ready.items():
            if tp in self._buffers:
                self._buffers[tp].restore(group)
        log.warning("sink: stopped with %d unwritten batch(es); they will be re-read", len(batches))

    async def _commit(self, ready: dict[TopicPartition, list[ColumnBatch]]) -> None:
        consumer = self._consumer
        assert consumer is not None
        offsets = {tp: group[-1].last_offset + 1 for tp, group in ready.items() if tp in self._buffers}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except Exception as exc:
            # Written but not committed: the next owner replays the journaled ranges and the
            # engine drops them as duplicates.
            log.warning(
                "sink: offset commit failed (%s); batches will be replayed idempotently", _describe(exc)
            )

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        watcher = asyncio.create_task(self._watch(stop)) if stop is not None else None
        try:
            if not await self._ensure_writer():
                return
            if not await self._start_consumer():
                return
            consumer = self._consumer
            assert consumer is not None
            log.info("sink: consuming %s as group %s", ", ".join(self.routes), self.group_id)
            while not self._stop.is_set():
                room = max(1, self.config.batch_size - self._buffered())
                data = await consumer.getmany(timeout_ms=100, max_records=room)
                now, now_ms = time.monotonic(), int(time.time() * 1000)
                for tp, messages in data.items():
                    if messages:
                        await self._take(tp, messages, now, now_ms)
                if self._flush_due(time.monotonic()):
                    await self._flush()
            await self._flush(final=True)
        finally:
            if watcher is not None:
                watcher.cancel()
            await self._shutdown()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stop.set()

    async def _shutdown(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(consumer.stop())
        with contextlib.suppress(Exception):
            await asyncio.shield(self._on_ch_thread(self._drop_writer))
        self._executor.shutdown(wait=False)
        metrics.PAUSED.set(0)


async def run_sink(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    tagged_topic: str = "feedback.tagged",
    alerts_topic: str = "hotspots.alerts",
    actions_topic: str = topics.ACTIONS,
    group_id: str = "pxstream-sink",
) -> None:
    """Run the sink until `stop` is set or the task is cancelled.

    Never raises for ClickHouse or Kafka being away: it waits, retries and keeps the offsets
    where they are, so the worker that hosts it keeps streaming.
    """
    sink = KafkaClickHouseSink(
        settings,
        tagged_topic=tagged_topic,
        alerts_topic=alerts_topic,
        actions_topic=actions_topic,
        group_id=group_id,
    )
    await sink.run(stop)


def _describe(exc: BaseException) -> str:
    """What failed, fit for a log: a server's own error text can quote row values, so for
    ClickHouse errors only the type and error code are kept."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from sinks.exceptions import PxstreamError

    code = getattr(exc, "code", None)
    text = type(exc).__name__ + (f" code {code}" if code else "")
    if isinstance(exc, PxstreamError | OSError) or (
        isinstance(exc, OperationalError) and "Code:" not in str(exc)
    ):  # our messages name places; connection errors name host:port
        text += f": {str(exc).strip().splitlines()[0][:200]}" if str(exc).strip() else ""
    elif not isinstance(exc, DatabaseError) and str(exc).strip():
        text += f": {str(exc).strip().splitlines()[0][:120]}"
    return text
