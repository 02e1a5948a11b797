"""The sink against the real broker and the real ClickHouse engine (chDB in a scratch directory).

In-process tests run the sink on its own event loop in a thread (as inside `pxstream worker`)
and query the engine from the test thread; the crash and lock tests run `python -m pxstream
sink` as a subprocess, which then owns the engine's directory, so they watch the consumer
group's committed offsets and query ClickHouse once the subprocess has stopped.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from schemas.settings import Settings
from sinks import metrics
from sinks.client import connect
from sinks.runner import SinkConfig, run_sink
from tests.support.kafka import committed, failover_session_timeout
from tests.support.sink import (
    PLANTED,
    SinkThread,
    alert,
    assert_exactly_once,
    produce,
    raw_feedback_with_personal_data,
    sink_behind_switch,
    tagged_event,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


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


def test_clickhouse_outage_pauses_commits_bounds_memory_and_loses_nothing(
    kafka_bootstrap, new_topic, wait_for, tmp_path
):
    tagged, alerts = new_topic(partitions=2, prefix="sink-outage"), new_topic(prefix="sink-outage-a")
    url = f"chdb://{tmp_path / 'ch'}"
    config = SinkConfig(batch_size=400, linger_s=0.2, backoff_initial_s=0.1, backoff_max_s=0.5)
    sink, switch = sink_behind_switch(kafka_bootstrap, url, tagged, alerts, config)
    group = sink.group_id
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
    """`pxstream sink` as a subprocess; with `hold="STAGE:MARKER"`, the same sink held at STAGE
    of its first batch (tests/support/held_sink.py)."""
    env = {**os.environ, "PXSTREAM_CLICKHOUSE_URL": url, "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap}
    args = ["--tagged-topic", tagged, "--alerts-topic", alerts, "--group-id", group, "--batch-size", "1500"]
    # A restart after kill -9 waits for the dead member's session: the kill tests' 3 s, not 10.
    args += ["--session-timeout", str(failover_session_timeout(bootstrap))]
    command = ["-m", "tests.support.held_sink", *hold.split(":", 1)] if hold else ["-m", "pxstream", "sink"]
    return subprocess.Popen(
        [sys.executable, *command, *args],
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
