"""Goal 6's figures from its runs (bench/scaling.py): a round is a two-worker run against the
one-worker runs either side of it; the figure is the median round, beside the bound the broker's
share of the two cores sets and the ratio each round's CPU per event gives
(docs/benchmarks.md, "Scaling")."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def cpu_bound(worker_us: float, broker_us: float) -> float:
    """The most two workers can give over one on two cores when each event costs ``worker_us`` in
    a worker and ``broker_us`` in the broker: 2w/(w+b) (one worker: 1/w, the broker on the other
    core; two: both cores carry w+b per event)."""
    return 2 * worker_us / (worker_us + broker_us)


def _mean(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else round((first + second) / 2, 1)


def _round(before: dict[str, Any], two: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """One two-worker run against the mean of the one-worker runs either side of it: the ratio,
    the bound the broker's share of the cores sets, and the ratio at each run's CPU per event."""
    one = {
        key: _mean(before[key], after[key])
        for key in ("events_per_s", "cpu_us_per_event", "broker_cpu_us_per_event")
    }
    w1, b1 = one["cpu_us_per_event"], one["broker_cpu_us_per_event"]
    w2, b2 = two["cpu_us_per_event"], two["broker_cpu_us_per_event"]
    return {
        "one_events_per_s": one["events_per_s"],
        "two_events_per_s": two["events_per_s"],
        "ratio": two["events_per_s"] / one["events_per_s"],
        "w1": w1,
        "b1": b1,
        "w2": w2,
        "b2": b2,
        "bound": cpu_bound(w1, b1) if w1 is not None and b1 is not None else None,
        # Two workers' own costs on two free cores: what the ratio would be with no other load
        # on the machine and no waiting, given what each run spent per event.
        "from_cpu": 2 * w1 / (w2 + b2) if w1 is not None and b2 is not None else None,
        "load": [before["load"][0], two["load"][0], after["load"][0]],
        "others_cores": [before["others_cores"], two["others_cores"], after["others_cores"]],
    }


def rounds_of(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs of one, two, one, two, … one worker(s) → one round per two-worker run, each against
    the one-worker runs either side of it (which neighbouring rounds share)."""
    if len(runs) < 3 or len(runs) % 2 == 0:
        raise ValueError(f"{len(runs)} runs: expected one worker, then pairs of two and one")
    return [_round(*runs[index : index + 3]) for index in range(0, len(runs) - 2, 2)]


def median_round(measured: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median ratio (the lower middle when the rounds are even): a whole round,
    so the figure's rate and reference are two runs that were measured together."""
    return sorted(measured, key=lambda item: item["ratio"])[(len(measured) - 1) // 2]


def median_of(values: Sequence[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None
