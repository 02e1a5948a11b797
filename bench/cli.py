"""`pxstream bench` — the speed issue's goals as ratios taken in one run, and the stage figures.

Ends with one row per goal (docs/benchmarks.md): the measured value, the reference measured in the
same run (the stage's pure function, Quix Streams on the same events, one worker against two),
their ratio, the target, met or not, CPU µs per event, and each part's load and duration. The
parts (bench/goal_parts.py, and the older stage figures below: the *ceiling*, a raw aiokafka
consume + orjson decode loop; the *pipeline*; the *sink* by batch size; the file import; the
tagging mix; the actions stage) each run on fresh, uniquely named topics. A part that fails or is
not in this build leaves its reason in its goals' rows; the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench.adapters import figures_from_keys
from bench.goal_parts import PART_FIGURES, goal_parts
from bench.harness import Figure, part_result
from bench.load import LoadWatch, describe
from bench.part_names import ALL_PARTS
from bench.report import (
    NOT_MEASURED,
    Row,
    collect_figures,
    format_figures,
    format_rows,
    other_figures,
    summary,
)
from runtime.produce import produce
from schemas.settings import Settings


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        memory = "?"
    return f"{cpu}, {os.cpu_count()} cores, {memory}, Python {platform.python_version()}, {platform.system()}"


def synthetic_payloads(count: int, seed: int = 11) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs of realistic FeedbackEvents, encoded once so producing is not what we time."""
    from datetime import UTC, datetime, timedelta

    from connectors.producer import event_key
    from connectors.synthetic import SyntheticFeed

    feed = SyntheticFeed(seed)
    start = datetime.now(UTC) - timedelta(hours=1)
    out = []
    for i in range(count):
        event = feed.event(start + timedelta(milliseconds=50 * i))
        out.append((event_key(event), orjson.dumps(event)))
    return out


async def measure_ceiling(bootstrap: str, topic: str, expected: int) -> float:
    """Events/s of the tightest loop a consumer can run: getmany + orjson.loads, nothing else."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
    await consumer.start()
    try:
        seen = 0
        began = time.perf_counter()
        deadline = began + 120
        while seen < expected and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for record in records:
                    orjson.loads(record.value)
                seen += len(records)
        elapsed = time.perf_counter() - began
    finally:
        await consumer.stop()
    if seen < expected:
        raise RuntimeError(f"ceiling run read only {seen} of {expected} events within 120 s")
    return expected / elapsed


def _topic(kind: str) -> str:
    return f"bench.{kind}.{uuid.uuid4().hex[:8]}"


def bench_ceiling(settings: Settings, events: int) -> dict[str, Any]:
    from infra.broker import delete_topics, ensure_topics
    from schemas.topics import TopicSpec

    topic = _topic("ceiling")
    ensure_topics(settings.kafka_bootstrap, [TopicSpec(topic, partitions=4)])
    try:
        payloads = synthetic_payloads(events)
        asyncio.run(
            produce(settings.kafka_bootstrap, topic, payloads, acks=1, linger_ms=20, enable_idempotence=False)
        )
        rate = asyncio.run(measure_ceiling(settings.kafka_bootstrap, topic, events))
    finally:
        delete_topics(settings.kafka_bootstrap, [topic])
    ceiling = Figure("ceiling", round(rate), "events/s", events=events, note="aiokafka getmany + orjson")
    return part_result(ceiling, ceiling_events_per_s=round(rate))


def _legacy_parts(settings: Settings, args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    """The parts that came before the speed issue's goals: keys of their own, no figures."""
    events = args.events

    def pipeline() -> dict[str, Any]:
        from bench.pipeline import bench_pipeline

        return bench_pipeline(settings, events=events or 50_000)

    def sink() -> dict[str, Any]:
        import tempfile

        from bench.sink import bench_sink

        with tempfile.TemporaryDirectory(prefix="pxstream-bench-ch-") as path:
            return bench_sink(f"chdb://{path}", rows=100_000, batch_sizes=[500, 5_000, 50_000])

    def file_import() -> dict[str, Any]:
        from bench.file_import import bench_file_import

        return bench_file_import(settings.kafka_bootstrap, rows=100_000)

    def tagging() -> dict[str, Any]:
        from bench.tagging import bench_realistic_mix

        report = bench_realistic_mix(settings.fft_data, events=min(events or 10_000, 20_000))
        rate = report["pipeline"]["validate_redact_tag_per_s"]
        return {"tagging_mix": report, "stateless_cpu_events_per_s": rate}

    def actions() -> dict[str, Any]:
        from bench.actions import bench_engine, bench_kafka, feed

        chosen = feed(min(events or 10_000, 20_000))
        through_kafka = asyncio.run(bench_kafka(settings, chosen))
        return {"actions_stage": {**bench_engine(settings, chosen), **through_kafka}}

    return {
        "ceiling": lambda: bench_ceiling(settings, events or 50_000),
        "pipeline": pipeline,
        "sink": sink,
        "import": file_import,
        "tagging": tagging,
        "actions": actions,
    }


