"""Goal 6: the full pipeline, tagging cost aside, in one worker and in two workers of one group.

    pxstream bench --only scaling

Both runs get the same events on fresh topics of the production partition counts: workers
(`python -m bench.cheap_worker worker`, the production command with a near-free tagger) start
first, every partition of feedback.raw is assigned (to both workers in the two-worker run), a
warm-up batch goes all the way through the hotspot stage, and only then are the measured events
produced. The clock runs from the first measured event produced until the workers'
``pxstream_hotspot_events_total`` together reach the events sent: tagged, windowed and ruled.
CPU µs per event is the workers' own CPU time over that span. Each worker's share of the events
(``pxstream_events_in_total``) is reported too: a ratio short of 2× with an uneven share is
the partitioning, an even share with a short ratio is the workers contending for the cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    Figure,
    WorkerProcess,
    part_result,
    process_cpu_seconds,
    raw_workload,
    synthetic_events,
    unique_prefix,
)
from bench.pipeline import PRODUCTION_RULES
from bench.workers import EVENTS_IN, HOTSPOT_EVENTS, metric_total, wait_hotspot_events, wait_spread
from runtime.admin import delete_topics
from runtime.produce import produce
from schemas.settings import Settings

DEFAULT_EVENTS = 8_000
WARMUP_EVENTS = 400
FIGURE = "scaling"


def balanced_workload(count: int, partitions: int, seed: int = 7) -> tuple[tuple[bytes, bytes], ...]:
    """The harness's synthetic FeedbackEvents with each event's provider drawn from those whose key
    hashes to partition ``index % partitions`` (Kafka's own partitioner), so every partition
    carries the same load. The feed's eight providers hash 1 : 2 : 3 : 2 to four partitions:
    keyed as they come, the worker holding the heavy pair would count 5/8 of the events and cap
    the ratio at 1.6× whatever the code does. Goal 6 asks how the worker scales with partitions."""
    import random

    import orjson
    from aiokafka.partitioner import DefaultPartitioner

    events = synthetic_events(count, seed=seed)
    choose = DefaultPartitioner()
    every = list(range(partitions))
    by_partition: dict[int, list[str]] = {}
    for provider in sorted({event["provider"] for event in events}):
        by_partition.setdefault(choose(provider.encode(), every, every), []).append(provider)
    if len(by_partition) < partitions:
        raise RuntimeError(f"the feed's providers reach only {len(by_partition)} of {partitions} partitions")
    rng = random.Random(seed)
    out = []
    for index, event in enumerate(events):
        event["provider"] = rng.choice(by_partition[index % partitions])
        out.append((event["provider"].encode(), orjson.dumps(event)))
    return tuple(out)


def _broker_pid(settings: Settings) -> int | None:
    """The local broker's pid when this data dir started it (`pxstream infra up`), else None: its
    CPU per event is part of what two cores must carry, beside the workers'."""
    from infra.config import InfraConfig

    try:
        pid = int((InfraConfig.from_settings(settings).run_dir / "kafka.pid").read_text().split()[0])
        process_cpu_seconds(pid)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def _counters(worker: WorkerProcess) -> tuple[float, float]:
    """(events the worker's tagging stage read, events its hotspot stage applied) so far."""
    return (metric_total([worker], EVENTS_IN) or 0.0, metric_total([worker], HOTSPOT_EVENTS) or 0.0)


def _idle_core_share(workers: list[WorkerProcess], seconds: float = 3.0) -> list[float]:
    """Each worker's share of a core while it has nothing to do (timers, heartbeats, lag and
    committed-offset refreshes): a fixed cost that a short run at a low rate divides by few events."""
    before = [worker.cpu_seconds() for worker in workers]
    time.sleep(seconds)  # the measured span itself, not a wait for a condition
    after = [worker.cpu_seconds() for worker in workers]
    return [round((now - was) / seconds, 3) for now, was in zip(after, before, strict=True)]


def _warm_up(workers: list[WorkerProcess], bootstrap: str, topic: str, rounds: int = 5) -> int:
    """Warm-up batches until every worker's hotspot stage has applied some of them: the hotspot
    stage is a Faust consumer group of its own, whose rebalance may settle after the tagging
    stage's; a rebalance inside the measured span would stop the world and restore tables. Returns
    the events sent, all of them applied."""
    sent = 0
    for round_ in range(rounds):
        batch = raw_workload(WARMUP_EVENTS, seed=1_000 + round_)
        asyncio.run(produce(bootstrap, topic, batch))
        sent += len(batch)
        wait_hotspot_events(workers, sent, timeout_s=120.0)
        if all(metric_total([worker], HOTSPOT_EVENTS) for worker in workers):
            return sent
    raise RuntimeError(f"after {rounds} warm-up batches a worker's hotspot stage still had no partition")


def _run(
    settings: Settings, workload: tuple[tuple[bytes, bytes], ...], count: int, tmp: Path
) -> dict[str, Any]:
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix(f"bench-scaling-{count}")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    bootstrap = settings.kafka_bootstrap
    asyncio.run(ensure_topics(settings, config))
    workers = [
        WorkerProcess.in_group(
            settings,
            config,
            tmp,
            rules=PRODUCTION_RULES,
            name=f"worker-{count}-{index}",
            python_args=("-m", "bench.cheap_worker"),
        )
        for index in range(count)
    ]
    raw = next(spec for spec in config.declared_topics() if spec.name == config.raw_topic)
    try:
        for worker in workers:
            worker.start()
        wait_spread(workers, raw.name, raw.partitions, timeout_s=120.0)
        warmed = _warm_up(workers, bootstrap, config.raw_topic)
        idle = _idle_core_share(workers)
        counted = [_counters(worker) for worker in workers]
        cpu_before = [worker.cpu_seconds() for worker in workers]
        broker = _broker_pid(settings)
        broker_before = process_cpu_seconds(broker) if broker else 0.0
        began = time.perf_counter()
        asyncio.run(produce(bootstrap, config.raw_topic, workload))
        expected = warmed + len(workload)
        ended = wait_hotspot_events(workers, expected, timeout_s=max(180.0, len(workload) / 100))
        cpu = sum(worker.cpu_seconds() - was for worker, was in zip(workers, cpu_before, strict=True))
        broker_cpu = process_cpu_seconds(broker) - broker_before if broker else None
        # Each worker's share of the tagging and of the hotspot stage (two consumer groups, each
        # with its own assignment) over the measured events.
        shares = [
            [round((now - was) / len(workload), 3) for now, was in zip(_counters(w), before, strict=True)]
            for w, before in zip(workers, counted, strict=True)
        ]
    finally:
        for worker in workers:
            worker.stop()
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics(bootstrap, [spec.name for spec in config.declared_topics()]))
    return {
        "workers": count,
        "events_per_s": round(len(workload) / (ended - began), 1),
        "cpu_us_per_event": round(1e6 * cpu / len(workload), 1),
        "tagging_share": [share[0] for share in shares],
        "hotspot_share": [share[1] for share in shares],
        "idle_core_share": idle,
        "broker_cpu_us_per_event": round(1e6 * broker_cpu / len(workload), 1) if broker_cpu else None,
        "seconds": round(ended - began, 2),
    }


def run_part(settings: Settings, events: int | None = None) -> dict[str, Any]:
    """One worker, then two in one group, on the same events; the ratio of their rates."""
    from schemas import topics

    raw_partitions = next(spec.partitions for spec in topics.TOPICS if spec.name == topics.RAW)
    workload = balanced_workload(events or DEFAULT_EVENTS, raw_partitions)
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-scaling-") as tmp:
        one = _run(settings, workload, 1, Path(tmp))
        two = _run(settings, workload, 2, Path(tmp))
    figure = Figure(
        FIGURE,
        two["events_per_s"],
        "events/s",
        reference=one["events_per_s"],
        reference_name="one worker",
        target=1.7,
        cpu_us_per_event=two["cpu_us_per_event"],
        events=len(workload),
        note=(
            f"two workers' shares: tagging {two['tagging_share']}, hotspots {two['hotspot_share']}, "
            f"idle core {two['idle_core_share']}; one worker {one['cpu_us_per_event']} CPU µs/event; "
            f"broker {one['broker_cpu_us_per_event']} / {two['broker_cpu_us_per_event']} CPU µs/event"
        ),
    )
    return part_result(figure, scaling={"one": one, "two": two})
