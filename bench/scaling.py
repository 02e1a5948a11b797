"""Goal 6: the full pipeline, tagging cost aside, in one worker and in two workers of one group.

    pxstream bench --only scaling

One worker, then two workers in one group and one worker again, `ROUNDS` times (1, 2, 1, 2, 1,
2, 1): each two-worker run against the mean of the one-worker runs either side of it is a round,
and the median round is the figure (`run_part`). Every run gets the same events on fresh topics of
the production partition counts: workers (`python -m bench.cheap_worker worker`, the production
command with a near-free tagger) start first, every partition of feedback.raw is assigned (to both
workers in the two-worker run), warm-up batches go all the way through until every worker's hotspot
stage has applied some, and only then are the measured events produced. Start-up, group joins and
rebalances are therefore outside the measured span, which runs from producing the first measured
event until the workers' ``pxstream_hotspot_events_total`` together reach them all: tagged,
windowed and ruled. If a worker's partitions change inside the span, the part says so.

On two cores a CPU-bound worker is not the only process: the broker handles every record too.
With ``w`` the worker's CPU µs per event and ``b`` the broker's (its JVM, from /proc), one worker
runs at 1/w (the broker on the other core), and two workers and the broker share both cores, at
most 2/(w+b): the ratio cannot pass ``2w/(w+b)`` however well the code scales. The part reports
that bound beside the measured ratio, with what each run cost per event (every worker, the
broker, the bench's own producer) and where each worker's event loop spent the span (on a core,
waiting for a core, asleep), so a reader can tell the code's shortfall from the machine's:

* two workers costing more per event than one (``w`` or ``b`` up): the code (more requests, a
  stage working twice);
* a loop asleep much of the span with work waiting: the code (fetch waits, lingers, lock-step);
* a loop waiting for a core: the machine (other processes on the two cores);
* an uneven share of events: the partitioning.

The figures are judged in CPU per event first: the machine is shared, and wall-clock rates move
with its load (printed per run).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
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
from bench.scaling_rounds import median_of, median_round, rounds_of
from bench.workers import (
    HOTSPOT_EVENTS,
    metric_total,
    net_of_idle,
    sample,
    summarise_span,
    wait_hotspot_events,
    wait_spread,
    watch_until_applied,
)
from runtime.admin import delete_topics_under, topic_names
from runtime.produce import new_producer, send_batched
from runtime.tail import end_offsets
from schemas.settings import Settings

# Long enough that a run lasts several seconds even on a quiet machine (about 10 s for one worker),
# so the span's ends — the first fetch, the last batch, the half-second between samples — are a
# few per cent of it. It was 30,000 until the worker became fast enough to take them in 4 s (two
# workers in 2.6 s), when those ends alone pulled the ratio from a steady 1.8× to 1.66×.
DEFAULT_EVENTS = 80_000
WARMUP_EVENTS = 400
IDLE_SECONDS = 3.0
ROUNDS = 3
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


def _idle_core_share(workers: list[WorkerProcess], broker: int | None) -> dict[str, Any]:
    """Each worker's and the broker's share of a core while the workers have nothing to do
    (timers, heartbeats, offset refreshes, and the fetch requests of consumers with short fetch
    waits, which the broker answers): a fixed cost that a run divides by its events."""
    before = sample(workers, broker)
    time.sleep(IDLE_SECONDS)  # the measured span itself, not a wait for a condition
    after = sample(workers, broker)
    seconds = after.at - before.at
    return {
        "workers": [
            round((a.cpu_s - b.cpu_s) / seconds, 3)
            for a, b in zip(after.workers, before.workers, strict=True)
        ],
        "broker": round((after.broker_cpu_s - before.broker_cpu_s) / seconds, 3)
        if after.broker_cpu_s is not None and before.broker_cpu_s is not None
        else None,
    }


def _warm_up(workers: list[WorkerProcess], bootstrap: str, topic: str, rounds: int = 5) -> int:
    """Warm-up batches until every worker's hotspot stage has applied some of them: the hotspot
    stage is a consumer group of its own, whose rebalance may settle after the tagging stage's; a
    rebalance inside the measured span would stop the world and restore tables. Returns the
    events sent, all of them applied."""
    sent = 0
    for round_ in range(rounds):
        batch = raw_workload(WARMUP_EVENTS, seed=1_000 + round_)
        asyncio.run(_produce(bootstrap, topic, batch))
        sent += len(batch)
        wait_hotspot_events(workers, sent, timeout_s=120.0)
        if all(metric_total([worker], HOTSPOT_EVENTS) for worker in workers):
            return sent
    raise RuntimeError(f"after {rounds} warm-up batches a worker's hotspot stage still had no partition")


async def _produce(bootstrap: str, topic: str, records: Sequence[tuple[bytes, bytes]]) -> None:
    """Every record, in record batches of one partition each (runtime.produce.send_batched): a few
    µs per event of the bench's own CPU, which shares the two cores with what is measured."""
    producer = new_producer(bootstrap, client_id="bench-scaling")
    await producer.start()
    try:
        for start in range(0, len(records), 5_000):
            await asyncio.gather(*await send_batched(producer, topic, records[start : start + 5_000]))
    finally:
        await producer.stop()


