"""Watching running `pxstream worker` processes from a bench part: how far their stages have got,
summed over a group, how they share a topic's partitions, and where each process's time went.
Read from each worker's own /metrics and /healthz and from /proc, so the measured processes run
the production code unchanged."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.harness import WorkerProcess, process_cpu_seconds
from bench.pipeline import _metric_sum

HOTSPOT_EVENTS = "pxstream_hotspot_events_total"
EVENTS_IN = "pxstream_events_in_total"
# Counted by bench/cheap_worker.py in the worker itself (absent from the production worker).
KAFKA_REQUESTS = "bench_kafka_requests_total"


def metric_total(workers: Sequence[WorkerProcess], name: str) -> float | None:
    """One counter summed over the workers; None while any of them does not answer."""
    total = 0.0
    for worker in workers:
        _check_alive(worker)
        try:
            total += _metric_sum(worker.metrics_text(), name)
        except OSError:
            return None
    return total


def _check_alive(worker: WorkerProcess) -> None:
    if worker.process is not None and worker.process.poll() is not None:
        raise RuntimeError(f"worker exited with {worker.process.returncode}; log: {worker.log_path}")


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


@dataclass(frozen=True)
class ProcessTimes:
    """A process's CPU so far, and where its main thread (the worker's event loop) spent its time.

    ``loop_run_s`` is the main thread on a core, ``loop_queued_s`` runnable but waiting for one
    (the machine's doing: other processes on the cores); the rest of the wall-clock time the loop
    was asleep, waiting for I/O or a timer (the code's doing: fetch waits, lingers, an idle stage).
    From the kernel's /proc/<pid>/task/<pid>/schedstat (nanoseconds run, nanoseconds queued)."""

    cpu_s: float
    loop_run_s: float
    loop_queued_s: float


def process_times(pid: int) -> ProcessTimes:
    cpu = process_cpu_seconds(pid)
    try:
        run_ns, queued_ns, *_ = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):  # a kernel without schedstats: the loop's split is unknown
        return ProcessTimes(cpu, float("nan"), float("nan"))
    return ProcessTimes(cpu, int(run_ns) / 1e9, int(queued_ns) / 1e9)


@dataclass(frozen=True)
class Sample:
    """One look at every worker and the broker: each worker's counters and times, the broker's CPU,
    this (the bench's own) process's CPU, at ``at`` (perf_counter)."""

    at: float
    tagged: tuple[float, ...]
    applied: tuple[float, ...]
    workers: tuple[ProcessTimes, ...]
    broker_cpu_s: float | None
    bench_cpu_s: float
    machine_busy_s: float
    # Kafka requests the workers sent so far, summed over them: (API, client) → count.
    requests: dict[tuple[str, str], float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Counters:
    tagged: float
    applied: float
    requests: dict[tuple[str, str], float]


def _counters(worker: WorkerProcess) -> _Counters:
    """What the worker's /metrics says its stages did and its clients sent: one read, one parse."""
    from prometheus_client.parser import text_string_to_metric_families

    _check_alive(worker)
    totals = {EVENTS_IN: 0.0, HOTSPOT_EVENTS: 0.0}
    requests: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(worker.metrics_text()):
        for item in family.samples:
            if item.name in totals:
                totals[item.name] += item.value
            elif item.name == KAFKA_REQUESTS:
                key = (item.labels.get("api", ""), item.labels.get("client", ""))
                requests[key] = requests.get(key, 0.0) + item.value
    return _Counters(totals[EVENTS_IN], totals[HOTSPOT_EVENTS], requests)


_TICK = os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy so far (all processes, the kernel and
    time the hypervisor stole), from /proc/stat: over a span, minus what the measured processes
    used, what everything else on the machine took from the same cores."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    return (user + nice + system + irq + softirq + steal) / _TICK


def sample(workers: Sequence[WorkerProcess], broker_pid: int | None) -> Sample:
    counters = [_counters(worker) for worker in workers]
    times = [process_times(worker.process.pid) for worker in workers if worker.process is not None]
    requests: dict[tuple[str, str], float] = {}
    for each in counters:
        for key, count in each.requests.items():
            requests[key] = requests.get(key, 0.0) + count
    return Sample(
        at=time.perf_counter(),
        tagged=tuple(each.tagged for each in counters),
        applied=tuple(each.applied for each in counters),
        workers=tuple(times),
        broker_cpu_s=process_cpu_seconds(broker_pid) if broker_pid else None,
        bench_cpu_s=sum(os.times()[:2]),
        machine_busy_s=machine_busy_seconds(),
        requests=requests,
    )


def watch_until_applied(
    workers: Sequence[WorkerProcess],
    broker_pid: int | None,
    expected: float,
    timeout_s: float,
    interval_s: float = 0.5,
) -> list[Sample]:
    """Samples every ``interval_s`` until the workers' hotspot stages together applied
    ``expected`` events (the last sample is the first that shows it). Half a second between looks:
    each costs every worker a /metrics render, a fixed cost beside thousands of events a second."""
    deadline = time.monotonic() + timeout_s
    samples = [sample(workers, broker_pid)]
    while sum(samples[-1].applied) < expected:
        if time.monotonic() > deadline:
            logs = ", ".join(str(worker.log_path) for worker in workers)
            raise TimeoutError(
                f"hotspot stages applied {sum(samples[-1].applied):.0f} of {expected:.0f} events "
                f"in {timeout_s:.0f} s; {logs}"
            )
        time.sleep(interval_s)  # the interval between samples, bounded by the deadline
        try:
            samples.append(sample(workers, broker_pid))
        except OSError:  # a worker too busy to answer within the timeout: look again next time
            continue
    return samples


def summarise_span(first: Sample, last: Sample, events: int) -> dict[str, Any]:
    """What one run's measured span cost, from its first and last samples: rate, each process's CPU
    µs per event, each worker's share of both stages, and each worker's event loop's time on a
    core, waiting for a core and asleep, as shares of the span."""
    seconds = last.at - first.at
    workers = range(len(first.workers))

    def per_event(after: float, before: float) -> float:
        return round(1e6 * (after - before) / events, 1)

    def share_of_span(after: float, before: float) -> float:
        return round((after - before) / seconds, 3) if not math.isnan(after - before) else float("nan")

    worker_us = [per_event(last.workers[i].cpu_s, first.workers[i].cpu_s) for i in workers]
    loop_run = [share_of_span(last.workers[i].loop_run_s, first.workers[i].loop_run_s) for i in workers]
    queued = [share_of_span(last.workers[i].loop_queued_s, first.workers[i].loop_queued_s) for i in workers]
    broker_us = (
        per_event(last.broker_cpu_s, first.broker_cpu_s)
        if last.broker_cpu_s is not None and first.broker_cpu_s is not None
        else None
    )
    ours = sum(us for us in worker_us) + (broker_us or 0.0) + per_event(last.bench_cpu_s, first.bench_cpu_s)
    machine = last.machine_busy_s - first.machine_busy_s
    return {
        "workers": len(worker_us),
        "events": events,
        # Cores' worth of CPU the rest of the machine (other people's work) took during the span.
        "others_cores": round(max(0.0, machine - ours * events / 1e6) / seconds, 2),
        "seconds": round(seconds, 2),
        "events_per_s": round(events / seconds, 1),
        "worker_cpu_us_per_event": worker_us,
        "cpu_us_per_event": round(sum(worker_us), 1),
        "broker_cpu_us_per_event": broker_us,
        "bench_cpu_us_per_event": per_event(last.bench_cpu_s, first.bench_cpu_s),
        "worker_core_share": [round(us * events / 1e6 / seconds, 3) for us in worker_us],
        "tagging_share": [round((last.tagged[i] - first.tagged[i]) / events, 3) for i in workers],
        "hotspot_share": [round((last.applied[i] - first.applied[i]) / events, 3) for i in workers],
        "loop_on_core": loop_run,
        "loop_waiting_for_core": queued,
        "requests_per_1000_events": {
            f"{api} ({client})": round(1000 * (count - first.requests.get((api, client), 0.0)) / events, 1)
            for (api, client), count in sorted(last.requests.items())
            if count > first.requests.get((api, client), 0.0)
        },
        "loop_asleep": [
            round(max(0.0, 1 - run - wait), 3) for run, wait in zip(loop_run, queued, strict=True)
        ],
    }


def net_of_idle(us_per_event: float, idle_core_share: float, seconds: float, events: int) -> float:
    """CPU µs per event less what the process would have used over the span doing nothing (its
    idle share of a core): the cost of the events themselves. The fixed part falls per event as
    the rate rises, so runs at different rates compare better on this."""
    return round(us_per_event - 1e6 * idle_core_share * seconds / events, 1)
