"""The stateless stage's framework share: the tagging tenant through the real broker against its
own pure function, on the same records, measured side by side in one span.

    pxstream bench --only stateless        # or: python -m bench.stateless [--events 10000]

The *stage* is the production tenant (`streams.agents.tagging_loop`: `TaggingSink` on the
runtime's `ConsumeLoop`) reading the events from a fresh raw topic and producing to fresh tagged /
dead-letter topics with `acks=all`. The *pure function* is `Pipeline.process` — decode, validate,
redact, tag, encode the outputs: the work the stage cannot avoid — called exactly as the stage
calls it (slices of `SLICE_RECORDS`) on **the same records**: after every batch the stage wrote,
the reference runs that batch's records through the same `Pipeline` object (before the stage's
write on every other batch, so neither side always finds the caches the other warmed). Both are CPU
seconds of this process (`time.process_time`; the stage's share is the span's CPU minus the
reference's), so another engineer's job on the machine does not move them, and because they
alternate every batch (≈ 0.1–0.3 s) a drift in the machine's speed lands on both sides.

Why interleaved, and why not the earlier alternating runs (docs/benchmarks.md, "The stateless
part"): run one after the other, a pure round and a stage round of 10,000 events each took about a
second and the machine's pace moved ±15 % between them (the pure function alone, repeated, varied
104–134 µs/event at load 6), so single rounds read 0.65–1.10× with nothing changed.

The span starts after `warmup` records (connections, metadata, the first fetches, the first
allocation of the client's buffers: start-up, not steady state) and is cut into rounds of
`round_records`; the workload's events are replayed until warm-up and rounds are covered. Each
round reports its ratio; the median round and the whole span's ratio are the figures. The framework
share is split further: `stage_pure_us_per_event` is the CPU the stage spent inside its own
`Pipeline.process` calls, so `framework_us_per_event` (everything else: consuming, producing,
waiting for acknowledgements, commits, metrics, the event loop, garbage collection outside the
pipeline) is measured directly rather than as a difference of two noisy figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from bench.harness import synthetic_events, unique_prefix
from runtime.admin import delete_topics_under
from runtime.produce import produce
from schemas.settings import Settings

MIX_SEED = 14  # a fixed mix: the same events in every run
WARMUP_RECORDS = 2_000
ROUND_RECORDS = 8_000
ROUNDS = 6


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


class _TimedPipeline:
    """The stage's pipeline, counting the CPU the stage spends inside `process` (its pure part)."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self.cpu_s = 0.0

    def process(self, records: Sequence[Any]) -> Any:
        started = time.process_time()
        try:
            return self.pipeline.process(records)
        finally:
            self.cpu_s += time.process_time() - started


class _GcClock:
    """CPU seconds the garbage collector took, charged to the side (stage or reference) that was
    running when it started: a full collection costs 10–40 ms here, so one landing in a round
    moves that round's ratio by several per cent, and this says when it did."""

    def __init__(self) -> None:
        self.seconds = {"stage": 0.0, "reference": 0.0}
        self.side = "stage"
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            self.seconds[self.side] += time.process_time() - self._started


@dataclass
class _Round:
    """One round of the span: CPU and wall at its start, and what the reference and the stage's
    own pipeline calls took inside it."""

    cpu: float
    wall: float
    stage_pure_cpu: float
    gc_stage: float
    gc_reference: float
    records: int = 0
    batches: int = 0
    reference_cpu: float = 0.0
    reference_wall: float = 0.0

    def close(self, cpu: float, wall: float, stage_pure_cpu: float, gc: _GcClock) -> dict[str, float]:
        stage_cpu = cpu - self.cpu - self.reference_cpu
        stage_wall = wall - self.wall - self.reference_wall
        n = self.records
        return {
            "records": n,
            "mean_batch": n / max(1, self.batches),
            "pure_us_per_event": 1e6 * self.reference_cpu / n,
            "stage_us_per_event": 1e6 * stage_cpu / n,
            "stage_pure_us_per_event": 1e6 * (stage_pure_cpu - self.stage_pure_cpu) / n,
            "stage_gc_us_per_event": 1e6 * (gc.seconds["stage"] - self.gc_stage) / n,
            "pure_gc_us_per_event": 1e6 * (gc.seconds["reference"] - self.gc_reference) / n,
            "pure_events_per_s": n / self.reference_wall,
            "stage_events_per_s": n / stage_wall,
            "ratio_cpu": self.reference_cpu / stage_cpu,
            "ratio_wall": self.reference_wall / stage_wall,
        }


