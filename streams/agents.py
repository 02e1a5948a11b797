"""The tagging stage: feedback.raw → validate, redact, tag → feedback.tagged / feedback.dlq.

A tenant of the Kafka runtime's consume → effect → commit loop (docs/runtime.md), run as a task
of the Faust worker. It reads with the loop's plain aiokafka consumer (`getmany`) rather than a
Faust stream: measured on the project broker (2 busy cores, same pipeline with a trivial tagger),
one worker did 2.2k events/s through a Faust `take_events` agent, 4.3k/s through this loop
committing per batch, and 12k/s committing once a second: per-message framework overhead
dominates. The stage holds no state, so it needs none of Faust's table machinery.

At-least-once: a batch's offsets become committable only after Kafka has acknowledged every
output record of the batch (committed within `COMMIT_INTERVAL_S`, on revocation and at stop).
Output that cannot be delivered is re-sent with backoff while the loop keeps polling; if Kafka
stays away for `MAX_DELIVERY_FAILURES` attempts the worker stops (non-zero) without committing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from runtime.admin import CommittedOffsets
from runtime.exceptions import BackpressureError
from runtime.loop import ConsumeLoop, LoopConfig
from runtime.produce import new_producer, send_batched
from runtime.tenant import Batch, BatchingSink
from schemas.settings import Settings
from streams.hosting import run_in_worker
from streams.metrics import BatchTally, Health, pipeline_metrics
from streams.pipeline import Pipeline
from streams.worker_config import WorkerConfig, ensure_topics

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)

LAG_INTERVAL_S: Final = 5.0
COMMIT_INTERVAL_S: Final = 1.0
# Five failed deliveries with backoff (about a minute) before the worker gives up and a
# supervisor restarts it, rather than leave a process that looks alive and tags nothing.
MAX_DELIVERY_FAILURES: Final = 5
# The tagging stage is stateless: a quick failover costs only re-delivered events (same ids), so
# its dead member's partitions move after 10 s even when the worker's session timeout (60 s by
# default, for the stateful stages) is longer; a shorter `--session-timeout` applies to it too.
TAGGING_SESSION_TIMEOUT_S: Final = 10.0
# Records tagged between two yields to the event loop: about 10–15 ms of work on a free core,
# so a stage sharing the loop (the hotspot stage, the web server) waits no longer than that.
SLICE_RECORDS: Final = 100
# Outputs queued for Kafka together: one record batch per partition, so a produce request and an
# acknowledgement per 500 outputs rather than per slice, while a backlog's first outputs still
# leave before the whole batch is tagged.
SEND_RECORDS: Final = 500


class TaggingSink(BatchingSink):
    """write(batch): run the pipeline, send every output, wait for Kafka's acknowledgement."""

    def __init__(self, settings: Settings, config: WorkerConfig, pipeline: Pipeline) -> None:
        super().__init__(batch_size=config.batch_size, linger_s=0.0)
        self.settings = settings
        self.config = config
        self.pipeline = pipeline
        self.metrics = pipeline_metrics()
        self.producer: Any = None
        self.batches = 0

    async def setup(self) -> None:
        from aiokafka.errors import KafkaError

        try:
            # Auto-create is off: a consumer subscribed to a missing topic would only notice it
            # at its next metadata refresh, minutes later.
            await ensure_topics(self.settings, self.config)
            if self.producer is None:
                producer = new_producer(
                    self.settings.kafka_bootstrap, client_id=f"{self.config.app_id}.tagging"
                )
                await producer.start()
                self.producer = producer
        except (KafkaError, OSError) as exc:
            raise BackpressureError(
                f"Kafka at {self.settings.kafka_bootstrap}: {type(exc).__name__}"
            ) from exc

    async def write(self, batch: Batch) -> None:
        """Tag the batch a slice at a time, queueing the outputs for Kafka every `SEND_RECORDS`
        of them, then wait until Kafka acknowledged them all (the loop commits only after that)."""
        from aiokafka.errors import KafkaError

        # aiokafka's ConsumerRecords carry RawRecord's fields (value, key, topic, partition,
        # offset): handed over as they are, not copied one by one.
        records = list(batch)
        # Only the counts the metrics need outlive a slice (streams/metrics.py, BatchTally).
        tally = BatchTally()
        pending: list[Any] = []
        tagged: list[tuple[bytes | None, bytes | None]] = []
        dead: list[tuple[bytes | None, bytes | None]] = []
        try:
            for start in range(0, len(records), SLICE_RECORDS):
                result = self.pipeline.process(records[start : start + SLICE_RECORDS])  # type: ignore[arg-type]
                tally.add(result)
                tagged += [(out.key, out.value) for out in result.tagged]
                dead += [(letter.record.key, letter.value) for letter in result.dead]
                del result  # freed now, while it is fresh in the cache
                last = start + SLICE_RECORDS >= len(records)
                if last or len(tagged) + len(dead) >= SEND_RECORDS:
                    pending += await self._send(tagged, dead)
                    tagged, dead = [], []
                if not last:
                    # Let the hotspot stage, /healthz and the clients' I/O run between slices: a
                    # backlog's full batch would otherwise hold the event loop for its whole
                    # tagging time, which on a busy machine is seconds (docs/stateless-speed.md).
                    await asyncio.sleep(0)
            await asyncio.gather(*pending)
        except (KafkaError, OSError) as exc:
            raise BackpressureError(
                f"delivering {len(records)} inputs' outputs to Kafka at {self.settings.kafka_bootstrap}: "
                f"{type(exc).__name__}"
            ) from exc
        self.metrics.record(tally)
        self.batches += 1

    async def _send(
        self, tagged: list[tuple[bytes | None, bytes | None]], dead: list[tuple[bytes | None, bytes | None]]
    ) -> list[Any]:
        """Queue outputs as one record batch per partition (one acknowledgement future each): the
        per-record send, its future and its callback were most of the framework's share, and a
        send per 100-record slice still cost a produce request and a drain wait per slice
        (docs/stateless-speed.md)."""
        futures = await send_batched(self.producer, self.config.tagged_topic, tagged) if tagged else []
        if dead:
            futures += await send_batched(self.producer, self.config.dlq_topic, dead)
        return futures

    async def close(self) -> None:
        if self.producer is not None:
            producer, self.producer = self.producer, None
            await producer.stop()


