"""`pxstream bench` — throughput and latency against the real local broker and engine.

Reports (docs/contracts.md, "Benchmark output"): the *ceiling* (a raw aiokafka consume + orjson decode
loop over the same events: what the broker and client can do on this machine), the *pipeline*
(sustained events/s through validate + redact + tag + window + rules in one worker process),
*alert latency* (produce of a threshold-crossing event to its alert on `hotspots.alerts`, under
background load), *sink* rows/s into the embedded ClickHouse engine by batch size, and the file
import rate. Each part runs on fresh, uniquely named topics so runs never see each other's data.
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

from runtime.produce import produce
from schemas.settings import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("bench", help="measure throughput and alert latency on this machine")
    parser.add_argument("--events", type=int, default=50_000, help="events for the ceiling and pipeline runs")
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON"
    )
    parser.add_argument(
        "--only",
        default="ceiling,pipeline,latency,sink,import,tagging,redaction,actions",
        help="comma-separated parts to run (default: all)",
    )
    parser.set_defaults(func=run_bench)


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
    return {"ceiling_events_per_s": round(rate)}


def _parts(settings: Settings, args: argparse.Namespace) -> dict[str, Callable[[], dict[str, Any]]]:
    def pipeline() -> dict[str, Any]:
        from bench.pipeline import bench_pipeline

        return bench_pipeline(settings, events=args.events)

    def latency() -> dict[str, Any]:
        from bench.latency import bench_alert_latency

        return bench_alert_latency(settings)

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

        report = bench_realistic_mix(settings.fft_data, events=min(args.events, 20_000))
        rate = report["pipeline"]["validate_redact_tag_per_s"]
        return {"tagging_mix": report, "stateless_cpu_events_per_s": rate}

    def redaction() -> dict[str, Any]:
        from bench.redaction import bench_redaction

        return bench_redaction(settings.fft_data, events=min(args.events, 20_000))

    def actions() -> dict[str, Any]:
        from bench.actions import bench_engine, bench_kafka, feed

        events = feed(min(args.events, 20_000))
        through_kafka = asyncio.run(bench_kafka(settings, events))
        return {"actions_stage": {**bench_engine(settings, events), **through_kafka}}

    return {
        "ceiling": lambda: bench_ceiling(settings, args.events),
        "pipeline": pipeline,
        "latency": latency,
        "sink": sink,
        "import": file_import,
        "tagging": tagging,
        "redaction": redaction,
        "actions": actions,
    }


def run_bench(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    from infra.broker import kafka_answers

    if not kafka_answers(settings.kafka_bootstrap):
        from schemas.errors import UnreachableError

        raise UnreachableError(
            f"Kafka is not reachable at {settings.kafka_bootstrap}; start it with `pxstream infra up`"
        )
    results: dict[str, Any] = {"events": args.events, "machine": machine()}
    if hasattr(os, "getloadavg"):
        # Another process (a training run, a test suite) may hold a core: say so beside the figures.
        results["load_average"] = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    parts = _parts(settings, args)
    began = time.perf_counter()
    for name in [p.strip() for p in args.only.split(",") if p.strip()]:
        if name not in parts:
            raise SystemExit(f"pxstream bench: unknown part {name!r}; choose from {', '.join(parts)}")
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        results.update(parts[name]())
        results.setdefault("seconds", {})[name] = round(time.perf_counter() - t0, 1)
    results["total_seconds"] = round(time.perf_counter() - began, 1)
    print_table(results)
    if args.json:
        args.json.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    return 0


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
