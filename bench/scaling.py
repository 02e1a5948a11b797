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

from bench.harness import Figure, WorkerProcess, part_result, raw_workload, unique_prefix
from bench.pipeline import PRODUCTION_RULES, _metric_sum
from runtime.admin import delete_topics
from runtime.produce import produce
from schemas.settings import Settings

DEFAULT_EVENTS = 30_000
WARMUP_EVENTS = 400
FIGURE = "scaling"


def _metric_total(workers: list[WorkerProcess], name: str) -> float | None:
    """The sum of one counter over the workers; None while any of them does not answer."""
    total = 0.0
    for worker in workers:
        if worker.process is not None and worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}; log: {worker.log_path}")
        try:
            total += _metric_sum(worker.metrics_text(), name)
        except OSError:
            return None
    return total


def _wait_total(workers: list[WorkerProcess], expected: int, timeout_s: float) -> float:
    """Until the workers' hotspot stages have applied ``expected`` events; the perf_counter then.
    Polled every 0.1 s (each poll renders two metrics pages, so not more often)."""
    deadline = time.monotonic() + timeout_s
    seen: float | None = 0.0
    while time.monotonic() < deadline:
        seen = _metric_total(workers, "pxstream_hotspot_events_total")
        if seen is not None and seen >= expected:
            return time.perf_counter()
        time.sleep(0.1)  # polling interval of the condition above, bounded by the deadline
    logs = ", ".join(str(worker.log_path) for worker in workers)
    raise TimeoutError(
        f"hotspot stages applied {seen} of {expected} events in {timeout_s:.0f} s; logs: {logs}"
    )


def _wait_spread(workers: list[WorkerProcess], raw_topic: str, partitions: int, timeout_s: float) -> None:
    """Until the workers hold every partition of the raw topic between them, each some."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = [
            {name for name in (worker.health() or {}).get("assigned", []) if name.startswith(raw_topic + "[")}
            for worker in workers
        ]
        if all(held) and len(set().union(*held)) == partitions:
            return
        time.sleep(0.2)  # polling interval of the condition above, bounded by the deadline
    raise TimeoutError(f"{len(workers)} workers did not share {raw_topic}'s {partitions} partitions")


def _run(
    settings: Settings, workload: tuple[tuple[bytes, bytes], ...], count: int, tmp: Path
) -> dict[str, Any]:
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix(f"bench-scaling-{count}")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    bootstrap = settings.kafka_bootstrap
    asyncio.run(ensure_topics(settings, config))
    workers = [
        WorkerProcess(
            settings,
            prefix=prefix,
            app_id=config.app_id,
            data_dir=tmp / f"{count}-{index}",
            log_path=tmp / f"worker-{count}-{index}.log",
            extra_args=("--no-sink", "--no-actions"),
            python_args=("-m", "bench.cheap_worker"),
            env={"PXSTREAM_RULES": str(PRODUCTION_RULES), "PXSTREAM_ALERTMANAGER_URL": ""},
        )
        for index in range(count)
    ]
    raw = next(spec for spec in config.declared_topics() if spec.name == config.raw_topic)
    try:
        for worker in workers:
            worker.start()
        _wait_spread(workers, raw.name, raw.partitions, timeout_s=120.0)
        asyncio.run(produce(bootstrap, config.raw_topic, raw_workload(WARMUP_EVENTS, seed=3)))
        _wait_total(workers, WARMUP_EVENTS, timeout_s=120.0)
        before_in = [_metric_total([worker], "pxstream_events_in_total") or 0.0 for worker in workers]
        cpu_before = [worker.cpu_seconds() for worker in workers]
        began = time.perf_counter()
        asyncio.run(produce(bootstrap, config.raw_topic, workload))
        ended = _wait_total(workers, WARMUP_EVENTS + len(workload), timeout_s=max(180.0, len(workload) / 100))
        cpu = sum(worker.cpu_seconds() - was for worker, was in zip(workers, cpu_before, strict=True))
        shares = [
            ((_metric_total([worker], "pxstream_events_in_total") or 0.0) - was) / len(workload)
            for worker, was in zip(workers, before_in, strict=True)
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
        "event_share": [round(share, 3) for share in shares],
        "seconds": round(ended - began, 2),
    }


def run_part(settings: Settings, events: int | None = None) -> dict[str, Any]:
    """One worker, then two in one group, on the same events; the ratio of their rates."""
    workload = raw_workload(events or DEFAULT_EVENTS)
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
        note=f"two workers' shares {two['event_share']}; one worker {one['cpu_us_per_event']} CPU µs/event",
    )
    return part_result(figure, scaling={"one": one, "two": two})