async def _stage(
    settings: Settings,
    pipeline: Any,
    payloads: list[tuple[bytes, bytes]],
    batch_size: int,
    *,
    warmup: int,
    round_records: int,
    rounds_wanted: int,
) -> list[dict[str, float]]:
    """The production tagging tenant over the payloads, the reference interleaved batch by batch
    (module doc); one dict per round. Start-up, the group join and `warmup` records do not count."""
    from runtime.heap import settle_heap
    from streams.agents import SLICE_RECORDS, tagging_loop
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix("bench-stateless")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix, batch_size=batch_size)
    await ensure_topics(settings, config)
    timed = _TimedPipeline(pipeline)
    gc_clock = _GcClock()

    def reference(records: list[Any]) -> tuple[float, float]:
        gc_clock.side = "reference"
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, len(records), SLICE_RECORDS):
            pipeline.process(records[start : start + SLICE_RECORDS])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        gc_clock.side = "stage"
        return cpu, wall

    def new_round() -> _Round:
        seconds = gc_clock.seconds
        return _Round(
            time.process_time(), time.perf_counter(), timed.cpu_s, seconds["stage"], seconds["reference"]
        )

    try:
        await produce(settings.kafka_bootstrap, config.raw_topic, payloads)
        loop = tagging_loop(settings, config, timed)  # type: ignore[arg-type]
        sink = loop.tenant
        write = sink.write
        expected = len(payloads)
        rounds: list[dict[str, float]] = []
        current: _Round | None = None
        done = 0
        finished = asyncio.Event()

        async def timed_write(batch: Any) -> None:
            nonlocal done, current
            if current is None:  # warming up, or the rounds are over: the stage alone, unmeasured
                await write(batch)
                done += len(batch)
                if done >= warmup and not rounds:
                    current = new_round()
            else:
                records = list(batch)
                before = current.batches % 2 == 1
                if before:
                    cpu, wall = reference(records)
                await write(batch)  # returns once Kafka acknowledged every output of the batch
                if not before:
                    cpu, wall = reference(records)
                current.reference_cpu += cpu
                current.reference_wall += wall
                current.records += len(records)
                current.batches += 1
                done += len(records)
                if current.records >= round_records:
                    now = time.process_time(), time.perf_counter()
                    rounds.append(current.close(*now, timed.cpu_s, gc_clock))
                    current = new_round() if len(rounds) < rounds_wanted else None
            if done >= expected:
                finished.set()

        sink.write = timed_write  # type: ignore[method-assign]
        thresholds = gc.get_threshold()
        settle_heap()  # as the worker does once it has started (runtime/heap.py)
        runner = asyncio.create_task(loop.run())
        gc.callbacks.append(gc_clock)
        try:
            waiter = asyncio.create_task(finished.wait())
            await asyncio.wait(
                {runner, waiter}, timeout=max(120.0, expected / 100), return_when=asyncio.FIRST_COMPLETED
            )
            if not finished.is_set():
                if runner.done():
                    runner.result()  # the loop's failure, as it is
                raise RuntimeError(f"the stage wrote {done} of {expected} events in time")
            if len(rounds) < rounds_wanted:
                raise RuntimeError(f"{len(rounds)} of {rounds_wanted} rounds measured: too few records")
        finally:
            gc.callbacks.remove(gc_clock)
            loop.stop()
            await runner
            gc.unfreeze()  # the parts that run after this one in the process measure as before
            gc.set_threshold(*thresholds)
        return rounds
    finally:
        await delete_topics_under(settings.kafka_bootstrap, prefix)


