"""The Kafka → ClickHouse sink: a tenant of the Kafka runtime's loop (docs/runtime.md).

Its consumer group (`pxstream-sink`) reads `feedback.tagged` and `hotspots.alerts`. Records are
buffered per topic-partition (sinks/buffers.py); a flush happens at `batch_size` buffered
records or `linger_s` after the oldest one, writes every partition's batch (see `sinks.writer`
for why a retry never doubles anything) and only then hands the offsets to the loop to commit -
Quix's rule: a failed write is re-read, never lost.

While ClickHouse fails (down, the embedded engine's directory locked) the sink raises the
runtime's BackpressureError: the loop pauses every partition, keeps polling (so the group does
not evict it) and retries with backoff and jitter; nothing more is fetched, so memory stays at
one flush. ClickHouse calls are blocking, so they run on one dedicated thread and the event loop -
shared with the Faust worker when the sink runs inside `pxstream worker` - keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.exceptions import BackpressureError
from runtime.loop import ConsumeLoop, LoopConfig
from schemas import topics
from schemas.settings import Settings
from sinks import metrics
from sinks.action_rows import ACTION_HISTORY_COLUMNS, action_history_row
from sinks.buffers import PartitionBuffer, TableRoute
from sinks.client import connect
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
from sinks.writer import ACTION_HISTORY_TABLE, ALERTS_TABLE, EVENTS_TABLE, ClickHouseWriter

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SinkConfig:
    batch_size: int = 5000
    linger_s: float = 1.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    shutdown_timeout_s: float = 10.0
    retention_days: int | None = None
    session_timeout_s: float = 10.0
    max_poll_interval_s: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> SinkConfig:
        """Retention and batching from the settings; keyword arguments (CLI options) win."""
        values: dict[str, Any] = {
            "batch_size": settings.sink.batch_size,
            "linger_s": settings.sink.linger_s,
            "retention_days": settings.sink.retention_days,
        }
        return cls(**{**values, **overrides})


class KafkaClickHouseSink:
    """The tenant: buffers per partition, one ClickHouse writer on one thread."""

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
        self.config = config or SinkConfig.from_settings(settings)
        self.routes = {
            tagged_topic: TableRoute(EVENTS_TABLE, EVENT_COLUMNS, event_row),
            alerts_topic: TableRoute(ALERTS_TABLE, ALERT_COLUMNS, alert_row),
            actions_topic: TableRoute(ACTION_HISTORY_TABLE, ACTION_HISTORY_COLUMNS, action_history_row),
        }
        self._client_factory = client_factory or (lambda: connect(settings.clickhouse_url))
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pxstream-sink-ch")
        self._writer: ClickHouseWriter | None = None
        self._buffers: dict[Any, PartitionBuffer] = {}
        self.loop = ConsumeLoop(
            settings.kafka_bootstrap,
            LoopConfig(
                group_id=group_id,
                topics=tuple(self.routes),
                max_poll_records=self.config.batch_size,
                max_buffered=self.config.batch_size,
                poll_timeout_s=0.1,
                backoff_initial_s=self.config.backoff_initial_s,
                backoff_max_s=self.config.backoff_max_s,
                session_timeout_s=self.config.session_timeout_s,
                max_poll_interval_s=self.config.max_poll_interval_s,
                shutdown_timeout_s=self.config.shutdown_timeout_s,
                consumer_options={"max_partition_fetch_bytes": 1 << 20, "fetch_max_bytes": 8 << 20},
            ),
            self,
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        await self.loop.run(stop)

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
        return self._writer

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _failed(self, what: str, exc: Exception) -> BackpressureError:
        """Forget the connection (the next attempt reconnects) and say what failed, without content."""
        await self._on_ch_thread(self._drop_writer)
        return BackpressureError(f"sink: {what} failed ({_describe(exc)})")

    # -- the tenant contract (runtime/tenant.py) --------------------------------------------------
    async def setup(self) -> None:
        try:
            await self._on_ch_thread(self._open_writer)
        except Exception as exc:
            raise await self._failed("opening ClickHouse", exc) from exc

    async def add(self, fetched: Mapping[Any, Sequence[Any]]) -> None:
        # Read each new partition's journal first: nothing is buffered until every one is known,
        # so a retry after a failure offers the same records to the same state.
        for tp, messages in fetched.items():
            buffer = self._buffers.get(tp)
            if buffer is not None and buffer.plans is None:
                await self._load_plans(buffer, messages[0].offset)
        now, now_ms = time.monotonic(), int(time.time() * 1000)
        for tp, messages in fetched.items():
            buffer = self._buffers.get(tp)
            if buffer is not None:
                self._take(buffer, messages, now, now_ms)

    async def _load_plans(self, buffer: PartitionBuffer, first_offset: int) -> None:
        try:
            writer = await self._on_ch_thread(self._open_writer)
            plans = await self._on_ch_thread(
                writer.planned_ranges, buffer.topic, buffer.partition, first_offset
            )
        except Exception as exc:
            raise await self._failed("reading the batch journal", exc) from exc
        buffer.plans = deque(plans)
        if plans:
            log.info(
                "sink: %s[%d] replays %d journaled batch(es) from offset %d",
                buffer.topic,
                buffer.partition,
                len(plans),
                plans[0].first_offset,
            )

    def _take(self, buffer: PartitionBuffer, messages: Sequence[Any], now: float, now_ms: int) -> None:
        route = buffer.route
        for message in messages:
            try:
                row = route.build_row(
                    decode(message.value), Position(buffer.topic, buffer.partition, message.offset), now_ms
                )
            except RefusedRecord as refused:
                metrics.REFUSED.labels(route.table, refused.reason).inc()
                log.warning(
                    "sink: refused %s[%d]@%d for %s: %s",
                    buffer.topic,
                    buffer.partition,
                    message.offset,
                    route.table,
                    refused.reason,
                )
                row = None
            buffer.add(message.offset, row, now)

    def buffered(self) -> int:
        return sum(b.buffered for b in self._buffers.values())

    def flush_due(self, now: float) -> bool:
        buffered = self.buffered()
        metrics.BUFFERED.set(buffered)
        if buffered >= self.config.batch_size:
            return True
        oldest = [b.oldest for b in self._buffers.values() if b.oldest is not None]
        return bool(oldest) and now - min(oldest) >= self.config.linger_s

    async def flush(self) -> dict[Any, int]:
        """Write every ready batch; on failure put them back (same batches, same tokens next time)."""
        ready = {tp: buf.take_ready() for tp, buf in self._buffers.items()}
        ready = {tp: batches for tp, batches in ready.items() if batches}
        if not ready:
            return {}
        batches: list[ColumnBatch] = [b for group in ready.values() for b in group]
        started = time.perf_counter()
        try:
            writer = await self._on_ch_thread(self._open_writer)
            await self._on_ch_thread(writer.write_all, batches)
        except Exception as exc:
            for table in {b.table for b in batches}:
                metrics.ERRORS.labels(table).inc()
            for tp, group in ready.items():
                if tp in self._buffers:
                    self._buffers[tp].restore(group)
            raise await self._failed("writing a batch", exc) from exc
        metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
        # Written but not committed if a commit then fails: the next owner replays the journaled
        # ranges and the engine drops them as duplicates.
        return {tp: group[-1].last_offset + 1 for tp, group in ready.items()}

    def on_assigned(self, partitions: Iterable[Any]) -> None:
        for tp in partitions:
            self._buffers[tp] = PartitionBuffer(self.routes[tp.topic], tp.topic, tp.partition)

    def on_revoked(self, partitions: Iterable[Any]) -> None:
        # Unwritten records are simply re-read by the next owner; the journal makes that owner
        # rebuild any batch this one may have half-written.
        for tp in partitions:
            self._buffers.pop(tp, None)

    def on_paused(self, paused: bool) -> None:
        metrics.PAUSED.set(1 if paused else 0)

    async def close(self) -> None:
        unwritten = sum(1 for b in self._buffers.values() for _ in b.sealed)
        if unwritten:
            log.warning("sink: stopped with %d unwritten batch(es); they will be re-read", unwritten)
        try:
            await self._on_ch_thread(self._drop_writer)
        finally:
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
