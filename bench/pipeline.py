"""Measuring the tagging worker and the hotspot stage on the real broker.

`bench_pipeline` produces N synthetic events to a fresh raw topic, starts one worker
(`python -m pxstream worker`, the production command, as a child process) on unique topics and
app id, with the production hotspot rules, and measures from the first TaggedEvent (its Kafka
timestamp, so worker start-up and group join do not count) until the hotspot stage has applied
every TaggedEvent (the worker's `pxstream_hotspot_events_total`). A second run without hotspots
gives the tagging stage's own figure. Wall times including start-up are reported too.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.harness import WorkerProcess, collect, synthetic_events, unique_prefix
from runtime.admin import delete_topics_under
from runtime.produce import produce
from schemas.settings import Settings

PRODUCTION_RULES = Path(__file__).resolve().parents[1] / "infra" / "rules" / "hotspots.yaml"


def _metric_sum(text: str, name: str) -> float:
    """Sum of every series of one sample name in a Prometheus text page (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def _wait_hotspots_caught_up(worker: WorkerProcess, expected: int, timeout_s: float) -> float:
    """Poll the worker's ``pxstream_hotspot_events_total`` until it reaches ``expected``; return
    the wall-clock time (epoch seconds) it was first seen there. Polled every 50 ms, and the
    counter moves once per batch (≤ 1,000 events), so the figure is late by at most ~0.1 s."""
    deadline = time.monotonic() + timeout_s
    seen = 0.0
    while time.monotonic() < deadline:
        if worker.process is not None and worker.process.poll() is not None:
            raise RuntimeError(f"worker exited with {worker.process.returncode}; log: {worker.log_path}")
        with contextlib.suppress(OSError):
            seen = _metric_sum(worker.metrics_text(), "pxstream_hotspot_events_total")
        if seen >= expected:
            return time.time()
        time.sleep(0.05)  # polling interval of the condition above, bounded by the deadline
    raise TimeoutError(
        f"hotspot stage applied {seen:.0f} of {expected} tagged events within {timeout_s:.0f} s; "
        f"log: {worker.log_path}"
    )


def _run_pipeline(
    settings: Settings,
    *,
    events: int,
    hotspots: bool,
    rules_path: Path,
    batch_size: int | None,
    work_dir: Path | None,
    python_args: Sequence[str],
) -> dict[str, Any]:
    import tempfile

    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix("bench-pipeline")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-worker-", dir=work_dir) as tmp:
        asyncio.run(ensure_topics(settings, config))
        payloads = synthetic_events(events)
        values = [(e["provider"].encode(), orjson.dumps(e)) for e in payloads]
        asyncio.run(produce(settings.kafka_bootstrap, config.raw_topic, values))
        extra = ["--no-sink"] if hotspots else ["--no-sink", "--no-hotspots"]
        if batch_size:
            extra += ["--batch-size", str(batch_size)]
        worker = WorkerProcess.in_group(
            settings, config, Path(tmp), rules=rules_path, extra_args=extra, python_args=python_args
        )
        started = time.perf_counter()
        hotspots_done: float | None = None
        try:
            with worker:
                out = asyncio.run(
                    collect(
                        settings.kafka_bootstrap,
                        [config.tagged_topic, config.dlq_topic],
                        expected=events,
                        timeout_s=max(120.0, events / 200),
                    )
                )
                if out.count() < events:
                    raise RuntimeError(
                        f"only {out.count()} of {events} events came out; worker log: {worker.log_path}"
                    )
                if hotspots:
                    hotspots_done = _wait_hotspots_caught_up(
                        worker, out.count(config.tagged_topic), timeout_s=max(120.0, events / 100)
                    )
                wall = time.perf_counter() - started
        finally:
            asyncio.run(delete_topics_under(settings.kafka_bootstrap, config.topic_prefix))
        stamps = [r.timestamp for rs in out.records.values() for r in rs]
        first_s, last_s = min(stamps) / 1000, max(stamps) / 1000
        end_s = hotspots_done if hotspots_done is not None else last_s
    return {
        "events_per_s": round(events / max(end_s - first_s, 1e-3)),
        "wall_seconds": round(wall, 1),
        "dead_letters": out.count(config.dlq_topic),
    }


def bench_pipeline(
    settings: Settings,
    *,
    events: int = 100_000,
    batch_size: int | None = None,
    rules_path: Path = PRODUCTION_RULES,
    tagging_only: bool = True,
    work_dir: Path | None = None,
    python_args: Sequence[str] = ("-m", "pxstream"),
) -> dict[str, Any]:
    """Sustained events/s of one worker on the real broker, as the issue defines the pipeline:
    validate → redact → tag → window → rules (``rules_path``, the production rules by default).

    The clock starts at the Kafka timestamp of the first TaggedEvent (so start-up and group join
    do not count) and stops when the worker's ``pxstream_hotspot_events_total`` reaches the
    number of TaggedEvents, i.e. when the rules have applied and stored every one. With
    ``tagging_only``, a second run without hotspots gives the tagging stage's own figure (first to
    last TaggedEvent timestamp), reported as ``tagging_events_per_s``.
    """
    common = {
        "events": events,
        "rules_path": rules_path,
        "batch_size": batch_size,
        "work_dir": work_dir,
        "python_args": python_args,
    }
    full = _run_pipeline(settings, hotspots=True, **common)
    result = {
        "pipeline_events_per_s": full["events_per_s"],
        "pipeline_wall_seconds": full["wall_seconds"],
        "pipeline_dead_letters": full["dead_letters"],
        "pipeline_rules": str(rules_path),
    }
    if tagging_only:
        tagging = _run_pipeline(settings, hotspots=False, **common)
        result["tagging_events_per_s"] = tagging["events_per_s"]
        result["tagging_wall_seconds"] = tagging["wall_seconds"]
    return result
