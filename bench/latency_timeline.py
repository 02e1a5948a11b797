"""Where an alert's time went: a timeline per latency trial, so a slow trial names its hop.

The latency part (bench/latency.py) measures one number per trial, from the crossing event on
feedback.raw to the firing alert on hotspots.alerts. That number alone cannot tell a worker that
is slow per event from one that fell behind, nor say why it fell behind. Beside it this module
keeps, all from outside the worker (the measured process runs the production code unchanged):

* per trial, the Kafka timestamps of the crossing event on feedback.raw and on feedback.tagged
  and of the alert: the tagging hop (raw → tagged) and the hotspot hop (tagged → alert);
* once a second, how far each of the worker's consumer groups is behind (end offsets against
  the group's committed offsets, so within a commit interval of the truth), and the worker's
  CPU time and run-queue wait (/proc/<pid>/task/*/schedstat: time its threads were ready to run
  but had no core) as shares of one core;
* the worker log's lines about its groups (joins, revocations, assignments), its recoveries and
  its late timers, with their times.

`explain` joins them: per-hop percentiles, and for each slow trial its hop, the largest lag of
each group while it waited, and the worker events meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.harness import process_cpu_seconds

SAMPLE_INTERVAL_S = 1.0
SLOW_TRIAL_MS = 1000.0  # the goal's limit: a trial above it is explained in the report
MAX_EXPLAINED = 8  # slowest trials listed with their timeline
MAX_EVENTS = 200  # worker log lines kept in the report (Faust logs every late timer)
_LOG_TIME = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]")
# Worker log lines that move a group, start a stage or show the event loop held up.
_NOTABLE = re.compile(
    r"join|rebalanc|revok|assign|heartbeat|generation|coordinator|recover|woke up too late|"
    r"ready|standing by|active, |stopped|lost|timed out",
    re.IGNORECASE,
)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))])


def spread(values: Sequence[float]) -> dict[str, float]:
    """p50 / p90 / p99 / max, rounded to the millisecond; empty when there are no values."""
    if not values:
        return {}
    return {
        "p50": round(percentile(values, 0.5)),
        "p90": round(percentile(values, 0.9)),
        "p99": round(percentile(values, 0.99)),
        "max": round(max(values)),
    }


@dataclass
class Trial:
    """One trial's crossing event and alert, as Kafka timestamps (epoch ms)."""

    index: int
    ward: str
    raw_ms: int
    tagged_ms: int | None = None
    alert_ms: int | None = None

    @property
    def latency_ms(self) -> float | None:
        return None if self.alert_ms is None else float(self.alert_ms - self.raw_ms)

    @property
    def tagging_ms(self) -> float | None:
        return None if self.tagged_ms is None else float(self.tagged_ms - self.raw_ms)

    @property
    def hotspot_ms(self) -> float | None:
        if self.tagged_ms is None or self.alert_ms is None:
            return None
        return float(self.alert_ms - self.tagged_ms)


@dataclass
class Sample:
    """One second of the worker: records each group is behind, CPU and run-queue wait."""

    at_ms: int
    lag: dict[str, int]
    cpu_share: float
    wait_share: float


def _thread_schedstat(pid: int) -> dict[str, tuple[int, int]]:
    """thread id → (ns on a core, ns waiting for one) for every thread of `pid`."""
    found: dict[str, tuple[int, int]] = {}
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                ran, waited, _ = (task / "schedstat").read_text().split()
                found[task.name] = (int(ran), int(waited))
    return found


@dataclass
class Sampler:
    """Samples the worker's groups and scheduling once a second until `stop` is set.

    `groups` maps a stage name to (consumer group, topic it reads): the lag is the topic's end
    offsets minus the group's committed offsets, summed over partitions."""

    bootstrap: str
    pid: int
    groups: Mapping[str, tuple[str, str]]
    samples: list[Sample] = field(default_factory=list)

    def keeps_up(self, limit: int) -> bool:
        """Whether every stage was at most `limit` records behind on each of the last two samples."""
        recent = self.samples[-2:]
        return len(recent) == 2 and all(lag <= limit for s in recent for lag in s.lag.values())

    async def run(self, stop: asyncio.Event) -> None:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        from runtime.admin import CommittedOffsets
        from runtime.admin import partitions as partition_numbers

        ends = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        await ends.start()
        committed = {
            stage: CommittedOffsets(self.bootstrap, group) for stage, (group, _) in self.groups.items()
        }
        try:
            partitions = {
                topic: [TopicPartition(topic, p) for p in await partition_numbers(self.bootstrap, topic)]
                for _, topic in self.groups.values()
            }
            last_cpu, last_stat, last_at = (
                process_cpu_seconds(self.pid),
                _thread_schedstat(self.pid),
                time.monotonic(),
            )
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), SAMPLE_INTERVAL_S)
                end = {
                    tp: offset
                    for tps in partitions.values()
                    for tp, offset in (await ends.end_offsets(tps)).items()
                }
                lag = {}
                for stage, (_, topic) in self.groups.items():
                    await committed[stage].refresh()
                    lag[stage] = sum(
                        max(0, end[tp] - (committed[stage].get(topic, tp.partition) or 0))
                        for tp in partitions[topic]
                    )
                cpu, stat, at = process_cpu_seconds(self.pid), _thread_schedstat(self.pid), time.monotonic()
                waited = sum(max(0, stat[tid][1] - last_stat[tid][1]) for tid in stat if tid in last_stat)
                elapsed = max(at - last_at, 1e-6)
                self.samples.append(
                    Sample(
                        at_ms=int(time.time() * 1000),
                        lag=lag,
                        cpu_share=round((cpu - last_cpu) / elapsed, 2),
                        wait_share=round(waited / 1e9 / elapsed, 2),
                    )
                )
                last_cpu, last_stat, last_at = cpu, stat, at
        except (OSError, ProcessLookupError):
            pass  # the worker is gone: the samples so far stand
        finally:
            for offsets in committed.values():
                await offsets.close()
            await ends.stop()