def bench_stateless(
    settings: Settings,
    *,
    events: int = 10_000,
    batch_size: int = 1000,
    rounds: int = ROUNDS,
    round_records: int = ROUND_RECORDS,
    warmup: int = WARMUP_RECORDS,
) -> dict[str, Any]:
    """The stage against its pure function on the same records, interleaved (module doc).

    `events` distinct events are replayed until `warmup + rounds * round_records` records (and
    two batches to spare: a round ends on a batch boundary) have gone through the stage; more
    events than that make more rounds. Each round's ratio is reported, the median and the span's
    total.
    """
    from streams.pipeline import Pipeline

    load_before = _load()
    payloads = _payloads(events)
    needed = warmup + rounds * round_records + 2 * batch_size
    stream = (payloads * math.ceil(needed / len(payloads)))[: max(needed, len(payloads))]
    rounds = max(rounds, (len(stream) - warmup - 2 * batch_size) // round_records)
    pipeline = Pipeline.default()
    _pure(pipeline, payloads[: min(events, 2000)], batch_size)  # fill the tagger's caches
    runs = asyncio.run(
        _stage(
            settings,
            pipeline,
            stream,
            batch_size,
            warmup=warmup,
            round_records=round_records,
            rounds_wanted=rounds,
        )
    )
    measured = sum(run["records"] for run in runs)

    def total(name: str) -> float:  # a per-event figure over the whole span
        return sum(run[name] * run["records"] for run in runs) / measured

    def median(name: str) -> float:
        return statistics.median(run[name] for run in runs)

    pure_us, stage_us, stage_pure_us = (
        total("pure_us_per_event"),
        total("stage_us_per_event"),
        total("stage_pure_us_per_event"),
    )
    ratios = [run["ratio_cpu"] for run in runs]
    return {
        "stateless": {
            "events": events,
            "records": len(stream),
            "measured_records": measured,
            "warmup_records": warmup,
            "batch_size": batch_size,
            "mean_batch": round(median("mean_batch")),
            "rounds": len(runs),
            "pure_events_per_cpu_s": round(1e6 / pure_us),
            "pure_events_per_s": round(median("pure_events_per_s")),
            "pure_us_per_event": round(pure_us, 1),
            "stage_events_per_cpu_s": round(1e6 / stage_us),
            "stage_events_per_s": round(median("stage_events_per_s")),
            "stage_us_per_event": round(stage_us, 1),
            # The stage's CPU inside its own Pipeline.process calls, and everything else.
            "stage_pure_us_per_event": round(stage_pure_us, 1),
            "framework_us_per_event": round(stage_us - stage_pure_us, 1),
            # Garbage collection inside each side's CPU above (where it started; docs/benchmarks.md).
            "stage_gc_us_per_event": round(total("stage_gc_us_per_event"), 1),
            "pure_gc_us_per_event": round(total("pure_gc_us_per_event"), 1),
            # The two sides share one heap, so which of them a full collection lands in depends on
            # both's history (with 500-record batches it mostly lands in the reference): the span's
            # ratio with collections taken out of both bounds how much that moves the figure.
            "ratio_cpu_without_gc": round(
                (pure_us - total("pure_gc_us_per_event")) / (stage_us - total("stage_gc_us_per_event")), 3
            ),
            # The goal's figure: the stage's pace as a share of its own pure function's.
            "ratio_cpu": round(statistics.median(ratios), 3),
            "ratio_cpu_total": round(pure_us / stage_us, 3),
            "ratio_cpu_min": round(min(ratios), 3),
            "ratio_wall": round(median("ratio_wall"), 3),
            "ratio_cpu_each_round": [round(r, 3) for r in ratios],
            "pure_us_each_round": [round(run["pure_us_per_event"], 1) for run in runs],
            "stage_us_each_round": [round(run["stage_us_per_event"], 1) for run in runs],
            "gc_us_each_round": [  # (reference, stage)
                (round(run["pure_gc_us_per_event"], 1), round(run["stage_gc_us_per_event"], 1))
                for run in runs
            ],
            "load_average_before": load_before,
            "load_average_after": _load(),
        }
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--round-records", type=int, default=ROUND_RECORDS)
    parser.add_argument("--warmup", type=int, default=WARMUP_RECORDS)
    args = parser.parse_args(argv)
    report = bench_stateless(
        Settings.from_env(),
        events=args.events,
        batch_size=args.batch_size,
        rounds=args.rounds,
        round_records=args.round_records,
        warmup=args.warmup,
    )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
