"""`pxstream worker` as a child process on the real broker: nothing lost, nothing doubled, a
`kill -9` mid-stream loses nothing, clear failures, metrics and health on the web port."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from bench.harness import WorkerProcess, collect, synthetic_events
from runtime.produce import produce
from schemas.settings import Settings
from streams.worker_config import WorkerConfig
from tests.support.kafka import failover_session_timeout, worker_topics

pytestmark = pytest.mark.integration

TAGGED_VALIDATOR = jsonschema.Draft202012Validator(
    json.loads(resources.files("schemas").joinpath("tagged_event.v1.json").read_text()),
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
)
PYTHON_ARGS: tuple[str, ...] = ("-m", "pxstream")  # the production command, as operators run it


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return Settings.from_env(  # the process environment too: the worker child starts with it
        {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_DATA_DIR": str(tmp_path)}
    )


@pytest.fixture
def config(settings: Settings) -> Iterator[WorkerConfig]:
    with worker_topics(settings, "test-worker") as config:
        yield config


def start_worker(
    settings: Settings, config: WorkerConfig, tmp_path: Path, **options: object
) -> WorkerProcess:
    return WorkerProcess(
        settings,
        prefix=config.topic_prefix,
        app_id=config.app_id,
        data_dir=tmp_path,
        log_path=tmp_path / "worker.log",
        python_args=PYTHON_ARGS,
        **options,  # type: ignore[arg-type]
    ).start()


def send(settings: Settings, topic: str, events: list[dict[str, object]]) -> None:
    values = [(str(e.get("provider", "")).encode(), orjson.dumps(e)) for e in events]
    asyncio.run(produce(settings.kafka_bootstrap, topic, values))


def test_every_input_ends_tagged_or_dead_lettered_exactly_once(
    settings: Settings, config: WorkerConfig, tmp_path: Path
) -> None:
    events = synthetic_events(1500, seed=11)
    junk = [{"event_id": f"junk-{i}", "source": "complaint"} for i in range(100)]  # no text/occurred_at
    send(settings, config.raw_topic, events + junk)

    worker = start_worker(settings, config, tmp_path)
    try:
        out = asyncio.run(
            collect(
                settings.kafka_bootstrap,
                [config.tagged_topic, config.dlq_topic],
                expected=1600,
                timeout_s=120,
                settle_s=3,  # anything beyond 1600 would be a duplicate: wait to see it
            )
        )
        assert worker.process is not None and worker.process.poll() is None, worker.log_path.read_text()
    finally:
        assert worker.stop() == 0, worker.log_path.read_text()[-3000:]

    tagged = [orjson.loads(r.value) for r in out.records[config.tagged_topic]]
    dead = [orjson.loads(r.value) for r in out.records[config.dlq_topic]]
    assert sorted(e["event_id"] for e in tagged) == sorted(e["event_id"] for e in events)
    assert len(dead) == 100 and {d["reason_code"] for d in dead} == {"missing_field"}
    for record in out.records[config.tagged_topic]:
        event = orjson.loads(record.value)
        TAGGED_VALIDATOR.validate(event)
        assert record.key == event["provider"].encode(), "feedback.tagged is keyed by provider"
        assert "07700 900" not in event["text"] and "@example.com" not in event["text"]


def test_kill_9_mid_stream_then_restart_loses_nothing(
    settings: Settings, config: WorkerConfig, tmp_path: Path
) -> None:
    total = 30_000
    events = synthetic_events(total, seed=12)
    send(settings, config.raw_topic, events)

    # A short session: the restarted worker gets the killed one's partitions in seconds, not a minute.
    session = str(failover_session_timeout(settings.kafka_bootstrap))
    short_session = ("--no-sink", "--no-hotspots", "--session-timeout", session)
    worker = start_worker(settings, config, tmp_path, extra_args=(*short_session, "--batch-size", "200"))
    try:
        # Kill once part of the stream is out but well before the end.
        partial = asyncio.run(
            collect(settings.kafka_bootstrap, [config.tagged_topic], expected=12_000, timeout_s=90)
        )
        assert 12_000 <= partial.count() < total, "kill must land mid-stream"
    finally:
        worker.kill()
    assert worker.process is not None and worker.process.returncode == -9
    at_kill = asyncio.run(
        collect(settings.kafka_bootstrap, [config.tagged_topic], expected=total, timeout_s=5)
    )
    assert at_kill.count() < total, "the kill must land before the worker has finished"

    restarted = start_worker(settings, config, tmp_path, extra_args=short_session)
    try:
        out = asyncio.run(
            collect(
                settings.kafka_bootstrap,
                [config.tagged_topic, config.dlq_topic],
                expected=total,
                timeout_s=180,
                settle_s=3,
            )
        )
    finally:
        assert restarted.stop() == 0, restarted.log_path.read_text()[-3000:]

    ids = Counter(orjson.loads(r.value)["event_id"] for r in out.records[config.tagged_topic])
    assert set(ids) == {e["event_id"] for e in events}, "every input ends tagged"
    assert out.count(config.dlq_topic) == 0
    duplicates = sum(n - 1 for n in ids.values())
    print(
        f"\nkill -9 with {at_kill.count()} of {total} out: "
        f"{duplicates} re-delivered duplicates on feedback.tagged"
    )
    # Re-deliveries are bounded by what was processed but not committed at the kill.
    assert duplicates <= at_kill.count()


def test_metrics_and_health_on_the_web_port(settings: Settings, config: WorkerConfig, tmp_path: Path) -> None:
    events = synthetic_events(200, seed=13)
    send(settings, config.raw_topic, events)
    asyncio.run(produce(settings.kafka_bootstrap, config.raw_topic, [(b"RTD", b"not json")]))
    worker = start_worker(settings, config, tmp_path)
    try:
        report = worker.wait_assigned()
        assert report["status"] in ("ok", "stalled")
        asyncio.run(
            collect(
                settings.kafka_bootstrap, [config.tagged_topic, config.dlq_topic], expected=201, timeout_s=60
            )
        )
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            text = worker.metrics_text()
            if (
                'pxstream_dead_letters_total{reason="not_json"} 1.0' in text
                and "pxstream_consumer_lag{" in text
            ):
                break
            time.sleep(0.5)
        assert 'pxstream_dead_letters_total{reason="not_json"} 1.0' in text
        sources = Counter(e["source"] for e in events)
        for source, count in sources.items():
            assert f'pxstream_events_out_total{{source="{source}"}} {float(count)}' in text
        for name in (
            "pxstream_events_in_total",
            "pxstream_redactions_total",
            "pxstream_tagging_seconds_count",
            "pxstream_end_to_end_latency_seconds_bucket",
            "pxstream_consumer_lag",
        ):
            assert name in text
        assert "07700" not in text and "example.com" not in text
        health = worker.health()
        assert health is not None and health["status"] == "ok" and health["total_lag"] == 0
    finally:
        worker.stop()


def test_unreachable_broker_is_one_line_and_a_prompt_non_zero_exit(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PXSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1",
        "PXSTREAM_DATA_DIR": str(tmp_path),
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, *PYTHON_ARGS, "worker", "--no-sink", "--no-hotspots", "--web-port", "0"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 3
    assert elapsed < 15
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0] and lines[0].startswith("pxstream: error:")


def test_bad_rules_file_is_a_config_error_exit_2(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: Bad Id\n    group_by: [nowhere]\n")
    env = {**os.environ, "PXSTREAM_RULES": str(rules), "PXSTREAM_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, *PYTHON_ARGS, "worker", "--no-sink"], env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert str(rules) in result.stderr.decode()


def test_one_worker_runs_the_whole_pipeline_into_clickhouse(
    settings: Settings, config: WorkerConfig, tmp_path: Path
) -> None:
    from sinks.client import connect

    clickhouse = tmp_path / "clickhouse"
    events = synthetic_events(300, seed=14)
    send(settings, config.raw_topic, events)
    worker = start_worker(
        settings,
        config,
        tmp_path,
        extra_args=("--no-hotspots",),
        env={"PXSTREAM_CLICKHOUSE_URL": f"chdb://{clickhouse}"},
    )
    try:
        worker.wait_assigned()
        deadline = time.monotonic() + 90
        stored = 0.0
        while time.monotonic() < deadline and stored < 300:
            text = worker.metrics_text()
            line = next(
                (
                    x
                    for x in text.splitlines()
                    if x.startswith('pxstream_sink_rows_total{table="feedback_events"}')
                ),
                "",
            )
            stored = float(line.split()[-1]) if line else 0.0
            time.sleep(0.5)
        assert stored >= 300, worker.log_path.read_text()[-3000:]
    finally:
        assert worker.stop() == 0, worker.log_path.read_text()[-3000:]

    client = connect(f"chdb://{clickhouse}")
    rows = client.query("SELECT event_id, text FROM feedback_events FINAL").result_rows
    assert sorted(r[0] for r in rows) == sorted(e["event_id"] for e in events)
    assert not any("07700 900" in r[1] or "@example.com" in r[1] for r in rows)


def test_worker_with_hotspot_rules_raises_an_alert_from_raw_events(settings: Settings) -> None:
    from bench.latency import bench_alert_latency

    result = bench_alert_latency(settings, trials=2, python_args=PYTHON_ARGS)
    assert result["alert_latency_ms"]["trials"] == 2
    assert 0 <= result["alert_latency_ms"]["p50"] < 10_000


WHOLE_WORKER_RULES = """
allowed_lateness: 1d
rules:
  - id: ward-hour
    group_by: [provider, ward]
    window: {size: 1h, step: 10m}
    threshold: 45
  - id: provider-domain-2h
    group_by: [provider, domain]
    window: {size: 2h}
    threshold: 150