def worker_events(log_text: str) -> list[tuple[int, str]]:
    """(epoch ms, line) for each notable line of a worker log (Faust's `[date time,ms]` prefix)."""
    found = []
    for line in log_text.splitlines():
        stamp = _LOG_TIME.match(line)
        if stamp is None or not _NOTABLE.search(line):
            continue
        at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()  # local time, as logged
        found.append((int(at * 1000), line[stamp.end() :].strip()[:200]))
    return found


def _mean_max(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"mean": round(sum(values) / len(values), 2), "max": max(values)}


def _during(samples: Iterable[Sample], began_ms: int, ended_ms: int) -> list[Sample]:
    # A sample describes the second before it: the one after the window's end still counts.
    return [s for s in samples if began_ms <= s.at_ms <= ended_ms + int(SAMPLE_INTERVAL_S * 1000)]


def explain(
    trials: Sequence[Trial],
    samples: Sequence[Sample],
    events: Sequence[tuple[int, str]],
    *,
    slow_ms: float = SLOW_TRIAL_MS,
) -> dict[str, Any]:
    """Per-hop percentiles; the slowest trials over `slow_ms` with their hop, the groups' largest
    lag and the worker's CPU / run-queue wait while each waited, and worker events meanwhile; the
    worker events of the whole run; the lag and scheduling over the run."""
    done = [t for t in trials if t.latency_ms is not None]
    hops = {
        "tagging_ms": spread([t.tagging_ms for t in done if t.tagging_ms is not None]),
        "hotspot_ms": spread([t.hotspot_ms for t in done if t.hotspot_ms is not None]),
    }
    slow = sorted((t for t in done if (t.latency_ms or 0) > slow_ms), key=lambda t: -(t.latency_ms or 0))
    explained = []
    for trial in slow[:MAX_EXPLAINED]:
        assert trial.alert_ms is not None
        window = _during(samples, trial.raw_ms, trial.alert_ms)
        tagging, hotspot = trial.tagging_ms, trial.hotspot_ms
        explained.append(
            {
                "trial": trial.index,
                "latency_ms": trial.latency_ms,
                "tagging_ms": tagging,
                "hotspot_ms": hotspot,
                "hop": "tagging" if (tagging or 0) >= (hotspot or 0) else "hotspot",
                "max_lag": {
                    stage: max((s.lag.get(stage, 0) for s in window), default=None)
                    for stage in (samples[0].lag if samples else {})
                },
                "worker_cpu_share": max((s.cpu_share for s in window), default=None),
                "worker_wait_share": max((s.wait_share for s in window), default=None),
                "worker_events": [text for at, text in events if trial.raw_ms - 2000 <= at <= trial.alert_ms],
            }
        )
    first_raw = min((t.raw_ms for t in trials), default=0)
    return {
        "hops": hops,
        "slow_trials": len(slow),
        "slowest": explained,
        "lag_max": {
            stage: max(s.lag.get(stage, 0) for s in samples) for stage in (samples[0].lag if samples else {})
        },
        "worker_cpu_share": _mean_max([s.cpu_share for s in samples]),
        "worker_wait_share": _mean_max([s.wait_share for s in samples]),
        # Relative to the first trial's crossing event (negative: before the trials began).
        "worker_events": [f"{(at - first_raw) / 1000:+.1f} s {text}" for at, text in events][:MAX_EVENTS],
        "samples": [
            {
                "t_s": round((s.at_ms - first_raw) / 1000, 1),
                **s.lag,
                "cpu": s.cpu_share,
                "wait": s.wait_share,
            }
            for s in samples
        ],
    }
