"""The consume → effect → commit loop: the project's delivery discipline, written once.

Every stage that reads Kafka and takes an effect (produce to a topic, insert into ClickHouse,
post to Alertmanager) is a `Tenant` of this loop (runtime/tenant.py, docs/runtime.md):

1. **Commit after the effect.** An input offset becomes committable only when the tenant's
   `flush` returned it, i.e. after the other side acknowledged every effect of the records
   before it. A crash at any point re-reads from the last commit: a repeat, never a loss
   (tenants make effects idempotent).
2. **Commit on revoke.** Acknowledged offsets of partitions about to move are committed before
   they move, so the next owner starts after them; what a tenant holds for them is dropped and
   re-read by the next owner.
3. **Backpressure pauses and keeps polling.** When a tenant raises `BackpressureError`, every
   assigned partition is paused and the loop keeps calling `getmany` while it waits, so the
   consumer stays a live member of its group however long the outage lasts (aiokafka leaves the
   group when `getmany` is not called within `max.poll.interval.ms`). A record handed out by a
   rebalance in the meantime is rewound, never dropped.
4. **Bounded buffers.** A poll asks for at most `max_buffered` minus what the tenant holds.
5. **Backoff with jitter** between attempts (runtime/backoff.py), or the tenant's `retry_after`.

Stop by setting the `stop` event, calling `stop()`, or cancelling the task: the flush under way
finishes (or gives up after `shutdown_timeout_s`, uncommitted), acknowledged offsets are
committed and the consumer leaves the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiokafka.abc import ConsumerRebalanceListener

from runtime.backoff import Backoff
from runtime.exceptions import BackpressureError
from runtime.tenant import Offsets, Tenant

log = logging.getLogger(__name__)
T = TypeVar("T")


class GaveUp(Exception):
    """A tenant failed `max_failures` times in a row; raised from `run` with the last reason."""


@dataclass(frozen=True)
class LoopConfig:
    group_id: str
    topics: tuple[str, ...]
    client_id: str | None = None
    max_poll_records: int = 1000
    max_buffered: int = 5000
    poll_timeout_s: float = 0.2
    commit_interval_s: float = 0.0  # 0: commit after every flush
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_failures: int | None = None  # consecutive failures before `run` raises GaveUp; None: never
    session_timeout_s: float = 10.0
    max_poll_interval_s: float = 300.0
    shutdown_timeout_s: float = 10.0
    consumer_options: Mapping[str, Any] = field(default_factory=dict)


class ConsumeLoop:
    """One consumer, one tenant, at-least-once with concurrency 1."""

    def __init__(self, bootstrap: str, config: LoopConfig, tenant: Tenant) -> None:
        self.bootstrap = bootstrap
        self.config = config
        self.tenant = tenant
        self.consumer: Any = None
        self.assignments = 0  # partition assignments received; a rebalance adds one
        self.failures = 0  # tenant failures (BackpressureError) so far
        self.paused = False
        self._acknowledged: Offsets = {}
        self._committed_at = 0.0
        self._stopping = asyncio.Event()
        self._backoff = Backoff(config.backoff_initial_s, config.backoff_max_s)
        self._failed_in_a_row = 0

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopped(self) -> None:
        """Until `stop()` is called (or the stop event seen)."""
        await self._stopping.wait()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Until `stop` is set, `stop()` is called or the task is cancelled (see module doc)."""
        main = asyncio.ensure_future(self._main(stop))
        try:
            await asyncio.shield(main)
        except asyncio.CancelledError:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(main), self.config.shutdown_timeout_s + 5)
            except (TimeoutError, asyncio.CancelledError):
                main.cancel()
            except Exception:  # already stopping; the failure was logged where it happened
                pass
            raise

    async def _main(self, stop: asyncio.Event | None) -> None:
        watcher = asyncio.create_task(self._watch(stop)) if stop is not None else None
        try:
            if not (await self._attempt("setting up", self.tenant.setup))[0]:
                return
            if not await self._start_consumer():
                return
            while not self.stopping:
                await self._poll_once()
            await self._flush(final=True)
        finally:
            if watcher is not None:
                watcher.cancel()
            await self._close()

    async def _watch(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._stopping.set()

    # -- polling and flushing ----------------------------------------------------------------
    async def _poll_once(self) -> None:
        config = self.config
        # At least one record, so a tenant waiting for a particular offset is never starved.
        room = max(1, min(config.max_poll_records, config.max_buffered - self.tenant.buffered()))
        fetched = await self.consumer.getmany(timeout_ms=int(config.poll_timeout_s * 1000), max_records=room)
        assigned = self.consumer.assignment()
        fetched = {tp: records for tp, records in fetched.items() if records and tp in assigned}
        if fetched and not (await self._attempt("taking records", lambda: self.tenant.add(fetched)))[0]:
            return  # stopping: nothing of it was acknowledged, so nothing is committed
        now = time.monotonic()
        if self.tenant.flush_due(now):
            await self._flush()
        if self._acknowledged and time.monotonic() - self._committed_at >= config.commit_interval_s:
            await self._commit()

    async def _flush(self, *, final: bool = False) -> None:
        deadline = time.monotonic() + self.config.shutdown_timeout_s if final else None
        ok, offsets = await self._attempt("flushing", self.tenant.flush, deadline)
        if ok and offsets:
            assigned = self.consumer.assignment() if self.consumer is not None else set()
            self._acknowledged.update({tp: offset for tp, offset in offsets.items() if tp in assigned})

    async def _attempt(
        self, what: str, call: Callable[[], Awaitable[T]], deadline: float | None = None
    ) -> tuple[bool, T | None]:
        """Call until it succeeds (True, result), or the loop stops (False, None).

        While stopping, a failed call is retried only until `deadline` (the final flush).
        """
        while True:
            try:
                result = await call()
            except BackpressureError as exc:
                self.failures += 1
                self._failed_in_a_row += 1
                limit = self.config.max_failures
                if limit is not None and self._failed_in_a_row > limit:
                    raise GaveUp(f"{what}: {exc.reason} ({self._failed_in_a_row} attempts)") from exc
                if self.stopping and (deadline is None or time.monotonic() >= deadline):
                    log.warning("%s: %s; stopping with it undone (offsets not committed)", what, exc.reason)
                    return False, None
                delay = self._backoff.next_delay(exc.retry_after or 0.0)
                log.warning(
                    "%s failed: %s; retrying in %.1f s, offsets not committed", what, exc.reason, delay
                )
                await self._wait_polling(
                    delay if deadline is None else min(delay, deadline - time.monotonic())
                )
                if self.stopping and deadline is None:
                    return False, None
                continue
            self._failed_in_a_row = 0
            self._backoff.reset()
            self._resume()
            return True, result

    async def _wait_polling(self, seconds: float) -> None:
        """Wait while staying a live group member: pause everything, keep calling getmany."""
        consumer = self.consumer
        end = time.monotonic() + max(0.0, seconds)
        if consumer is None:  # not in a group yet (setting up): a plain wait
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=max(0.0, seconds))
            return
        if not self.paused:
            self.paused = True
            self.tenant.on_paused(True)
        while not self.stopping:
            consumer.pause(*consumer.assignment())  # partitions a rebalance just handed over too
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            fetched = await consumer.getmany(timeout_ms=max(1, int(min(remaining, 0.5) * 1000)))
            for tp, records in fetched.items():
                if records:  # fetched before it could be paused: rewind, so nothing is skipped
                    consumer.seek(tp, records[0].offset)

    def _resume(self) -> None:
        if not self.paused:
            return
        self.paused = False
        if self.consumer is not None:
            self.consumer.resume(*self.consumer.paused())
        self.tenant.on_paused(False)

    async def _commit(self, only: Iterable[Any] | None = None) -> None:
        from aiokafka.errors import KafkaError

        wanted = set(self._acknowledged) if only is None else set(only) & set(self._acknowledged)
        offsets = {tp: self._acknowledged.pop(tp) for tp in wanted}
        self._committed_at = time.monotonic()
        if not offsets or self.consumer is None:
            return
        try:
            await self.consumer.commit(offsets)
        except KafkaError as exc:
            # The partitions moved on mid-flush: their next owner re-reads from the last commit,
            # so these records' effects may repeat (idempotent), never go missing.
            log.warning(
                "%s: offset commit failed (%s); the records will be re-read", self.config.group_id, exc
            )

    # -- consumer lifecycle ---------------------------------------------------------------------
    def _new_consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        config = self.config
        session_ms = int(config.session_timeout_s * 1000)
        return AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=config.group_id,
            client_id=config.client_id or config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_ms,
            heartbeat_interval_ms=min(3000, session_ms // 3),
            max_poll_interval_ms=int(config.max_poll_interval_s * 1000),
            **dict(config.consumer_options),
        )

    async def _start_consumer(self) -> bool:
        """Join the group; while Kafka does not answer, wait and try again (a stage outlives it)."""

        async def start() -> Any:
            consumer = self._new_consumer()
            try:
                await consumer.start()
            except Exception as exc:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                raise BackpressureError(
                    f"Kafka at {self.bootstrap} unreachable ({type(exc).__name__})"
                ) from exc
            return consumer

        ok, consumer = await self._attempt("joining the consumer group", start)
        if not ok:
            return False
        consumer.subscribe(list(self.config.topics), listener=_Rebalance(self))
        self.consumer = consumer
        log.info("consuming %s as group %s", ", ".join(self.config.topics), self.config.group_id)
        return True

    async def _close(self) -> None:
        consumer = self.consumer
        if consumer is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._commit())
            with contextlib.suppress(Exception):
                await asyncio.shield(consumer.stop())
            self.consumer = None
        with contextlib.suppress(Exception):
            await asyncio.shield(self.tenant.close())
        if self.paused:
            self.paused = False
            self.tenant.on_paused(False)

    async def positions(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Assigned partitions → (position, highwater), for lag metrics and health."""
        consumer = self.consumer
        found: dict[tuple[str, int], tuple[int, int]] = {}
        if consumer is None:
            return found
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # revoked between the two calls
                continue
            found[(tp.topic, tp.partition)] = (position, high)
        return found


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loop: ConsumeLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        revoked = list(revoked)
        # A tenant with `settle` (optional) finishes the flush under way first, so its offsets are
        # committed here and no other member starts on state this one is still writing.
        settle = getattr(self.loop.tenant, "settle", None)
        if settle is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settle(), self.loop.config.shutdown_timeout_s)
        await self.loop._commit(revoked)
        self.loop.tenant.on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        assigned = list(assigned)
        self.loop.assignments += 1
        if self.loop.paused and self.loop.consumer is not None and assigned:
            self.loop.consumer.pause(*assigned)
        self.loop.tenant.on_assigned(assigned)
