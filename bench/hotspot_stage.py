"""What the hotspot stage costs through Kafka: the production worker consuming `feedback.tagged`.

    pxstream bench --only hotspot-stage
    python -m bench.hotspot_stage --events 50000        # on the broker at PXSTREAM_KAFKA_BOOTSTRAP

The TaggedEvents of bench/hotspot_engine.py (the rule compared with Quix Streams' hopping count:
2-minute windows hopping 30 s per provider+ward, threshold 5) are put on a fresh `feedback.tagged`
before the worker starts (`python -m pxstream worker --no-sink --no-actions`, the production
command, with only that rule). The clock runs from the first moment the worker's
`pxstream_hotspot_events_total` moves to the moment it reaches every event, so start-up and group
join do not count; the worker's own CPU time (user + system, from /proc) over the same span gives
the CPU µs per event. The load average is reported beside both: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from bench.harness import WorkerProcess, process_cpu_seconds, unique_prefix
from bench.hotspot_engine import tagged_events
from bench.pipeline import _metric_sum
from runtime.admin import delete_topics_under
from runtime.produce import produce
from schemas.settings import Settings

HOPPING_RULES = """\
rules:
  - id: ward-hopping
    group_by: [provider, ward]
    window: {size: 2m, step: 30s}
    threshold: 5
"""


def _applied(worker: WorkerProcess) -> float:
    with contextlib.suppress(OSError):
        return _metric_sum(worker.metrics_text(), "pxstream_hotspot_events_total")
    return 0.0


def _measure(worker: WorkerProcess, expected: int, timeout_s: float) -> dict[str, float]:
    """Sample (wall, worker CPU, events applied) from the first batch applied to the last."""
    assert worker.process is not None
    pid = worker.process.pid
    deadline = time.monotonic() + timeout_s
    first: tuple[float, float, float] | None = None
    applied = 0.0
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}; log: {worker.log_path}")
        applied = _applied(worker)
        sample = (time.perf_counter(), process_cpu_seconds(pid), applied)
        if first is None and applied > 0:
            first = sample
        if applied >= expected and first is not None:
            counted = applied - first[2]
            if counted <= 0:
                raise RuntimeError("the stage applied every event in one batch: use more events")
            return {
                "stage_events": counted,
                "stage_events_per_s": round(counted / (sample[0] - first[0])),
                "stage_cpu_us_per_event": round((sample[1] - first[1]) / counted * 1e6, 1),
            }
        time.sleep(0.2)  # polling interval of the condition above, bounded by the deadline
    raise TimeoutError(f"hotspot stage applied {applied:.0f} of {expected} within {timeout_s:.0f} s")


def bench_hotspot_stage(settings: Settings, events: int = 50_000) -> dict[str, Any]:
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix("bench-hotspots")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-hotspots-") as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(HOPPING_RULES)
        asyncio.run(ensure_topics(settings, config))
        try:
            # Event time ends now, so the worker's clock never finds the stream behind it.
            feed = tagged_events(events, start=int(time.time()) - events // 20)
            values = [(e["provider"].encode(), orjson.dumps(e)) for e in feed]
            asyncio.run(produce(settings.kafka_bootstrap, config.tagged_topic, values))
            worker = WorkerProcess.in_group(settings, config, Path(tmp), rules=rules)
            with worker:
                result = _measure(worker, events, timeout_s=max(300.0, events / 50))
        finally:
            asyncio.run(delete_topics_under(settings.kafka_bootstrap, config.topic_prefix))
    result["load_average"] = " / ".join(f"{v:.2f}" for v in load)
    return {"hotspot_stage": result}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspot_stage")
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    for name, value in bench_hotspot_stage(Settings.from_env(), args.events)["hotspot_stage"].items():
        print(f"{name:<28} {value}")


if __name__ == "__main__":
    main()
