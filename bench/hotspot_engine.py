"""What the hotspot engine costs per event, against a minimal window counter on the same events.

    pxstream bench --only hotspot-engine
    python -m bench.hotspot_engine --events 50000

The workload is the one Quix Streams' hopping-window count is compared on (docs/hotspots.md):
2-minute windows hopping 30 s, counted per provider+ward, threshold 5, over TaggedEvents in
event-time order with a little jitter (some events arrive behind the watermark). The engine is
driven as the worker drives it: batches of ``BATCH`` inputs on a :class:`StagedState`, then
``end_batch`` and a commit. The reference is the least a hopping count can do on the same decoded
events: parse the time, add one to each window holding it, compare with the threshold — no rules
file, no de-duplication, no episodes, no replay markers. Both are timed in the same run as CPU time
(``time.process_time``), best of ``repeat``; the load average is reported beside them because the
machine is shared. The engine also runs on its state stored as bytes, as the worker's table holds
it (decoded once per key per batch): that figure has no reference, it shows what the plain dict
(values kept as objects between batches) leaves out.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import MutableMapping
from typing import Any

from streams.hotspots.engine import HotspotEngine, StagedState
from streams.hotspots.rules import RuleSet, parse_rules
from streams.hotspots.table_state import TableState
from streams.hotspots.windows import iso_z, parse_iso_seconds

BATCH = 1000
T0 = 1_780_000_200
PROVIDERS = ("RTD", "RXH", "RR8", "RAE", "RCF", "RWY", "RJ1", "RYJ")
WARDS = ("Ward 7", "A&E", "Maternity", "Ward 12", "Outpatients", "Ward 3B", "Oak Ward", "ICU")


def hopping_rules() -> RuleSet:
    """The compared rule: 2-minute windows hopping 30 s, count per provider+ward, threshold 5."""
    return parse_rules(
        {
            "rules": [
                {
                    "id": "ward-hopping",
                    "group_by": ["provider", "ward"],
                    "window": {"size": "2m", "step": "30s"},
                    "threshold": 5,
                }
            ]
        },
        source="bench-hotspot-rules",
    )


def tagged_events(
    count: int, seed: int = 13, per_second: float = 20.0, start: int = T0
) -> list[dict[str, Any]]:
    """TaggedEvents in event-time order at ``per_second`` from ``start``, each up to 20 s behind its slot."""
    rng = random.Random(seed)
    events = []
    for i in range(count):
        t = start + int(i / per_second) - rng.randint(0, 20)
        events.append(
            {
                "event_id": f"bench-{i}",
                "organisation": rng.choice(("org-a", "org-b")),
                "source": rng.choice(("complaint", "pals", "incident", "fft")),
                "occurred_at": iso_z(t),
                "provider": rng.choice(PROVIDERS),
                "site": "S1",
                "ward": rng.choice(WARDS),
                "domains": ["safe_high_quality_care"],
                "text": "[redacted]",
            }
        )
    return events


def run_engine(rules: RuleSet, events: list[dict[str, Any]], on_table: bool = False) -> int:
    """The engine as the worker drives it; returns the alerts it made.

    ``on_table``: the state stored as bytes, as the worker's table stores it (TableState over a
    dict), so every batch decodes what it reads and encodes what it writes; otherwise a plain dict
    keeps the values as objects between batches."""
    state: MutableMapping[str, Any] = TableState({}) if on_table else {}
    engine = HotspotEngine(rules, state, partition=0)
    alerts = 0
    for begin in range(0, len(events), BATCH):
        staged = StagedState(state)
        engine.state = staged
        for offset in range(begin, min(begin + BATCH, len(events))):
            alerts += len(engine.on_event(events[offset], offset, 0.0))
        engine.end_batch(max(0, begin - BATCH))
        staged.commit()
        engine.state = state
    return alerts


def run_minimal(events: list[dict[str, Any]], size_s: int = 120, step_s: int = 30, threshold: int = 5) -> int:
    """The least a hopping count can do: one counter per (provider, ward, window start).

    It parses each time with the standard library (what the engine's parser did until the third
    speed round, docs/hotspot-speed.md), so the reference stays the same work from round to round
    rather than getting faster with the engine's own parser."""
    counts: dict[tuple[str, str, int], int] = {}
    fired = 0
    n = size_s // step_s
    for event in events:
        t = parse_iso_seconds(event["occurred_at"])
        last = t - t % step_s
        provider, ward = event["provider"], event["ward"]
        for k in range(n):
            key = (provider, ward, last - k * step_s)
            count = counts[key] = counts.get(key, 0) + 1
            if count == threshold:
                fired += 1
    return fired


def _cpu(function: Any, *args: Any) -> tuple[float, Any]:
    began = time.process_time()
    result = function(*args)
    return time.process_time() - began, result


def bench_hotspot_engine(events: int = 50_000, repeat: int = 3) -> dict[str, Any]:
    """Engine and minimal counter, µs of CPU per event (best of ``repeat``), and their ratio."""
    rules = hopping_rules()
    feed = tagged_events(events)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    engine_s = minimal_s = table_s = float("inf")
    alerts = windows_fired = 0
    for _ in range(repeat):
        seconds, alerts = _cpu(run_engine, rules, feed)
        engine_s = min(engine_s, seconds)
        seconds, windows_fired = _cpu(run_minimal, feed)
        minimal_s = min(minimal_s, seconds)
        seconds, _ = _cpu(run_engine, rules, feed, True)
        table_s = min(table_s, seconds)
    engine_us = engine_s / events * 1e6
    minimal_us = minimal_s / events * 1e6
    return {
        "hotspot_engine": {
            "events": events,
            "alerts": alerts,
            "minimal_windows_over_threshold": windows_fired,
            "engine_cpu_us_per_event": round(engine_us, 2),
            "minimal_cpu_us_per_event": round(minimal_us, 2),
            "engine_over_minimal": round(engine_us / minimal_us, 2),
            "engine_on_bytes_table_cpu_us_per_event": round(table_s / events * 1e6, 2),
            "load_average": " / ".join(f"{v:.2f}" for v in load),
        }
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspot_engine")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for name, value in bench_hotspot_engine(args.events, args.repeat)["hotspot_engine"].items():
        print(f"{name:<34} {value}")


if __name__ == "__main__":
    main()
