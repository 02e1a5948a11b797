"""The latency part's timeline (bench/latency_timeline.py): each slow trial names its hop, the lag
of each group while it waited and the worker's group events; the trials wait for a worker that
keeps up with the load."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime

from bench.latency_timeline import Sample, Sampler, Trial, _thread_schedstat, explain, spread, worker_events

LOG = """\
[2026-12-03 13:47:13,719] [11826] [INFO] (Re-)joining group app.hotspots
[2026-12-03 13:47:13,757] [11826] [INFO] Joined group 'app.hotspots' (generation 1) with member_id m-1
[2026-12-03 13:47:21,476] [11826] [INFO] hotspot firing b67d rule=bench-latency group={'ward': 'w'}
+Topic Partition Set---+
[2026-12-03 13:47:42,192] [11826] [WARNING] Timer tick woke up too late, with a drift of +1.4
[2026-12-03 13:47:50,000] [11826] [INFO] Revoking previously assigned partitions {0} for group app.tagging
"""


def _ms(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f").timestamp() * 1000)


def test_worker_events_keep_group_and_late_timer_lines_with_their_time() -> None:
    events = worker_events(LOG)
    assert [text.split("]")[-1].strip()[:12] for _, text in events] == [
        "(Re-)joining",
        "Joined group",
        "Timer tick w",
        "Revoking pre",
    ]
    assert events[0][0] == _ms("2026-12-03 13:47:13,719")
    assert all("hotspot firing" not in text for _, text in events)  # alerts are not group events


def test_spread_is_nearest_rank_and_empty_without_values() -> None:
    assert spread([]) == {}
    values = [float(v) for v in range(101)]  # 0..100: the nearest rank of q is 100 q
    assert spread(values) == {"p50": 50, "p90": 90, "p99": 99, "max": 100}


def _sample(at_ms: int, tagging: int, hotspots: int, cpu: float = 0.5, wait: float = 0.1) -> Sample:
    return Sample(at_ms=at_ms, lag={"tagging": tagging, "hotspots": hotspots}, cpu_share=cpu, wait_share=wait)


def test_a_slow_trial_names_its_hop_and_the_lag_and_events_while_it_waited() -> None:
    start = 1_000_000
    trials = [
        Trial(1, "w1", raw_ms=start, tagged_ms=start + 20, alert_ms=start + 120),
        # Slow in the hotspot hop, while the hotspot group was 9,000 records behind.
        Trial(2, "w2", raw_ms=start + 5_000, tagged_ms=start + 5_030, alert_ms=start + 9_030),
        Trial(3, "w3", raw_ms=start + 20_000, tagged_ms=start + 22_500, alert_ms=start + 22_600),
    ]
    samples = [
        _sample(start + 1_000, 900, 300),
        _sample(start + 6_000, 1_000, 9_000, wait=1.2),
        _sample(start + 9_500, 1_100, 4_000),
        _sample(start + 15_000, 800, 200),
        _sample(start + 21_000, 3_000, 100),
    ]
    events = [(start + 7_000, "Revoking previously assigned partitions for group app.hotspots")]
    found = explain(trials, samples, events)

    assert found["hops"]["tagging_ms"]["max"] == 2_500 and found["hops"]["hotspot_ms"]["max"] == 4_000
    assert found["slow_trials"] == 2
    slowest, second = found["slowest"]
    assert (slowest["trial"], slowest["hop"], slowest["latency_ms"]) == (2, "hotspot", 4_030.0)
    assert slowest["max_lag"] == {"tagging": 1_100, "hotspots": 9_000}
    assert slowest["worker_wait_share"] == 1.2
    assert slowest["worker_events"] == [events[0][1]]
    assert (second["trial"], second["hop"]) == (3, "tagging")
    assert second["worker_events"] == []
    assert found["lag_max"] == {"tagging": 3_000, "hotspots": 9_000}
    assert found["worker_events"] == ["+7.0 s Revoking previously assigned partitions for group app.hotspots"]


def test_a_trial_without_alert_is_not_counted_in_the_hops() -> None:
    found = explain([Trial(1, "w", raw_ms=0, tagged_ms=None, alert_ms=None)], [], [])
    assert found["hops"] == {"tagging_ms": {}, "hotspot_ms": {}}
    assert found["slow_trials"] == 0 and found["worker_wait_share"] == {}


def test_the_worker_keeps_up_only_when_every_stage_is_within_the_limit_twice_in_a_row() -> None:
    sampler = Sampler("localhost:1", os.getpid(), {})
    assert not sampler.keeps_up(2_000)
    sampler.samples += [_sample(0, 500, 2_500), _sample(1_000, 500, 1_900)]
    assert not sampler.keeps_up(2_000)  # the hotspot stage was behind one sample ago
    sampler.samples.append(_sample(2_000, 1_200, 800))
    assert sampler.keeps_up(2_000)
    sampler.samples.append(_sample(3_000, 2_400, 800))
    assert not sampler.keeps_up(2_000)


def test_schedstat_counts_the_time_a_thread_waited_for_a_core() -> None:
    """Two spinning processes pinned to one core: each waits for it about as long as it runs."""
    spin = [sys.executable, "-c", "while True: pass"]
    pinned = [subprocess.Popen(["taskset", "-c", "0", *spin]) for _ in range(2)]
    try:
        before = {p.pid: _thread_schedstat(p.pid) for p in pinned}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            after = {p.pid: _thread_schedstat(p.pid) for p in pinned}
            ran = sum(v[0] - before[pid][k][0] for pid, t in after.items() for k, v in t.items())
            waited = sum(v[1] - before[pid][k][1] for pid, t in after.items() for k, v in t.items())
            if ran > 1e9:  # a second on the core between them
                break
            time.sleep(0.2)  # polling interval of the condition above, bounded by the deadline
    finally:
        for process in pinned:
            process.kill()
            process.wait(10)
    assert ran > 1e9
    assert waited > 0.3 * ran  # sharing one core, each spent a good part of the time waiting