def tagging_loop(settings: Settings, config: WorkerConfig, pipeline: Pipeline) -> ConsumeLoop:
    """The tagging stage hosted by the runtime's loop (group `<app id>.tagging`)."""
    group = f"{config.app_id}.tagging"
    loop_config = LoopConfig(
        group_id=group,
        topics=(config.raw_topic,),
        max_poll_records=config.batch_size,
        max_buffered=config.batch_size,
        poll_timeout_s=config.batch_within_s,
        # A commit round trip per batch would halve throughput; a crash re-delivers at most this
        # interval's events (same event_ids), it never loses them.
        commit_interval_s=COMMIT_INTERVAL_S,
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
        max_failures=MAX_DELIVERY_FAILURES,
        # Batches are small and quick; a generous poll interval keeps a slow tagger from being
        # mistaken for a dead member (and the group caught in a rebalance loop).
        max_poll_interval_s=300.0,
        session_timeout_s=min(TAGGING_SESSION_TIMEOUT_S, config.session_timeout_s),
    )
    return ConsumeLoop(settings.kafka_bootstrap, loop_config, TaggingSink(settings, config, pipeline))


def register_tagging_agent(
    app: faust.App,
    settings: Settings,
    config: WorkerConfig,
    pipeline: Pipeline,
    health: Health,
    also: Sequence[ConsumeLoop] = (),
) -> ConsumeLoop:
    """Run the tagging loop as a task of the Faust app, and keep lag and health up to date (of the
    tagging loop and of the other stages' loops in `also`)."""
    loop = tagging_loop(settings, config, pipeline)
    metrics = pipeline_metrics()

    run_in_worker(app, loop, "tagging")

    # The Faust consumer's committed offsets, from the broker (Faust keeps its own view private).
    faust_committed = CommittedOffsets(settings.kafka_bootstrap, config.app_id)

    @app.timer(LAG_INTERVAL_S)
    async def measure_lag() -> None:
        positions = await loop.positions()
        for other in also:
            positions.update(await other.positions())
        # Partitions the Faust consumer holds count too (none of the stages' inputs today).
        faust_consumer = app.consumer
        await faust_committed.refresh()
        for tp in faust_consumer.assignment():
            # Changelogs are written, not read, once recovered: their "lag" would look like a stall.
            if tp.topic.endswith(("__assignor-__leader", "-changelog")):
                continue
            high = faust_consumer.highwater(tp)
            position = faust_committed.get(tp.topic, tp.partition)
            if position is None:  # nothing committed yet: where the fetcher is
                try:
                    position = await faust_consumer.position(tp)
                except Exception:
                    position = None
            if high is not None and position is not None:
                positions[(tp.topic, tp.partition)] = (position, high)
        for (topic, partition), (position, high) in positions.items():
            metrics.consumer_lag.labels(topic=topic, partition=str(partition)).set(max(0, high - position))
        health.update(positions)

    return loop