"""


def hotspot_committed(bootstrap: str, group: str, topic: str) -> tuple[int, int]:
    """(offsets the group has committed on `topic`, records in `topic`), summed over partitions."""
    from tests.support.kafka import committed, end_offsets

    return committed(bootstrap, group, topic), end_offsets(bootstrap, topic)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill-9", "sigterm"])
def test_kill_9_of_the_whole_worker_keeps_hotspot_counts_to_distinct_events(
    settings: Settings, config: WorkerConfig, tmp_path: Path, how: str
) -> None:
    """Tagging and hotspots in one process, stopped twice mid-stream (killed, or a normal restart):
    the tagging stage re-delivers what it had not committed, and sources re-send some events; each
    event still counts exactly once."""
    import random

    from streams.hotspots.agent import hotspot_group
    from streams.hotspots.changelog import changelog_topic
    from streams.hotspots.engine import HotspotEngine
    from streams.hotspots.rules import load_rules
    from tests.support.hotspots import read_alerts, read_table
    from tests.support.kafka import read_all
    from tests.support.waiting import wait_for
    from tests.unit.test_hotspot_engine import brute_force

    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(WHOLE_WORKER_RULES)
    rules = load_rules(rules_path)
    total_events = 20_000
    events = synthetic_events(total_events, seed=21)
    rng = random.Random(21)
    raw = list(events)
    for event in rng.sample(events, 1000):  # a source sending 1,000 items again, later
        raw.insert(rng.randrange(raw.index(event) + 1, len(raw) + 1), event)
    send(settings, config.raw_topic, raw)
    env = {"PXSTREAM_RULES": str(rules_path), "PXSTREAM_ALERTMANAGER_URL": ""}
    # A short session: the restarted worker gets the killed one's partitions in seconds, not a minute.
    session = str(failover_session_timeout(settings.kafka_bootstrap))
    options = {"extra_args": ("--no-sink", "--batch-size", "200", "--session-timeout", session), "env": env}

    worker = start_worker(settings, config, tmp_path, **options)
    for fraction in (0.3, 0.65):
        try:
            expected = int(fraction * len(raw))
            seen = asyncio.run(
                collect(settings.kafka_bootstrap, [config.tagged_topic], expected=expected, timeout_s=120)
            )
            assert seen.count() >= expected, f"only {seen.count()} tagged; log {worker.log_path}"
        finally:
            if how == "kill-9":
                worker.kill()
            else:
                assert worker.stop() == 0, worker.log_path.read_text()[-3000:]
        worker = start_worker(settings, config, tmp_path, **options)
    try:
        wait_for(
            lambda: (lambda done, size: size >= len(raw) and done == size)(
                *hotspot_committed(
                    settings.kafka_bootstrap, hotspot_group(config.app_id), config.tagged_topic
                )
            ),
            240,
            "the hotspot stage to commit all of feedback.tagged",
            interval=0.5,
        )
        records = read_all(settings.kafka_bootstrap, config.tagged_topic)
        inputs: dict[int, list[tuple[str, int, Any]]] = {}
        for partition, offset, _, value in sorted(records, key=lambda r: r[:2]):
            inputs.setdefault(partition, []).append(("e", offset, value))
        ids = Counter(value["event_id"] for _, _, _, value in records)
        assert set(ids) == {e["event_id"] for e in events}
        assert len(records) >= len(raw) > len(ids)  # re-sends, and re-deliveries from the kills

        expected = {
            (rule_id, key): count
            for partition_inputs in inputs.values()
            for rule_id, counts in brute_force(rules, partition_inputs).items()
            for key, count in counts.items()
        }
        changelog = changelog_topic(config.app_id)

        def actual() -> dict[tuple[str, Any], int]:
            state = read_table(settings.kafka_bootstrap, changelog)
            counts: dict[tuple[str, Any], int] = {}
            for partition in inputs:
                engine = HotspotEngine(rules, state, partition=partition)
                for rule in rules.rules:
                    counts.update(((rule.id, key), n) for key, n in engine.window_counts(rule.id).items())
            return counts

        wait_for(lambda: actual() == expected, 60, "hotspot counts to equal a recount of distinct events")

        alerts = read_alerts(settings.kafka_bootstrap, config.alerts_topic)
        firing = Counter(a["alert_id"] for a in alerts if a["status"] == "firing")
        assert firing, "the feed should cross the thresholds somewhere"
        assert max(firing.values()) == 1, [k for k, n in firing.items() if n > 1]

        from prometheus_client.parser import text_string_to_metric_families

        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(worker.metrics_text())
            for sample in family.samples
        }
        assert ("pxstream_alerts_firing", (("rule", "ward-hour"),)) in samples
        assert any(name == "pxstream_hotspot_watermark_seconds" for name, _ in samples)
        assert samples[("pxstream_hotspot_duplicates_total", ())] > 0
    finally:
        assert worker.stop() == 0, worker.log_path.read_text()[-3000:]
