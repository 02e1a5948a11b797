"""Measuring the tagging worker on the real broker, and the harness its integration tests share.

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
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from schemas import topics
from schemas.settings import Settings

_TEXTS = (
    "Waited {h} hours in A&E with chest pain, nobody told us what was happening. Call {phone}.",
    "The nurses on {ward} were kind and explained my mum's medication clearly.",
    "Toilets on {ward} were filthy and the bins overflowing for two days.",
    "My GP appointment was cancelled three times; I could not get through on the phone.",
    "Patient {name} (NHS number 943 476 5919) was given the wrong dose of insulin.",
    "Rude receptionist, no information about the delay, parking impossible.",
    "Excellent care from the maternity team, thank you all. Email me at {email}.",
    "Discharged without a care plan; district nurse never came. Postcode LS1 4AP.",
)
_SOURCES = ("complaint", "pals", "incident", "fft", "gp_comment_card", "social_media", "web_form")
_PROVIDERS = ("RTD", "RXH", "RR8", "RAE", "RCF", "Y01234", "B82005", "RWY")
_WARDS = ("Ward 7", "A&E", "Maternity", "Ward 12", "Outpatients", "Ward 3B")


def synthetic_events(count: int, *, seed: int = 7, now: datetime | None = None) -> list[dict[str, Any]]:
    """Valid FeedbackEvents with planted personal data, spread over providers and wards."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    events = []
    for index in range(count):
        provider = rng.choice(_PROVIDERS)
        ward = rng.choice(_WARDS)
        text = rng.choice(_TEXTS).format(
            h=rng.randint(2, 14),
            phone=f"07700 900{rng.randint(100, 999)}",
            ward=ward,
            name=rng.choice(("John Smith", "Mary Jones", "Ahmed Khan")),
            email=f"person{index}@example.com",
        )
        occurred = now - timedelta(minutes=rng.randint(0, 600))
        events.append(
            {
                "event_id": f"bench-{seed}-{index}",
                "source": rng.choice(_SOURCES),
                "occurred_at": occurred.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "provider": provider,
                "ward": ward,
                "text": text,
            }
        )
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_prefix(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}."


async def produce(
    bootstrap: str, topic: str, values: Iterable[tuple[bytes | None, bytes]], *, batch: int = 5000
) -> int:
    """Send (key, value) pairs and wait for every acknowledgement."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=10, max_batch_size=1 << 20)
    await producer.start()
    sent = 0
    try:
        pending: list[Any] = []
        for key, value in values:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= batch:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending = []
        await asyncio.gather(*pending)
        sent += len(pending)
    finally:
        await producer.stop()
    return sent


@dataclass
class Collected:
    records: dict[str, list[Any]] = field(default_factory=dict)

    def count(self, topic: str | None = None) -> int:
        if topic is None:
            return sum(len(r) for r in self.records.values())
        return len(self.records.get(topic, []))


async def collect(
    bootstrap: str, topic_names: Sequence[str], *, expected: int, timeout_s: float, settle_s: float = 0.0
) -> Collected:
    """Read the topics from the beginning until `expected` records in total (then `settle_s` more
    to catch anything extra, e.g. duplicates) or the deadline."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topic_names,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    collected = Collected({name: [] for name in topic_names})
    try:
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                collected.records[tp.topic].extend(records)
            if collected.count() >= expected:
                if settle_until is None:
                    settle_until = time.monotonic() + settle_s
                if time.monotonic() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return collected


