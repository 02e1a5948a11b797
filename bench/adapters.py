"""Figures from bench parts that return keys of their own instead of ``"figures"``.

The summary (bench/report.py) reads named ``Figure``s; a part written before the convention, or
by someone who kept their own keys, is read here, so its goal's row is filled in rather than
"not measured". Each reader names the keys it reads; a part that returns ``"figures"`` itself is
never passed through here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bench.harness import Figure


def _hotspot_engine(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "hotspot-engine",
            found["engine_cpu_us_per_event"],
            "µs/event",
            reference=found.get("minimal_cpu_us_per_event"),
            reference_name="minimal hopping counter, same events",
            higher_is_better=False,
            cpu_us_per_event=found["engine_cpu_us_per_event"],
            events=found.get("events"),
            note="in-process, CPU time",
        )
    ]


def _stateless(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "stateless-stage",
            found["stage_events_per_cpu_s"],
            "events/CPU-s",
            reference=found["pure_events_per_cpu_s"],
            reference_name="its pure function, same process",
            cpu_us_per_event=found.get("stage_us_per_event"),
            events=found.get("events"),
            note=f"wall: {found.get('stage_events_per_s')} vs {found.get('pure_events_per_s')} events/s",
        )
    ]


def _hotspot_stage(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "hotspot-stage",
            found["stage_events_per_s"],
            "events/s",
            cpu_us_per_event=found.get("stage_cpu_us_per_event"),
            events=found.get("stage_events"),
            note="production worker, hotspots only, the hopping rule",
        )
    ]


def _redaction(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "redaction",
            found["mix_us_per_event"],
            "µs/event",
            higher_is_better=False,
            cpu_us_per_event=found["mix_us_per_event"],
            reference=found.get("reference_us_per_event"),
            reference_name="str.lower() + str.split() of the same texts, same run",
            events=found.get("mix_events"),
            note=f"realistic mix, mean {found.get('mix_mean_chars')} characters",
        )
    ]


def _latency(note: str) -> Callable[[Mapping[str, Any]], list[Figure]]:
    def read(found: Mapping[str, Any]) -> list[Figure]:
        return [
            Figure(
                "alert-latency-p99",
                found["p99"],
                "ms",
                higher_is_better=False,
                events=found.get("trials"),
                note=f"p50 {found.get('p50')} ms over {found.get('trials')} trials{note}",
            )
        ]

    return read


def _healthz(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "healthz-failures",
            found["unanswered"],
            "failed probes",
            higher_is_better=False,
            events=found.get("probes"),
            note=f"{found.get('probes')} probes, slowest answer {found.get('worst_ms')} ms",
        )
    ]


# The key a part returns → how to read figures from what is under it.
# With a core kept busy (goal 5) the latency part names its keys "alert_latency_busy_…"; without,
# the row says the figure was taken on an otherwise idle machine.
READERS: dict[str, Callable[[Mapping[str, Any]], list[Figure]]] = {
    "hotspot_engine": _hotspot_engine,
    "hotspot_stage": _hotspot_stage,
    "stateless": _stateless,
    "redaction": _redaction,
    "alert_latency_busy_ms": _latency(", one core kept busy"),
    "alert_latency_busy_healthz": _healthz,
    "alert_latency_ms": _latency(", no core kept busy (the latency part cannot)"),
}


def figures_from_keys(result: Mapping[str, Any]) -> list[Figure]:
    """Every figure the readers find in one part's result (keys missing inside: skipped); of two
    readings of one figure name, the first reader's (the busy-core latency before the idle one)."""
    figures: dict[str, Figure] = {}
    for key, read in READERS.items():
        found = result.get(key)
        if isinstance(found, Mapping):
            try:
                for figure in read(found):
                    figures.setdefault(figure.name, figure)
            except KeyError:
                continue  # a shape this reader does not know: the row stays "not measured"
    return list(figures.values())