def _parts(settings: Settings, args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    return {**_legacy_parts(settings, args), **goal_parts(settings, args.events)}


def _run_part(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One part with its load and duration; a part that fails or is not written yet leaves a reason
    for its goals' rows instead of stopping the others."""
    watch = LoadWatch()
    began = time.perf_counter()
    try:
        result = dict(run())
        if "figures" not in result:
            result["figures"] = [figure.as_dict() for figure in figures_from_keys(result)]
    except ModuleNotFoundError as exc:
        reason = f"{NOT_MEASURED} (part not built: {exc.name})"
        result = {"unavailable": dict.fromkeys(PART_FIGURES.get(name, ()), reason), "error": str(exc)}
    except Exception as exc:  # one broken part must not hide the other figures
        reason = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
        result = {"unavailable": dict.fromkeys(PART_FIGURES.get(name, ()), reason), "error": reason}
        print(f"bench: {name} {reason}", file=sys.stderr, flush=True)
    result["seconds"] = round(time.perf_counter() - began, 1)
    result["load"] = watch.stop()
    return result


def run_bench(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    from infra.broker import kafka_answers

    if not kafka_answers(settings.kafka_bootstrap):
        from schemas.errors import UnreachableError

        raise UnreachableError(
            f"Kafka is not reachable at {settings.kafka_bootstrap}; start it with `pxstream infra up`"
        )
    results: dict[str, Any] = {"events": args.events, "machine": machine()}
    # Another process (a training run, a test suite) may hold a core: say so beside the figures.
    results["load_average"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    parts = _parts(settings, args)
    only = ALL_PARTS if args.only.strip() == "all" else args.only
    chosen = [p.strip() for p in only.split(",") if p.strip()]
    unknown = [name for name in chosen if name not in parts]
    if unknown:
        raise SystemExit(f"pxstream bench: unknown part {unknown[0]!r}; choose from {', '.join(parts)}")
    began = time.perf_counter()
    results["parts"] = {}
    for name in chosen:
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        result = _run_part(name, parts[name])
        results["parts"][name] = result
        results.setdefault("seconds", {})[name] = result["seconds"]
        results.update({k: v for k, v in result.items() if k not in _PART_KEYS})
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    figures = collect_figures(results["parts"])
    unavailable = {k: v for r in results["parts"].values() for k, v in (r.get("unavailable") or {}).items()}
    rows = summary(figures, unavailable)
    results["summary"] = [row.as_dict() for row in rows]
    results["figures"] = [figure.as_dict() for figure in figures.values()]
    print_table(results)
    print_summary(results, rows, other_figures(figures))
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return 0


# Keys of a part's result that stay under "parts" rather than the top level of the JSON.
_PART_KEYS = frozenset({"figures", "unavailable", "seconds", "load", "error"})


def print_summary(results: dict[str, Any], rows: list[Row], others: list[Figure]) -> None:
    """The goals table, the other figures, and each part's load and duration."""
    print()
    print("Goals of the speed issue (each ratio taken within this run):")
    for line in format_rows(rows):
        print("  " + line)
    if others:
        print("Other figures:")
        for line in format_figures(others):
            print("  " + line)
    print("Load and duration by part:")
    for name, result in results["parts"].items():
        print(f"  {name}: {result['seconds']:.0f} s; {describe(result['load'])}")
    print(f"  total: {results['total_seconds']:.0f} s")


def print_table(results: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = [("machine", str(results.get("machine")))]
    ceiling = results.get("ceiling_events_per_s")
    pipeline = results.get("pipeline_events_per_s")
    if ceiling:
        rows.append(("ceiling (aiokafka + orjson)", f"{ceiling:,.0f} events/s"))
    if pipeline:
        share = f"  ({pipeline / ceiling:.0%} of ceiling)" if ceiling else ""
        rows.append(("pipeline (one worker, tag + window + rules)", f"{pipeline:,.0f} events/s{share}"))
    tagging = results.get("tagging_events_per_s")
    if tagging:
        rows.append(("  tagging stage alone (no hotspots)", f"{tagging:,.0f} events/s"))
    if results.get("load_average"):
        rows.append(("load average at start (1/5/15 min)", results["load_average"]))
    latency = results.get("alert_latency_ms")
    if latency:
        load = results.get("alert_latency_background_events_per_s")
        under = f"   ({latency.get('trials', '?')} trials under {load:,} events/s background)" if load else ""
        rows.append(("alert latency", f"p50 {latency['p50']:.0f} ms   p99 {latency['p99']:.0f} ms{under}"))
    if results.get("sink_rows_per_s"):
        rows.append(("sink into ClickHouse (best batch)", f"{results['sink_rows_per_s']:,.0f} rows/s"))
    for size, rate in sorted((results.get("sink_by_batch_size") or {}).items(), key=lambda kv: int(kv[0])):
        rows.append((f"  batch of {int(size):,}", f"{rate:,.0f} rows/s"))
    mix = (results.get("tagging_mix") or {}).get("pipeline")
    if mix:
        rows.append(
            (
                "validate + redact + tag, realistic mix, one core",
                f"{mix['validate_redact_tag_per_s']:,.0f} events/CPU-s"
                f"  ({mix['us_per_event']:,.0f} µs/event)",
            )
        )
        parts = results["tagging_mix"].get("tagger_parts_us_per_event") or {}
        rows.append(("  redaction", f"{results['tagging_mix']['redact_us_per_event']:,.0f} µs/event"))
        for part, micros in parts.items():
            rows.append((f"  tagger: {part}", f"{micros:,.0f} µs/event"))
    stage = results.get("actions_stage")
    if stage:
        rows.append(("actions stage, engine alone", f"{stage['engine_us_per_event']:,.1f} µs/event"))
        rows.append(("actions stage, through Kafka", f"{stage['kafka_us_per_event']:,.0f} µs/event"))
    if results.get("import_rows_per_s"):
        rows.append(("CSV import", f"{results['import_rows_per_s']:,.0f} rows/s"))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
