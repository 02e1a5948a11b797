"""Watching running `pxstream worker` processes from a bench part: how far their hotspot stages
have got, summed over a group, and how they share a topic's partitions. Read from each worker's
own /metrics and /healthz, so the measured processes run the production code unchanged."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bench.harness import WorkerProcess
from bench.pipeline import _metric_sum

HOTSPOT_EVENTS = "pxstream_hotspot_events_total"
EVENTS_IN = "pxstream_events_in_total"


def metric_total(workers: Sequence[WorkerProcess], name: str) -> float | None:
    """One counter summed over the workers; None while any of them does not answer."""
    total = 0.0
    for worker in workers:
        if worker.process is not None and worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}; log: {worker.log_path}")
        try:
            total += _metric_sum(worker.metrics_text(), name)
        except OSError:
            return None
    return total


def wait_hotspot_events(workers: Sequence[WorkerProcess], expected: int, timeout_s: float) -> float:
    """Until the workers' hotspot stages have applied ``expected`` events; the perf_counter then.
    Polled every 0.25 s: rendering /metrics costs the worker itself (about 5% of its CPU when
    polled every 0.1 s, by py-spy), and the figure is late by at most one interval."""
    deadline = time.monotonic() + timeout_s
    seen: float | None = 0.0
    while time.monotonic() < deadline:
        seen = metric_total(workers, HOTSPOT_EVENTS)
        if seen is not None and seen >= expected:
            return time.perf_counter()
        time.sleep(0.25)  # polling interval of the condition above, bounded by the deadline
    logs = ", ".join(str(worker.log_path) for worker in workers)
    raise TimeoutError(f"hotspot stages applied {seen} of {expected} events in {timeout_s:.0f} s; {logs}")


def wait_spread(workers: Sequence[WorkerProcess], topic: str, partitions: int, timeout_s: float) -> None:
    """Until the workers' tagging stages hold every partition of ``topic`` between them, each some."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = [
            {name for name in (worker.health() or {}).get("assigned", []) if name.startswith(topic + "[")}
            for worker in workers
        ]
        if all(held) and len(set().union(*held)) == partitions:
            return
        time.sleep(0.2)  # polling interval of the condition above, bounded by the deadline
    raise TimeoutError(f"{len(workers)} workers did not share {topic}'s {partitions} partitions")
