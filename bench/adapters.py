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


def _alert_latency(found: Mapping[str, Any]) -> list[Figure]:
    return [
        Figure(
            "alert-latency-p99",
            found["p99"],
            "ms",
            higher_is_better=False,
            events=found.get("trials"),
            note=f"p50 {found.get('p50')} ms over {found.get('trials')} trials",
        )
    ]


# The key a part returns → how to read figures from what is under it.
READERS: dict[str, Callable[[Mapping[str, Any]], list[Figure]]] = {
    "hotspot_engine": _hotspot_engine,
    "stateless": _stateless,
    "alert_latency_ms": _alert_latency,
}


def figures_from_keys(result: Mapping[str, Any]) -> list[Figure]:
    """Every figure the readers find in one part's result (keys missing inside: skipped)."""
    figures: list[Figure] = []
    for key, read in READERS.items():
        found = result.get(key)
        if isinstance(found, Mapping):
            try:
                figures.extend(read(found))
            except KeyError:
                continue  # a shape this reader does not know: the row stays "not measured"
    return figures
