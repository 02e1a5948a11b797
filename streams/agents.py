"""The tagging stage: feedback.raw → validate, redact, tag → feedback.tagged / feedback.dlq.

It runs inside the Faust worker, but reads with a plain aiokafka consumer (`getmany`) rather than
a Faust stream. Measured on the project broker (2 busy cores, same pipeline with a trivial tagger),
one worker did 2.2k events/s through a Faust `take_events` agent, 4.3k/s through this loop
committing per batch, and 12k/s committing once a second (FAUST-NOTES, "Speed": per-message
framework overhead dominates). The stage holds no state, so it needs none of Faust's table
machinery; the hotspot agents, which do, stay ordinary Faust agents on the same app.

At-least-once, and simpler to see than with Faust acks: a batch's offsets become committable only
after Kafka has acknowledged every output record of the batch (and are committed within a second,
on revocation and at stop). Output that cannot be delivered is re-sent with back-off; if Kafka
stays away the worker stops (non-zero) without committing. A crash at any point re-reads from
the last commit, so the worst case is a re-delivered event (same `event_id`), never a lost one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from aiokafka.abc import ConsumerRebalanceListener

from schemas.settings import Settings
from streams.app import WorkerConfig, ensure_topics
from streams.metrics import Health, pipeline_metrics
from streams.pipeline import BatchResult, Pipeline, RawRecord

if TYPE_CHECKING:
    import faust
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

log = logging.getLogger(__name__)

LAG_INTERVAL_S: Final = 5.0
RETRY_BACKOFF_S: Final = (0.5, 1.0, 2.0, 5.0, 10.0)
COMMIT_INTERVAL_S: Final = 1.0


class TaggingLoop:
    """One consumer, one producer, one batch at a time (at-least-once with concurrency 1)."""

    def __init__(self, settings: Settings, config: WorkerConfig, pipeline: Pipeline, health: Health) -> None:
        self.settings = settings
        self.bootstrap = settings.kafka_bootstrap
        self.config = config
        self.pipeline = pipeline
        self.health = health
        self.metrics = pipeline_metrics()
        self.group_id = f"{config.app_id}.tagging"
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.batches = 0
        # Delivered but not yet committed; committed every COMMIT_INTERVAL_S, on revocation and
        # at stop. A commit round trip per batch would halve throughput; a crash re-delivers
        # at most this interval's events (same event_ids), it never loses them.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committed_at = 0.0

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        # The broker does not auto-create topics; a consumer subscribed to a missing topic would
        # only notice it at its next metadata refresh, minutes later.
        await ensure_topics(self.settings, self.config)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.batch_size,
            # Batches are small and quick; a generous poll interval keeps a slow tagger from
            # being mistaken for a dead member (the rebalance loops of FAUST-NOTES).
            max_poll_interval_ms=300_000,
        )
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.group_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=1 << 20,
        )
        await self.producer.start()
        await self.consumer.start()
        self.consumer.subscribe([self.config.raw_topic], listener=_CommitOnRevoke(self))

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.commit()
            with contextlib.suppress(Exception):
                await self.consumer.stop()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()

    async def run(self) -> None:
        await self.start()
        try:
            while True:
                batches = await self.consumer.getmany(  # type: ignore[union-attr]
                    timeout_ms=int(self.config.batch_within_s * 1000), max_records=self.config.batch_size
                )
                if not batches:
                    continue
                handling = asyncio.ensure_future(self._handle(batches))
                try:
                    await asyncio.shield(handling)
                except asyncio.CancelledError:
                    # Stopping: let the batch under way deliver and commit before the consumer
                    # closes (if it cannot, nothing was committed and it is re-read on restart).
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(handling, 30)
                    raise
        finally:
            await self.stop()

    async def _handle(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        records = [
            RawRecord(value=r.value, key=r.key, topic=r.topic, partition=r.partition, offset=r.offset)
            for messages in batches.values()
            for r in messages
        ]
        result = self.pipeline.process(records)
        for attempt, pause in enumerate((*RETRY_BACKOFF_S, None)):
            try:
                await self._deliver(result)
                break
            except Exception as exc:
                if pause is None:
                    raise
                log.error(
                    "could not deliver %d outputs to Kafka at %s (attempt %d: %s); retrying in %.1f s",
                    len(result),
                    self.bootstrap,
                    attempt + 1,
                    type(exc).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
        for tp, messages in batches.items():
            self._uncommitted[tp] = messages[-1].offset + 1
        if time.monotonic() - self._committed_at >= COMMIT_INTERVAL_S:
            await self.commit()
        self.metrics.observe(result)
        self.batches += 1

    async def _deliver(self, result: BatchResult) -> None:
        producer = self.producer
        assert producer is not None
        tagged, dlq = self.config.tagged_topic, self.config.dlq_topic
        pending = [await producer.send(tagged, out.value, key=out.key) for out in result.tagged]
        pending += [await producer.send(dlq, dead.value, key=dead.record.key) for dead in result.dead]
        await asyncio.gather(*pending)

    async def commit(self, only: Iterable[TopicPartition] | None = None) -> None:
        """Commit delivered offsets (all, or those of the partitions in `only`)."""
        from aiokafka.errors import CommitFailedError, IllegalStateError

        wanted = set(self._uncommitted) if only is None else set(only) & set(self._uncommitted)
        offsets = {tp: self._uncommitted.pop(tp) for tp in wanted}
        self._committed_at = time.monotonic()
        if not offsets:
            return
        try:
            await self.consumer.commit(offsets)  # type: ignore[union-attr]
        except (CommitFailedError, IllegalStateError) as exc:
            # Partitions moved to another member mid-batch: it re-reads from the last commit,
            # so these events may appear twice downstream (same event_id), never zero times.
            log.warning("offset commit after a rebalance failed (%s); the batch will be re-delivered", exc)

    async def positions(self) -> dict[tuple[str, int], tuple[int, int]]:
        """Assigned raw partitions → (committed-or-current position, highwater) for lag and health."""
        consumer = self.consumer
        if consumer is None:
            return {}
        found: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            try:
                position = await consumer.position(tp)
            except Exception:  # partition revoked between the two calls
                continue
            found[(tp.topic, tp.partition)] = (position, high)
        return found


class _CommitOnRevoke(ConsumerRebalanceListener):
    """Commit what was delivered for partitions about to move, so their new owner starts after it."""

    def __init__(self, loop: TaggingLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        # Offsets enter `_uncommitted` only after Kafka acknowledged the batch's output, so this
        # is safe even while a batch is under way; that batch's own later commit is refused
        # (old generation) and its events are re-delivered to the new owner: duplicates, no loss.
        await self.loop.commit(revoked)

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        pass


def register_tagging_agent(
    app: faust.App, settings: Settings, config: WorkerConfig, pipeline: Pipeline, health: Health
) -> TaggingLoop:
    """Run the tagging loop as a task of the Faust app, and keep lag and health up to date."""
    loop = TaggingLoop(settings, config, pipeline, health)
    metrics = pipeline_metrics()

    @app.task
    async def tag_feedback() -> None:
        try:
            await loop.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Nothing was committed past the failed batch: stop the worker so a supervisor
            # restarts it, rather than leave a process that looks alive and tags nothing.
            log.critical("tagging stopped: %s: %s", type(exc).__name__, exc)
            await app.crash(exc)

    @app.timer(LAG_INTERVAL_S)
    async def measure_lag() -> None:
        positions = await loop.positions()
        # Partitions the Faust consumer holds (the hotspot agents' input) count too.
        faust_consumer = app.consumer
        committed = getattr(faust_consumer, "_committed_offset", {})
        for tp in faust_consumer.assignment():
            # Changelogs are written, not read, once recovered: their "lag" would look like a stall.
            if tp.topic.endswith(("__assignor-__leader", "-changelog")):
                continue
            high = faust_consumer.highwater(tp)
            position = committed.get(tp)
            if position is None:  # nothing committed yet: where the fetcher is
                with contextlib.suppress(Exception):
                    position = await faust_consumer.position(tp)
            if high is not None and position is not None:
                positions[(tp.topic, tp.partition)] = (position, high)
        for (topic, partition), (position, high) in positions.items():
            metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(0, high - position))
        health.update(positions)

    return loop
