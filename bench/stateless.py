"""The stateless stage's framework share: the tagging tenant through the real broker against its
own pure function, on the same events, in one process and one run.

    pxstream bench --only stateless        # or: python -m bench.stateless [--events 20000]

The *pure* figure is `Pipeline.process` over the events' bytes in batches of the worker's batch
size (decode, validate, redact, tag, encode the outputs): the work the stage cannot avoid. The
*stage* figure is the same `Pipeline` object hosted as the production tenant
(`streams.agents.tagging_loop`: `TaggingSink` on the runtime's `ConsumeLoop`), reading the same
events from a fresh raw topic and producing to fresh tagged / dead-letter topics with `acks=all`,
timed from its first write until Kafka has acknowledged every output. Both are measured as CPU
seconds of this process (`time.process_time`, so another engineer's job on the machine does not
move them) and as wall-clock events/s, in alternating rounds (pure, stage, pure, stage, …) so a
cache warming or the machine's load drifting lands on both sides; the median round is reported. The framework
share is the stage's CPU µs per event minus the pure function's: consuming, producing, waiting
for acknowledgements, commits, metrics and the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

import orjson

from bench.harness import synthetic_events, unique_prefix
from runtime.admin import delete_topics
from runtime.produce import produce
from schemas.settings import Settings

MIX_SEED = 14  # a fixed mix: the same events in every run


def _load() -> str:
    return " / ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


def _payloads(events: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of the harness's realistic FeedbackEvents (planted personal data, several
    sources, providers and wards), keyed by provider like the connectors key them."""
    return [(e["provider"].encode(), orjson.dumps(e)) for e in synthetic_events(events, seed=MIX_SEED)]


def _pure(pipeline: Any, payloads: list[tuple[bytes, bytes]], batch_size: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of `Pipeline.process` over the payloads in batches."""
    from streams.pipeline import RawRecord

    records = [
        RawRecord(value=value, key=key, topic="feedback.raw", partition=0, offset=offset)
        for offset, (key, value) in enumerate(payloads)
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(records), batch_size):
        pipeline.process(records[start : start + batch_size])
    return time.process_time() - cpu, time.perf_counter() - wall


async def _stage(
    settings: Settings, pipeline: Any, payloads: list[tuple[bytes, bytes]], batch_size: int
) -> dict[str, float]:
    """The production tagging tenant over the payloads; CPU and wall from its first write until
    every output is acknowledged (start-up and the group join do not count)."""
    from streams.agents import tagging_loop
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix("bench-stateless")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix, batch_size=batch_size)
    await ensure_topics(settings, config)
    try:
        await produce(settings.kafka_bootstrap, config.raw_topic, payloads)
        loop = tagging_loop(settings, config, pipeline)
        sink = loop.tenant
        write = sink.write
        expected = len(payloads)
        marks: dict[str, float] = {}
        done = 0
        finished = asyncio.Event()

        async def timed_write(batch: Any) -> None:
            nonlocal done
            if not marks:
                marks.update(cpu=time.process_time(), wall=time.perf_counter())
            await write(batch)  # returns once Kafka acknowledged every output of the batch
            done += len(batch)
            if done >= expected and not finished.is_set():
                marks.update(cpu_end=time.process_time(), wall_end=time.perf_counter())
                finished.set()

        sink.write = timed_write  # type: ignore[method-assign]
        runner = asyncio.create_task(loop.run())
        try:
            waiter = asyncio.create_task(finished.wait())
            await asyncio.wait(
                {runner, waiter}, timeout=max(120.0, expected / 200), return_when=asyncio.FIRST_COMPLETED
            )
            if not finished.is_set():
                if runner.done():
                    runner.result()  # the loop's failure, as it is
                raise RuntimeError(f"the stage wrote {done} of {expected} events in time")
        finally:
            loop.stop()
            await runner
        return {
            "cpu_s": marks["cpu_end"] - marks["cpu"],
            "wall_s": marks["wall_end"] - marks["wall"],
        }
    finally:
        await delete_topics(settings.kafka_bootstrap, [spec.name for spec in config.declared_topics()])


def bench_stateless(
    settings: Settings, *, events: int = 20_000, batch_size: int = 1000, rounds: int = 3
) -> dict[str, Any]:
    """Pure function vs the stage through the broker, same events, same process (module doc).

    `rounds` pairs of (pure, stage), alternated so that the machine's load drifting lands on
    both; the figures are each pair's, the reported one their median.
    """
    from streams.pipeline import Pipeline

    load_before = _load()
    payloads = _payloads(events)
    pipeline = Pipeline.default()
    _pure(pipeline, payloads[: min(events, 2000)], batch_size)  # fill the tagger's caches
    runs = []
    for _ in range(rounds):
        pure_cpu, pure_wall = _pure(pipeline, payloads, batch_size)
        stage = asyncio.run(_stage(settings, pipeline, payloads, batch_size))
        runs.append(
            {
                "pure_us_per_event": 1e6 * pure_cpu / events,
                "stage_us_per_event": 1e6 * stage["cpu_s"] / events,
                "pure_events_per_s": events / pure_wall,
                "stage_events_per_s": events / stage["wall_s"],
                "ratio_cpu": pure_cpu / stage["cpu_s"],
                "ratio_wall": pure_wall / stage["wall_s"],
            }
        )

    def median(name: str) -> float:
        return statistics.median(run[name] for run in runs)

    pure_us, stage_us = median("pure_us_per_event"), median("stage_us_per_event")
    return {
        "stateless": {
            "events": events,
            "batch_size": batch_size,
            "rounds": rounds,
            "pure_events_per_cpu_s": round(1e6 / pure_us),
            "pure_events_per_s": round(median("pure_events_per_s")),
            "pure_us_per_event": round(pure_us, 1),
            "stage_events_per_cpu_s": round(1e6 / stage_us),
            "stage_events_per_s": round(median("stage_events_per_s")),
            "stage_us_per_event": round(stage_us, 1),
            "framework_us_per_event": round(stage_us - pure_us, 1),
            # The goal's figure: the stage's pace as a share of its own pure function's.
            "ratio_cpu": round(median("ratio_cpu"), 3),
            "ratio_wall": round(median("ratio_wall"), 3),
            "ratio_cpu_each_round": [round(run["ratio_cpu"], 3) for run in runs],
            "load_average_before": load_before,
            "load_average_after": _load(),
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    report = bench_stateless(
        Settings.from_env(), events=args.events, batch_size=args.batch_size, rounds=args.rounds
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
