"""What the actions stage costs per event: the pure engine, and the stage through the real broker.

    pxstream bench --only actions                         # both, on the local broker
    python -m bench.actions --events 20000              # engine only
    python -m bench.actions --events 20000 --kafka      # and through Kafka (PXSTREAM_KAFKA_BOOTSTRAP)

The feed is TaggedEvents of every source kind in the synthetic feed's proportions-ish: a share
are complaints (each makes an action) and severe incidents (duty of candour); the rest match no
rule, which is what most events cost. Through Kafka the events are on `feedback.tagged` before
the stage starts, and the clock runs until the stage has returned every input offset to the loop
for commit: join the group (one active member), rebuild the state, read, decide, write each
action and wait for its acknowledgement. CPU time of this process is reported beside the wall
clock (the machine is shared), with the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.settings import Settings
from streams.actions.agent import host, load_default_actions, stage_topics
from streams.actions.engine import ActionEngine
from streams.actions.stage import ActionsStage

SOURCES = ("complaint", "pals", "incident", "fft", "fft", "fft", "social_media", "gp_comment_card")


def feed(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events = []
    for i in range(count):
        source = rng.choice(SOURCES)
        events.append(
            {
                "event_id": f"bench-{i}",
                "source": source,
                "organisation": "QNB",
                "provider": rng.choice(("R1A", "R2B", "R3C")),
                "ward": rng.choice(("Ward 7 Acute Medicine", "Oak Ward", "Emergency Department")),
                "occurred_at": "2026-12-01T10:00:00Z",
                "received_at": "2026-12-01T10:05:00Z",
                "severity": rng.choice(("low", "moderate", "severe", "death"))
                if source == "incident"
                else None,
                "text": "[redacted]",
                "domains": ["safe_high_quality_care"],
            }
        )
    return events


def bench_engine(settings: Settings, events: list[dict[str, Any]], repeat: int = 5) -> dict[str, float]:
    """Best of `repeat` runs (the machine is shared: the minimum is the cost, the rest is noise)."""
    engine = ActionEngine(load_default_actions(settings))
    now = datetime(2026, 12, 1, 10, 6, tzinfo=UTC)
    engine.on_event(events[0], lambda _: False, now)  # load the holiday tables outside the clock
    engine_s = process_s = float("inf")
    made: set[str] = set()
    records = [(stage_topics().tagged, orjson.dumps(e)) for e in events]
    for _ in range(repeat):
        made = set()
        started = time.perf_counter()
        for event in events:
            for action in engine.on_event(event, made.__contains__, now):
                made.add(action["action_id"])
        engine_s = min(engine_s, time.perf_counter() - started)
        stage = ActionsStage(bootstrap="", topics=stage_topics(), engine=engine)
        started = time.perf_counter()
        for start in range(0, len(records), 500):
            stage.state.update(stage.process(records[start : start + 500], now))
        process_s = min(process_s, time.perf_counter() - started)
    return {
        "events": len(events),
        "actions": len(made),
        "engine_us_per_event": engine_s / len(events) * 1e6,
        "decode_and_engine_us_per_event": process_s / len(events) * 1e6,
    }


async def bench_kafka(settings: Settings, events: list[dict[str, Any]]) -> dict[str, float]:
    from aiokafka import AIOKafkaProducer

    from infra.broker import delete_topics, ensure_topics
    from schemas.topics import TOPICS

    bootstrap = settings.kafka_bootstrap
    prefix = f"bench-actions-{uuid.uuid4().hex[:8]}."
    await asyncio.to_thread(ensure_topics, bootstrap, [replace(s, name=prefix + s.name) for s in TOPICS])
    topics = stage_topics(prefix)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topics.tagged, orjson.dumps(e), key=b"R1A") for e in events]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    stage = ActionsStage(
        bootstrap=bootstrap,
        topics=topics,
        engine=ActionEngine(load_default_actions(settings)),
        client_id="bench",
    )
    loop = host(stage, group_id=f"{prefix}actions")
    started, cpu_started = time.perf_counter(), time.process_time()
    task = asyncio.ensure_future(loop.run())
    try:
        while stage.committed_inputs < len(events):
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.to_thread(delete_topics, bootstrap, [prefix + s.name for s in TOPICS])
    return {
        "kafka_events": len(events),
        "kafka_actions": stage.written,
        "kafka_us_per_event": elapsed / len(events) * 1e6,
        "kafka_cpu_us_per_event": cpu / len(events) * 1e6,
        "load_average_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.actions")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--kafka", action="store_true", help="also through the broker at PXSTREAM_KAFKA_BOOTSTRAP"
    )
    args = parser.parse_args()
    settings = Settings.from_env()  # this command's edge
    events = feed(args.events)
    result = bench_engine(settings, events)
    if args.kafka:
        result.update(asyncio.run(bench_kafka(settings, events)))
    for name, value in result.items():
        print(f"{name:<34} {value:,.1f}")


if __name__ == "__main__":
    main()