class WorkerProcess:
    """`pxstream worker` as a child process on unique topics, app id and web port."""

    def __init__(
        self,
        settings: Settings,
        *,
        prefix: str,
        app_id: str,
        data_dir: Path,
        log_path: Path,
        extra_args: Sequence[str] = ("--no-sink", "--no-hotspots"),
        python_args: Sequence[str] = ("-m", "pxstream"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.prefix, self.app_id, self.log_path = prefix, app_id, log_path
        self.web_port = free_port()
        self.command = [
            sys.executable,
            *python_args,
            "worker",
            "--app-id",
            app_id,
            "--topic-prefix",
            prefix,
            "--web-port",
            str(self.web_port),
            *extra_args,
        ]
        self.env = {
            **os.environ,
            "PXSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "PXSTREAM_DATA_DIR": str(data_dir),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd()
        )
        log.close()
        return self

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/healthz", timeout=2) as reply:
                return orjson.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return orjson.loads(exc.read())
        except (OSError, ValueError):
            return None

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as reply:
            return reply.read().decode()

    def wait_assigned(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Until the worker holds partitions of its raw topic (or it exits, or the deadline)."""
        raw = f"{self.prefix}{topics.RAW}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            report = self.health()
            if report and any(name.startswith(raw + "[") for name in report.get("assigned", [])):
                return report
            time.sleep(0.2)
        raise TimeoutError(f"worker not assigned {raw} within {timeout_s} s; log: {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit — the crash the at-least-once tests simulate."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def delete_topics(bootstrap: str, names: Sequence[str]) -> None:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        with contextlib.suppress(Exception):
            await admin.delete_topics(list(names))
    finally:
        await admin.close()


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
        worker = WorkerProcess(
            settings,
            prefix=prefix,
            app_id=config.app_id,
            data_dir=Path(tmp),
            log_path=Path(tmp) / "worker.log",
            extra_args=extra,
            python_args=python_args,
            env={"PXSTREAM_RULES": str(rules_path), "PXSTREAM_ALERTMANAGER_URL": ""},
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
            asyncio.run(
                delete_topics(settings.kafka_bootstrap, [config.topic(s.name) for s in topics.TOPICS])
            )
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


LATENCY_RULES = """\
rules:
  - id: bench-latency
    description: Benchmark rule, three events on one ward within an hour
    group_by: [provider, ward]
    window: {size: 1h}
    threshold: 3
    severity: info
"""


async def _background_load(
    bootstrap: str, topic: str, rate_per_s: float, stop: asyncio.Event
) -> tuple[int, float]:
    """Realistic events at a steady rate while latency is measured, so the alert path competes
    with normal traffic for the worker's batches, tagger and tables. Events are encoded before
    the clock starts, so the generator's own cost does not lower the rate it reports.
    Returns (events sent, seconds the load ran)."""
    from aiokafka import AIOKafkaProducer

    events = synthetic_events(max(1, int(rate_per_s * 60)))
    encoded = [(str(e.get("provider", "")).encode(), orjson.dumps(e)) for e in events]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    sent = 0
    began = time.monotonic()
    try:
        while not stop.is_set():
            due = int((time.monotonic() - began) * rate_per_s)
            while sent < due:
                key, value = encoded[sent % len(encoded)]
                await producer.send(topic, value, key=key)
                sent += 1
            await asyncio.sleep(0.01)  # pacing the load generator, not waiting for a condition
        elapsed = time.monotonic() - began
        await producer.flush()
    finally:
        await producer.stop()
    return sent, elapsed


async def _alert_latencies(
    bootstrap: str, config: Any, trials: int, timeout_s: float, background_rate: float = 0.0
) -> tuple[list[float], float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    consumer = AIOKafkaConsumer(
        config.alerts_topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest"
    )
    await producer.start()
    await consumer.start()
    latencies: list[float] = []
    stop_load = asyncio.Event()
    load = (
        asyncio.create_task(_background_load(bootstrap, config.raw_topic, background_rate, stop_load))
        if background_rate > 0
        else None
    )
    try:
        await consumer.seek_to_end()
        for trial in range(trials + 1):  # the first is a warm-up: agents' first batch, table open
            ward = f"bench-ward-{trial}-{uuid.uuid4().hex[:6]}"
            now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            sent = []
            for index in range(3):
                event = {
                    "event_id": f"{ward}-{index}",
                    "source": "incident",
                    "occurred_at": now,
                    "provider": "RBENCH",
                    "ward": ward,
                    "text": "Patient fell on the ward.",
                }
                sent.append(
                    await producer.send_and_wait(config.raw_topic, orjson.dumps(event), key=b"RBENCH")
                )
            crossed_ms = sent[-1].timestamp
            deadline = time.monotonic() + timeout_s
            found = None
            while found is None and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=100)
                for records in batches.values():
                    for record in records:
                        alert = orjson.loads(record.value)
                        if alert.get("group", {}).get("ward") == ward and alert.get("status") == "firing":
                            found = record
            if found is None:
                raise RuntimeError(f"no alert for {ward} within {timeout_s} s")
            if trial:
                latencies.append(found.timestamp - crossed_ms)
    finally:
        stop_load.set()
        sent_background, load_seconds = await load if load is not None else (0, 1.0)
        await consumer.stop()
        await producer.stop()
    return latencies, sent_background / max(load_seconds, 1e-9)


def bench_alert_latency(
    settings: Settings,
    *,
    trials: int = 50,
    background_rate: float = 1000.0,
    work_dir: Path | None = None,
    python_args: Sequence[str] = ("-m", "pxstream"),
) -> dict[str, Any]:
    """Milliseconds from the event that crosses a threshold (its Kafka timestamp on feedback.raw)
    to the firing alert on hotspots.alerts, through one worker: validate, redact, tag, count, rule,
    while `background_rate` synthetic events/s flow through the same worker."""
    import tempfile

    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix("bench-latency")
    config = WorkerConfig(app_id=f"{prefix}worker", topic_prefix=prefix)
    with tempfile.TemporaryDirectory(prefix="pxstream-bench-latency-", dir=work_dir) as tmp:
        rules = Path(tmp) / "rules.yaml"
        rules.write_text(LATENCY_RULES)
        asyncio.run(ensure_topics(settings, config))
        worker = WorkerProcess(
            settings,
            prefix=prefix,
            app_id=config.app_id,
            data_dir=Path(tmp),
            log_path=Path(tmp) / "worker.log",
            extra_args=["--no-sink"],
            python_args=python_args,
            env={"PXSTREAM_RULES": str(rules), "PXSTREAM_ALERTMANAGER_URL": ""},
        )
        try:
            with worker:
                worker.wait_assigned()
                latencies, load_rate = asyncio.run(
                    _alert_latencies(settings.kafka_bootstrap, config, trials, 60.0, background_rate)
                )
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}; worker log: {worker.log_path.read_text()[-2000:]}") from None
        finally:
            asyncio.run(
                delete_topics(settings.kafka_bootstrap, [config.topic(s.name) for s in topics.TOPICS])
            )
    ordered = sorted(latencies)

    def percentile(q: float) -> float:
        return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))])

    return {
        "alert_latency_ms": {
            "p50": percentile(0.5),
            "p90": percentile(0.9),
            "p99": percentile(0.99),
            "max": float(ordered[-1]),
            "trials": len(ordered),
        },
        "alert_latency_background_events_per_s": round(load_rate),
    }
