"""The tagging agent: feedback.raw → validate, redact, tag → feedback.tagged / feedback.dlq.

Batch-shaped because Faust's per-message overhead dominates (FAUST-NOTES, "Speed"): a raw-bytes
stream read with `take_events`, one `Pipeline.process` per batch, output handed straight to the
producer, and the batch acknowledged only after Kafka has acknowledged every output record.

At-least-once depends on one more thing. `take_events` acks its events in a `finally`, and an
agent error makes Faust commit: so if a batch's output cannot be delivered (or the batch is
interrupted half-sent), leaving the loop normally would commit offsets of messages that went
nowhere. Instead the worker stops hard, without committing; a restart re-reads the batch.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from schemas import topics
from streams.app import WorkerConfig, declared_topic
from streams.metrics import Health, pipeline_metrics
from streams.pipeline import BatchResult, Pipeline, RawRecord

if TYPE_CHECKING:
    import faust
    from faust.types import EventT

log = logging.getLogger(__name__)

EXIT_UNDELIVERED: Final = 75  # EX_TEMPFAIL: a restart will redo the unacknowledged batch
# How long a batch already being sent may take to finish when the worker is asked to stop.
FINISH_ON_STOP_S: Final = 30.0
LAG_INTERVAL_S: Final = 5.0


def _records(events: Sequence[EventT]) -> list[RawRecord]:
    return [
        RawRecord(
            value=event.message.value,
            key=event.message.key,
            topic=event.message.topic,
            partition=event.message.partition,
            offset=event.message.offset,
        )
        for event in events
    ]


def _die(message: str) -> None:
    # os._exit: no commit on the way out, no finally blocks that ack. Printed, not only logged,
    # so an operator sees it even when logging is quiet.
    print(f"pxstream: error: {message}", file=sys.stderr, flush=True)
    log.critical(message)
    os._exit(EXIT_UNDELIVERED)


def register_tagging_agent(
    app: faust.App, config: WorkerConfig, pipeline: Pipeline, health: Health
) -> faust.types.AgentT:
    metrics = pipeline_metrics()
    raw = declared_topic(app, config, topics.RAW)
    tagged = declared_topic(app, config, topics.TAGGED)
    dlq = declared_topic(app, config, topics.DLQ)
    tagged_name, dlq_name = config.tagged_topic, config.dlq_topic
    # Next offset to process per raw partition: the consumer-lag metric's position for our input.
    next_offsets: dict[tuple[str, int], int] = {}

    async def deliver(result: BatchResult) -> None:
        producer = app.producer
        pending = [
            await producer.send(tagged_name, out.key, out.value, None, None, None) for out in result.tagged
        ]
        pending += [
            await producer.send(dlq_name, dead.record.key, dead.value, None, None, None)
            for dead in result.dead
        ]
        await asyncio.gather(*pending)

    async def handle(events: Sequence[EventT]) -> None:
        records = _records(events)
        result = pipeline.process(records)
        await deliver(result)
        metrics.observe(result)
        for record in records:
            next_offsets[(record.topic, record.partition)] = record.offset + 1

    @app.agent(raw, name=f"{config.app_id}.tag_feedback", concurrency=1)
    async def tag_feedback(stream: faust.StreamT) -> None:
        # Output topics are declared here, before the first send: the broker does not auto-create.
        await tagged.maybe_declare()
        await dlq.maybe_declare()
        async for events in stream.take_events(config.batch_size, within=config.batch_within_s):
            batch = asyncio.ensure_future(handle(events))
            try:
                await asyncio.shield(batch)
            except asyncio.CancelledError:
                # Stopping (or rebalancing): finish the batch already under way before its acks.
                try:
                    await asyncio.wait_for(batch, FINISH_ON_STOP_S)
                except BaseException as exc:
                    _die(f"could not finish a batch while stopping ({type(exc).__name__}: {exc})")
                raise
            except Exception as exc:
                first = events[0].message
                _die(
                    f"could not deliver the output of {len(events)} messages from "
                    f"{first.topic}[{first.partition}]@{first.offset} to Kafka at "
                    f"{app.conf.broker[0].netloc if app.conf.broker else '?'} "
                    f"({type(exc).__name__}: {exc}); stopping without committing"
                )

    @app.timer(LAG_INTERVAL_S)
    async def measure_lag() -> None:
        consumer = app.consumer
        committed = getattr(consumer, "_committed_offset", {})
        positions: dict[tuple[str, int], tuple[int, int]] = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            if high is None:
                continue
            position = next_offsets.get((tp.topic, tp.partition))
            if position is None:
                position = committed.get(tp)
            if position is None:
                position = await consumer.position(tp)
            if position is None:
                continue
            positions[(tp.topic, tp.partition)] = (position, high)
            metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(0, high - position)
            )
        health.update(positions)

    return tag_feedback