async def _records_written(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records ever written to each of the run's topics (the sum of its partitions' end offsets),
    Faust's own among them (the hotspot table's changelog, the ticks topic): read before and after
    the span, the records per event each topic costs the broker."""
    names = sorted(name for name in await topic_names(bootstrap) if name.startswith(prefix))
    return {name.replace(prefix, ""): sum((await end_offsets(bootstrap, name)).values()) for name in names}


def _held(workers: list[WorkerProcess]) -> list[list[str]]:
    """Each worker's partitions as its /healthz lists them (the tagging and the hotspot stage's)."""
    return [sorted((worker.health() or {}).get("assigned", [])) for worker in workers]


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
    broker = _broker_pid(settings)
    try:
        for worker in workers:
            worker.start()
        wait_spread(workers, raw.name, raw.partitions, timeout_s=120.0)
        warmed = _warm_up(workers, bootstrap, config.raw_topic)
        idle = _idle_core_share(workers, broker)
        held_before = _held(workers)
        load_before = os.getloadavg()[0]
        written_before = asyncio.run(_records_written(bootstrap, prefix))
        first = sample(workers, broker)
        asyncio.run(_produce(bootstrap, config.raw_topic, workload))
        produced_s = time.perf_counter() - first.at
        samples = watch_until_applied(
            workers, broker, sum(first.applied) + len(workload), timeout_s=max(180.0, len(workload) / 100)
        )
        load_after = os.getloadavg()[0]
        held_after = _held(workers)
        written_after = asyncio.run(_records_written(bootstrap, prefix))
    finally:
        for worker in workers:
            worker.stop()
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics_under(bootstrap, prefix))
    span = summarise_span(first, samples[-1], len(workload))
    net = [
        net_of_idle(us, share, span["seconds"], len(workload))
        for us, share in zip(span["worker_cpu_us_per_event"], idle["workers"], strict=True)
    ]
    return {
        **span,
        "records_per_event": {
            topic: round((count - written_before.get(topic, 0)) / len(workload), 3)
            for topic, count in written_after.items()
            if count > written_before.get(topic, 0)
        },
        "warm_up_events": warmed,
        "produced_s": round(produced_s, 2),
        "idle_core_share": idle,
        "worker_cpu_us_per_event_net_of_idle": net,
        "broker_cpu_us_per_event_net_of_idle": net_of_idle(
            span["broker_cpu_us_per_event"], idle["broker"], span["seconds"], len(workload)
        )
        if span["broker_cpu_us_per_event"] is not None and idle["broker"] is not None
        else None,
        "held": held_after,
        "rebalanced_in_span": held_before != held_after,
        "load": [round(load_before, 2), round(load_after, 2)],
        "progress": [
            [
                round(s.at - first.at, 2),
                sum(s.tagged) - sum(first.tagged),
                sum(s.applied) - sum(first.applied),
            ]
            for s in samples
        ],
    }


def _percent(values: Sequence[float]) -> str:
    return "/".join(f"{value:.0%}" if not math.isnan(value) else "?" for value in values)


def _describe(run: dict[str, Any]) -> str:
    """One run in a few lines: rate and load, CPU per event of each process, shares, where each
    worker's loop was, the idle costs, and the Kafka traffic per event."""
    requests = ", ".join(f"{name} {count:g}" for name, count in run["requests_per_1000_events"].items())
    records = ", ".join(f"{topic} {count:g}" for topic, count in run["records_per_event"].items())
    moved = " — PARTITIONS MOVED INSIDE THE SPAN" if run["rebalanced_in_span"] else ""
    return (
        f"{run['workers']} worker(s): {run['events_per_s']:,.0f} events/s over {run['seconds']:.1f} s; "
        f"load {run['load'][0]:.1f}→{run['load'][1]:.1f}, others took {run['others_cores']:.2f} cores"
        f"{moved}\n"
        f"  CPU µs/event: workers {run['worker_cpu_us_per_event']} (sum {run['cpu_us_per_event']}), "
        f"broker {run['broker_cpu_us_per_event']}, bench producer {run['bench_cpu_us_per_event']}; net of "
        f"idle: workers {run['worker_cpu_us_per_event_net_of_idle']}, broker "
        f"{run['broker_cpu_us_per_event_net_of_idle']}; "
        f"shares: tagging {run['tagging_share']}, hotspots {run['hotspot_share']}\n"
        f"  worker loops: on a core {_percent(run['loop_on_core'])}, waiting for a core "
        f"{_percent(run['loop_waiting_for_core'])}, asleep {_percent(run['loop_asleep'])}; idle cost: "
        f"workers {run['idle_core_share']['workers']} of a core, broker {run['idle_core_share']['broker']}\n"
        f"  Kafka requests per 1,000 events: {requests or 'not counted'}\n"
        f"  records per event: {records}"
    )


