"""Goal 6's measurement (bench/scaling.py, bench/workers.py, bench/cheap_worker.py): the events
spread evenly over partitions, the bound two cores set, what a span of samples says each process
cost, and the counting of the worker's Kafka requests."""

from __future__ import annotations

import os
import time

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from bench.cheap_worker import _client_role
from bench.scaling import balanced_workload
from bench.scaling_rounds import cpu_bound, median_round, rounds_of
from bench.workers import (
    ProcessTimes,
    Sample,
    machine_busy_seconds,
    net_of_idle,
    process_times,
    summarise_span,
)


def test_balanced_workload_gives_every_partition_the_same_share_by_kafkas_own_partitioner() -> None:
    every = [0, 1, 2, 3]
    choose = DefaultPartitioner()
    for count in (400, 1_000):
        workload = balanced_workload(count, 4)
        counts = [0, 0, 0, 0]
        for key, value in workload:
            assert orjson.loads(value)["provider"].encode() == key
            counts[choose(key, every, every)] += 1
        assert counts == [count // 4] * 4
    assert balanced_workload(400, 4) == balanced_workload(400, 4)  # the same events for both runs


def test_cpu_bound_is_two_cores_shared_with_the_broker() -> None:
    assert cpu_bound(344.0, 0.0) == 2.0
    assert cpu_bound(344.0, 70.0) == pytest.approx(1.662, abs=0.001)
    # 1.7× needs the broker below about 18% of the worker's CPU per event.
    assert cpu_bound(100.0, 17.6) == pytest.approx(1.7, abs=0.001)


def _sample(at: float, applied: tuple[float, ...], cpu: tuple[float, ...], **extra: object) -> Sample:
    return Sample(
        at=at,
        tagged=applied,
        applied=applied,
        workers=tuple(ProcessTimes(c, c * 0.9, c * 0.05) for c in cpu),
        broker_cpu_s=extra.get("broker", 0.0),  # type: ignore[arg-type]
        bench_cpu_s=extra.get("bench", 0.0),  # type: ignore[arg-type]
        machine_busy_s=extra.get("machine", 0.0),  # type: ignore[arg-type]
        requests=extra.get("requests", {}),  # type: ignore[arg-type]
    )


def test_a_span_gives_rate_cpu_per_event_shares_loop_time_requests_and_the_others_share() -> None:
    first = _sample(
        100.0, (10.0, 20.0), (1.0, 2.0), broker=5.0, machine=50.0, requests={("Fetch", "faust"): 4.0}
    )
    last = _sample(
        110.0,
        (4_010.0, 6_020.0),
        (4.0, 5.5),
        broker=6.0,
        bench=0.1,
        machine=65.0,
        requests={("Fetch", "faust"): 504.0, ("Produce", "tagging"): 100.0},
    )
    span = summarise_span(first, last, 10_000)
    assert span["events_per_s"] == 1_000.0
    assert span["worker_cpu_us_per_event"] == [300.0, 350.0]
    assert span["cpu_us_per_event"] == 650.0
    assert span["broker_cpu_us_per_event"] == 100.0
    assert span["bench_cpu_us_per_event"] == 10.0
    assert span["tagging_share"] == span["hotspot_share"] == [0.4, 0.6]
    assert span["worker_core_share"] == [0.3, 0.35]
    assert span["loop_on_core"] == [0.27, 0.315]
    assert span["loop_waiting_for_core"] == [0.015, 0.018]
    assert span["loop_asleep"] == [0.715, 0.667]
    assert span["requests_per_1000_events"] == {"Fetch (faust)": 50.0, "Produce (tagging)": 10.0}
    # 15 busy core-seconds in 10 s, 7.6 of them ours (workers 6.5, broker 1, bench 0.1).
    assert span["others_cores"] == 0.74


def test_net_of_idle_takes_off_what_the_process_spends_doing_nothing_over_the_span() -> None:
    # 5% of a core for 20 s is 1 CPU-second: 100 µs over 10,000 events.
    assert net_of_idle(400.0, 0.05, 20.0, 10_000) == 300.0
    assert net_of_idle(400.0, 0.05, 10.0, 10_000) == 350.0  # the same events at twice the rate


def test_the_worker_clients_are_named_without_the_runs_unique_prefix() -> None:
    assert _client_role("faust-0.11.3") == "faust"
    assert _client_role("bench-scaling-2-0123456789.worker.tagging") == "tagging"
    assert _client_role("pxstream-hotspots") == "pxstream-hotspots"


def test_process_times_and_machine_time_come_from_proc_and_move_forward() -> None:
    before, machine = process_times(os.getpid()), machine_busy_seconds()
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn a little CPU, the quantity being read
        pass
    after = process_times(os.getpid())
    assert after.cpu_s > before.cpu_s
    assert after.loop_run_s > before.loop_run_s  # this test runs on the main thread
    assert after.loop_queued_s >= before.loop_queued_s
    assert machine_busy_seconds() > machine


def _run_at(events_per_s: float, worker_us: float = 100.0, broker_us: float = 10.0) -> dict[str, object]:
    return {
        "events_per_s": events_per_s,
        "cpu_us_per_event": worker_us,
        "broker_cpu_us_per_event": broker_us,
        "load": [0.5, 0.6],
        "others_cores": 0.05,
    }


def test_each_two_worker_run_is_a_round_against_the_one_worker_runs_either_side() -> None:
    runs = [
        _run_at(1_000),
        _run_at(1_800),
        _run_at(1_200),
        _run_at(1_650),
        _run_at(900),
        _run_at(2_000),
        _run_at(1_000),
    ]
    rounds = rounds_of(runs)
    assert [round(item["ratio"], 3) for item in rounds] == [1.636, 1.571, 2.105]
    assert [item["one_events_per_s"] for item in rounds] == [1_100.0, 1_050.0, 950.0]
    middle = median_round(rounds)
    assert middle["two_events_per_s"] == 1_800 and round(middle["ratio"], 3) == 1.636
    assert rounds[0]["bound"] == pytest.approx(cpu_bound(100.0, 10.0))
    assert rounds[0]["from_cpu"] == pytest.approx(2 * 100.0 / 110.0)
    # Even rounds: the lower middle, a round that was measured, not an average of two.
    assert median_round(rounds[:2])["two_events_per_s"] == 1_650


@pytest.mark.parametrize("count", [0, 1, 2, 4])
def test_runs_that_do_not_alternate_one_and_two_workers_are_refused(count: int) -> None:
    with pytest.raises(ValueError, match="runs"):
        rounds_of([_run_at(1_000)] * count)
