"""The sink against the real broker and the real ClickHouse engine (chDB in a scratch directory).

In-process tests run the sink on its own event loop in a thread (as inside `pxstream worker`)
and query the engine from the test thread; the crash and lock tests run `python -m pxstream
sink` as a subprocess, which then owns the engine's directory, so they watch the consumer
group's committed offsets and query ClickHouse once the subprocess has stopped.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from schemas.settings import Settings
from sinks import metrics
from sinks.client import connect
from sinks.runner import KafkaClickHouseSink, SinkConfig, run_sink
from tests.integration._hotspots_support import committed

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PLANTED = ("943 476 5919", "07700 900123", "Jane Smith", "jane.smith@example.org")
DOMAINS = ["safe_high_quality_care", "access_and_waiting", "clean_comfortable_place"]


# -- helpers ------------------------------------------------------------------------------------
def tagged_event(i: int, prefix: str, rng: random.Random) -> dict[str, Any]:
    domains = rng.sample(DOMAINS, rng.choice([0, 1, 2]))
    return {
        "event_id": f"{prefix}-{i}",
        "source": rng.choice(["complaint", "fft", "incident", "pals"]),
        "occurred_at": f"2026-{1 + i % 2:02d}-{1 + i % 28:02d}T{i % 24:02d}:15:00Z",
        "received_at": "2026-03-01T00:00:00Z",
        "organisation": "QWE",
        "provider": f"RX{i % 5}",
        "ward": f"Ward {i % 4}",
        "text": "[NAME] waited on the ward",
        "domains": domains,
        "domain_scores": {d: 0.7 for d in domains},
        "themes": ["waiting"],
        "sentiment": rng.choice([-0.8, -0.1, 0.0, 0.6]),
        "evidence": [],
        "redactions": {"name": 1},
        "tagger_version": "test-tagger",
    }


def raw_feedback_with_personal_data(i: int) -> dict[str, Any]:
    """A FeedbackEvent that skipped the redactor: no tagger_version, no redactions."""
    return {
        "event_id": f"raw-{i}",
        "source": "complaint",
        "occurred_at": "2026-01-05T10:00:00Z",
        "provider": "RX1",
        "text": f"NHS number {PLANTED[0]}, call {PLANTED[1]}, ask for {PLANTED[2]} ({PLANTED[3]})",
    }


def alert(status: str, alert_id: str, count: int) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule_id": "ward-incidents-24h",
        "status": status,
        "group": {"provider": "RX1", "ward": "Ward 2"},
        "window_start": "2026-01-05T00:00:00Z",
        "window_end": "2026-01-06T00:00:00Z",
        "count": count,
        "threshold": 5,
        "severity": "warning",
        "description": "Five or more incidents on one ward within 24 hours",
        "fired_at": "2026-01-05T12:00:00Z",
        "resolved_at": "2026-01-06T03:00:00Z" if status == "resolved" else None,
        "sample_event_ids": ["a", "b"],
    }


def produce(bootstrap: str, topic: str, records: list[dict[str, Any]], key_field: str = "provider") -> None:
    from aiokafka import AIOKafkaProducer

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
        await producer.start()
        try:
            for record in records:
                key = str(record.get(key_field) or record.get("alert_id") or "").encode()
                await producer.send(topic, orjson.dumps(record), key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(send())


def expected_daily(events: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in events:
        for domain in event["domains"] or [""]:
            counts[(event["occurred_at"][:10], domain)] += 1
    return dict(counts)


def stored_daily(client) -> dict[tuple[str, str], int]:
    rows = client.query("SELECT toString(day), domain, sum(events) FROM feedback_daily GROUP BY day, domain")
    return {(day, domain): count for day, domain, count in rows.result_rows}


def assert_exactly_once(client, events: list[dict[str, Any]]) -> None:
    n = len({e["event_id"] for e in events})
    assert client.query("SELECT count() FROM feedback_events FINAL").result_rows[0][0] == n
    assert client.query("SELECT count(), uniqExact(event_id) FROM feedback_events").result_rows[0] == (n, n)
    hourly_total = client.query("SELECT sum(events) FROM feedback_hourly").result_rows[0][0]
    assert hourly_total == sum(max(1, len(e["domains"])) for e in events)
    assert stored_daily(client) == expected_daily(events)


class SinkThread:
    """The sink on its own event loop, as it runs inside the worker, stoppable from the test."""

    def __init__(self, make_coro) -> None:
        self._make_coro = make_coro
        self._ready = threading.Event()
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.ticks = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.stop_event = asyncio.Event()
            ticker = asyncio.create_task(self._tick())
            self._ready.set()
            try:
                await self._make_coro(self.stop_event)
            finally:
                ticker.cancel()

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc

    async def _tick(self) -> None:
        """Stands in for the rest of the worker: it must keep running whatever ClickHouse does."""
        while True:
            await asyncio.sleep(0.05)
            self.ticks += 1

    def __enter__(self) -> SinkThread:
        self.thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(60)
        assert not self.thread.is_alive(), "sink did not stop"
        assert self.error is None, repr(self.error)


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


# -- in-process ---------------------------------------------------------------------------------
def test_events_and_alerts_land_once_each_and_raw_feedback_never(
    kafka_bootstrap, new_topic, wait_for, tmp_path, caplog
):
    caplog.set_level("INFO")
    tagged, alerts = new_topic(partitions=3, prefix="sink-tagged"), new_topic(prefix="sink-alerts")
    url = f"chdb://{tmp_path / 'ch'}"
    settings = Settings.from_env(
        {"PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_CLICKHOUSE_URL": url}
    )
    rng = random.Random(1)
    events = [tagged_event(i, "once", rng) for i in range(3000)]
    republished = rng.sample(events, 300)  # the stream re-sent these after a restart of its own
    refused_before = sample(
        "pxstream_sink_refused_total", {"table": "feedback_events", "reason": "not_redacted"}
    )

    produce(kafka_bootstrap, tagged, [*events[:1500], raw_feedback_with_personal_data(1)])
    produce(kafka_bootstrap, tagged, events[1500:] + republished + [raw_feedback_with_personal_data(2)])
    produce(
        kafka_bootstrap,
        alerts,
        [alert("firing", "ep-1", 5), alert("firing", "ep-2", 6), alert("resolved", "ep-1", 8)],
        key_field="alert_id",
    )
    group = f"sink-{tagged}"

    def run(stop):
        return run_sink(settings, stop=stop, tagged_topic=tagged, alerts_topic=alerts, group_id=group)

    with SinkThread(run):
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == 3000 + 300 + 2, 60, "all committed")
    client = connect(url)
    try:
        assert_exactly_once(client, events)
        assert client.query(
            "SELECT alert_id, status, count FROM hotspot_alerts FINAL ORDER BY alert_id"
        ).result_rows == [
            ("ep-1", "resolved", 8),
            ("ep-2", "firing", 6),
        ]
        assert client.query(
            "SELECT count() FROM feedback_events WHERE event_id LIKE 'raw-%'"
        ).result_rows == [(0,)]
        for (table,) in client.query("SHOW TABLES").result_rows:
            dump = str(client.query(f"SELECT * FROM {table}").result_rows)
            for planted in PLANTED:
                assert planted not in dump, f"{planted!r} found in {table}"
    finally:
        client.close()
    refused = sample("pxstream_sink_refused_total", {"table": "feedback_events", "reason": "not_redacted"})
    assert refused - refused_before == 2
    assert "refused" in caplog.text
    for planted in PLANTED:
        assert planted not in caplog.text


class FlakyClient:
    """The real engine's client behind a switch: while `down`, every call fails like a dropped
    connection. chDB runs in-process and cannot be taken away mid-run, so the outage is injected
    at the client boundary; everything else (broker, engine, sink) is real."""

    def __init__(self, real, switch: dict[str, bool]) -> None:
        self._real = real
        self._switch = switch

    def __getattr__(self, name: str):
        attribute = getattr(self._real, name)
        if name in ("insert", "query", "command") and callable(attribute):

            def guarded(*args, **kwargs):
                from clickhouse_connect.driver.exceptions import OperationalError

                if self._switch["down"]:
                    raise OperationalError("Error connecting to 127.0.0.1:8123 (injected outage)")
                return attribute(*args, **kwargs)

            return guarded
        return attribute


def test_clickhouse_outage_pauses_commits_bounds_memory_and_loses_nothing(
    kafka_bootstrap, new_topic, wait_for, tmp_path
):
    tagged, alerts = new_topic(partitions=2, prefix="sink-outage"), new_topic(prefix="sink-outage-a")
    url = f"chdb://{tmp_path / 'ch'}"
    settings = Settings.from_env(
        {"PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_CLICKHOUSE_URL": url}
    )
    switch = {"down": False}
    group = f"sink-{tagged}"
    config = SinkConfig(batch_size=400, linger_s=0.2, backoff_initial_s=0.1, backoff_max_s=0.5)
    sink = KafkaClickHouseSink(
        settings,
        tagged_topic=tagged,
        alerts_topic=alerts,
        group_id=group,
        config=config,
        client_factory=lambda: FlakyClient(connect(url), switch),
    )
    rng = random.Random(2)
    events = [tagged_event(i, "outage", rng) for i in range(4000)]
    errors_before = sample("pxstream_sink_errors_total", {"table": "feedback_events"})

    with SinkThread(sink.run) as running:
        produce(kafka_bootstrap, tagged, events[:1000])
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == 1000, 60, "first part committed")

        switch["down"] = True
        produce(kafka_bootstrap, tagged, events[1000:])
        wait_for(
            lambda: sample("pxstream_sink_errors_total", {"table": "feedback_events"}) >= errors_before + 3,
            60,
            "failed writes while ClickHouse is down",
        )
        ticks, peak = running.ticks, 0.0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:  # observe the outage for a while: nothing committed, memory flat
            peak = max(peak, metrics.BUFFERED._value.get())
            assert committed(kafka_bootstrap, group, tagged) == 1000
            time.sleep(0.2)
        assert sample("pxstream_sink_paused") == 1
        assert peak <= config.batch_size
        assert running.ticks > ticks + 20, "the event loop stalled during the outage"

        switch["down"] = False
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == 4000, 90, "backlog committed")
        assert sample("pxstream_sink_paused") == 0
    client = connect(url)
    try:
        assert_exactly_once(client, events)
    finally:
        client.close()


# -- subprocess: kill -9 and a locked engine ----------------------------------------------------
def start_sink(url: str, bootstrap: str, tagged: str, alerts: str, group: str, log: Path, hold: str = ""):
    env = {
        **os.environ,
        "PXSTREAM_CLICKHOUSE_URL": url,
        "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap,
        "PXSTREAM_SINK_TEST_HOLD": hold,
    }
    args = ["--tagged-topic", tagged, "--alerts-topic", alerts, "--group-id", group, "--batch-size", "1500"]
    return subprocess.Popen(
        [sys.executable, "-m", "pxstream", "sink", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def stop_sink(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0


def test_kill_9_during_batches_then_restart_stores_each_event_once(
    kafka_bootstrap, new_topic, wait_for, tmp_path
):
    tagged, alerts = new_topic(partitions=3, prefix="sink-kill"), new_topic(prefix="sink-kill-a")
    url, group, log = f"chdb://{tmp_path / 'ch'}", f"sink-{tagged}", tmp_path / "sink.log"
    rng = random.Random(3)
    events = [tagged_event(i, "kill", rng) for i in range(12_000)]
    produce(kafka_bootstrap, tagged, events)

    # Killed at exactly known points of a batch, then once more at an arbitrary moment.
    for stage in ("inserted", "journaled"):
        marker = tmp_path / f"held-{stage}"
        process = start_sink(url, kafka_bootstrap, tagged, alerts, group, log, hold=f"{stage}:{marker}")
        wait_for(marker.exists, 90, f"sink to reach '{stage}'")
        process.kill()  # SIGKILL
        process.wait(30)
    before = committed(kafka_bootstrap, group, tagged)
    process = start_sink(url, kafka_bootstrap, tagged, alerts, group, log)
    wait_for(lambda: committed(kafka_bootstrap, group, tagged) > before, 90, "progress after restart")
    process.kill()
    process.wait(30)
    assert committed(kafka_bootstrap, group, tagged) < len(events), "killed too late to mean anything"

    process = start_sink(url, kafka_bootstrap, tagged, alerts, group, log)
    try:
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == len(events), 120, "all committed")
    finally:
        stop_sink(process)
    text = log.read_text(errors="replace")
    assert "replays" in text, "no restart replayed a journaled batch"
    client = connect(url)
    try:
        assert_exactly_once(client, events)
    finally:
        client.close()


def test_sink_waits_while_the_engine_directory_is_locked_then_catches_up(
    kafka_bootstrap, new_topic, wait_for, tmp_path
):
    """A real chDB failure: another process holds the data directory (here, this test)."""
    tagged, alerts = new_topic(partitions=2, prefix="sink-lock"), new_topic(prefix="sink-lock-a")
    url, group, log = f"chdb://{tmp_path / 'ch'}", f"sink-{tagged}", tmp_path / "sink.log"
    rng = random.Random(4)
    events = [tagged_event(i, "lock", rng) for i in range(2000)]
    holder = connect(url)
    process = start_sink(url, kafka_bootstrap, tagged, alerts, group, log)
    try:
        produce(kafka_bootstrap, tagged, events)
        wait_for(
            lambda: log.read_text(errors="replace").count("opening ClickHouse failed") >= 2, 60, "retries"
        )
        assert process.poll() is None, "the sink gave up instead of waiting"
        assert "in use by another process" in log.read_text(errors="replace")
        assert committed(kafka_bootstrap, group, tagged) == 0
    finally:
        holder.close()
    try:
        wait_for(lambda: committed(kafka_bootstrap, group, tagged) == len(events), 120, "caught up")
    finally:
        stop_sink(process)
    client = connect(url)
    try:
        assert_exactly_once(client, events)
    finally:
        client.close()