def run_part(settings: Settings, events: int | None = None, rounds: int = ROUNDS) -> dict[str, Any]:
    """One worker, then `rounds` times two workers in one group and one worker again, on the same
    events: each two-worker run's rate over the mean of the one-worker runs either side of it is
    a round's ratio, and the median round is the figure, beside the bound the broker's share of
    the cores sets and what each run cost per event.

    Either side, because this machine's pace drifts: the same one-worker run measured 97 and 121
    CPU µs/event a minute apart, which moved a one-then-two ratio from 1.73× to 1.46× with
    nothing changed; a drift steady over three runs cancels in the mean. Several rounds and their
    median, because a drift is not always steady: on 4 December single rounds of unchanged code
    read 1.16–2.26× within twelve minutes (docs/benchmarks.md, "Rounds").
    """
    from schemas import topics

    raw_partitions = next(spec.partitions for spec in topics.TOPICS if spec.name == topics.RAW)
    workload = balanced_workload(events or DEFAULT_EVENTS, raw_partitions)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-scaling-") as tmp:
        for count in (1, *(2, 1) * max(1, rounds)):
            runs.append(_run(settings, workload, count, Path(tmp)))
            print(f"bench: scaling: {_describe(runs[-1])}", file=sys.stderr, flush=True)
    measured = rounds_of(runs)
    median = median_round(measured)
    bound = median_of([item["bound"] for item in measured])
    from_cpu = median_of([item["from_cpu"] for item in measured])

    def each(name: str, digits: int = 2) -> str:
        return ", ".join("?" if item[name] is None else f"{item[name]:.{digits}f}" for item in measured)

    note = (
        f"median of {len(measured)} rounds; ratios {each('ratio')}, bounds 2w/(w+b) {each('bound')}, "
        f"from CPU {each('from_cpu')}; median round: one worker {median['one_events_per_s']:,.0f} "
        f"events/s (w {median['w1']}, b {median['b1']}), two workers {median['two_events_per_s']:,.0f} "
        f"(w {median['w2']}, b {median['b2']}); others took "
        + " / ".join(f"{cores:.2f}" for cores in median["others_cores"])
        + " cores, load "
        + " / ".join(f"{load:.1f}" for load in median["load"])
    )
    figures = [
        Figure(
            FIGURE,
            median["two_events_per_s"],
            "events/s",
            reference=median["one_events_per_s"],
            reference_name="one worker, mean of the runs before and after (median round)",
            target=1.7,
            cpu_us_per_event=median["w2"],
            events=len(workload),
            note=note,
        )
    ]
    if bound is not None and from_cpu is not None:
        figures += [
            Figure(name, round(value, 3), unit, events=len(workload), note=text)
            for name, value, unit, text in (
                (
                    "scaling-bound",
                    bound,
                    "× (2w/(w+b): one worker's CPU w and the broker's b per event; median round)",
                    f"each round {each('bound')}; w {each('w1', 1)} µs, b {each('b1', 1)} µs",
                ),
                (
                    "scaling-from-cpu",
                    from_cpu,
                    "× (2·w₁/(w₂+b₂): the ratio on two free cores at each run's CPU per event; median round)",
                    f"each round {each('from_cpu')}; w₂ {each('w2', 1)}, b₂ {each('b2', 1)}",
                ),
            )
        ]
    return part_result(
        *figures, scaling={"runs": runs, "rounds": measured, "bound": bound, "from_cpu": from_cpu}
    )
