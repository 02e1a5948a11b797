"""Goal 1, pxstream's side: the hotspot stage of the production worker on the shared TaggedEvents.

    pxstream bench --only hotspot-stage,peer-hotspots

`python -m pxstream worker --no-sink --no-actions` (the production command) with the goal's rule
only (``HOPPING_RULE_YAML``: 2-minute windows hopping 30 s per provider and ward, threshold 5)
counts ``tagged_workload`` — the very records its Quix Streams peer counts in the same run —
written straight to its feedback.tagged, so the tagging stage has nothing to do. The first
``WARMUP_EVENTS`` records go through before the clock starts (the group has joined, the tables
are open); the clock then runs from producing the rest until the worker's
``pxstream_hotspot_events_total`` has counted them all. CPU µs per event is the worker's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    HOPPING_EVENTS,
    HOPPING_RULE_YAML,
    WorkerProcess,
    part_result,
    rate_figure,
    tagged_workload,
    unique_prefix,
)
from bench.workers import metric_total, wait_hotspot_events
from runtime.admin import delete_topics
from runtime.produce import produce
from schemas.settings import Settings

WARMUP_EVENTS = 500
FIGURE = "hotspot-stage"


def bench_hotspot_stage(settings: Settings, events: int = HOPPING_EVENTS) -> dict[str, Any]:
    """Events/s and CPU µs/event of the hotspot stage after its warm-up."""
    from streams.worker_config import WorkerConfig, ensure_topics

    workload = tagged_workload(events)
    warmup, measured = workload[:WARMUP_EVENTS], workload[WARMUP_EVENTS:]
    prefix = unique_prefix("bench-hotspot-stage")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    bootstrap = settings.kafka_bootstrap
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-hotspot-stage-") as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(HOPPING_RULE_YAML)
        asyncio.run(ensure_topics(settings, config))
        worker = WorkerProcess.in_group(settings, config, Path(tmp), rules=rules)
        try:
            worker.start()
            asyncio.run(produce(bootstrap, config.tagged_topic, warmup))
            wait_hotspot_events([worker], len(warmup), timeout_s=180.0)
            cpu_before = worker.cpu_seconds()
            began = time.perf_counter()
            asyncio.run(produce(bootstrap, config.tagged_topic, measured))
            ended = wait_hotspot_events([worker], len(workload), timeout_s=max(180.0, len(workload) / 100))
            cpu = worker.cpu_seconds() - cpu_before
            # Same work as the peer only if no event fell outside the lateness both sides allow.
            too_late = metric_total([worker], "pxstream_hotspot_too_late_total")
        finally:
            worker.stop()
            with contextlib.suppress(Exception):
                asyncio.run(delete_topics(bootstrap, [spec.name for spec in config.declared_topics()]))
    return {
        "events": len(measured),
        "events_per_s": round(len(measured) / (ended - began), 1),
        "cpu_us_per_event": round(1e6 * cpu / len(measured), 1),
        "seconds": round(ended - began, 2),
        "too_late": too_late,
    }


def run_part(settings: Settings, events: int | None = None) -> dict[str, Any]:
    stage = bench_hotspot_stage(settings, events or HOPPING_EVENTS)
    figure = rate_figure(FIGURE, stage, "production worker, hotspots only, the hopping rule, after a warm-up")
    return part_result(figure, hotspot_stage=stage)
