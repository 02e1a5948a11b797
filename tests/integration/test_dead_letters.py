"""Acceptance: 1,000 malformed messages of varied kinds all land in the dead-letter topic with the
right reason while the worker keeps running, and valid events sent after the junk come out tagged."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.harness import WorkerProcess, collect, synthetic_events
from runtime.produce import produce
from schemas.dead_letter import original_bytes
from schemas.settings import Settings
from streams.worker_config import WorkerConfig
from tests.support.kafka import worker_topics

pytestmark = pytest.mark.integration

PYTHON_ARGS: tuple[str, ...] = ("-m", "pxstream")  # the production command, as operators run it

GOOD = {
    "event_id": "x",
    "source": "incident",
    "occurred_at": "2025-03-01T14:30:00Z",
    "provider": "RTD",
    "text": "Patient fell on the ward.",
}


def malformed(index: int) -> tuple[bytes, str]:
    """The index-th junk message and the reason code it must be dead-lettered under."""
    event = {**GOOD, "event_id": f"junk-{index}"}
    kinds: list[tuple[bytes, str]] = [
        (b"\xff\xfe" + str(index).encode() + b"\x80", "not_utf8"),
        (f'{{"event_id": "junk-{index}", '.encode(), "not_json"),
        (b"", "not_json"),
        (f"[{index}]".encode(), "not_object"),
        (str(index).encode(), "not_object"),
        (b"null", "not_object"),
        (orjson.dumps({**event, "Text": "typo"}), "unknown_field"),
        (orjson.dumps({k: v for k, v in event.items() if k != "occurred_at"}), "missing_field"),
        (orjson.dumps({**event, "rating": "5"}), "wrong_type"),
        (orjson.dumps({**event, "text": ["a", "list"]}), "wrong_type"),
        (orjson.dumps({**event, "occurred_at": "31/12/2024"}), "bad_timestamp"),
        (orjson.dumps({**event, "occurred_at": "2024-12-31T10:00:00"}), "bad_timestamp"),
        (orjson.dumps({**event, "occurred_at": "2999-01-01T00:00:00Z"}), "bad_timestamp"),
        (orjson.dumps({**event, "text": "é" * 100_001}), "text_too_long"),
        (orjson.dumps({**event, "source": "fax"}), "invalid_value"),
        (orjson.dumps({**event, "event_id": ""}), "invalid_value"),
        (orjson.dumps({**event, "rating": 9}), "invalid_value"),
    ]
    return kinds[index % len(kinds)]


@pytest.fixture
def settings(kafka_bootstrap: str, tmp_path: Path) -> Settings:
    return Settings.from_env(  # the process environment too: the worker child starts with it
        {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_DATA_DIR": str(tmp_path)}
    )


@pytest.fixture
def config(settings: Settings) -> Iterator[WorkerConfig]:
    with worker_topics(settings, "test-dlq") as config:
        yield config


def test_a_thousand_malformed_messages_are_dead_lettered_and_the_worker_keeps_going(
    settings: Settings, config: WorkerConfig, tmp_path: Path
) -> None:
    worker = WorkerProcess(
        settings,
        prefix=config.topic_prefix,
        app_id=config.app_id,
        data_dir=tmp_path,
        log_path=tmp_path / "worker.log",
        python_args=PYTHON_ARGS,
    ).start()
    try:
        worker.wait_assigned()
        junk = [malformed(i) for i in range(1000)]
        asyncio.run(
            produce(
                settings.kafka_bootstrap,
                config.raw_topic,
                [(f"k{i}".encode(), v) for i, (v, _) in enumerate(junk)],
            )
        )
        dead = asyncio.run(
            collect(settings.kafka_bootstrap, [config.dlq_topic], expected=1000, timeout_s=120)
        )
        assert dead.count() == 1000
        assert worker.process is not None and worker.process.poll() is None, "the worker must keep running"

        # Valid events after the junk still come out tagged.
        valid = synthetic_events(50, seed=21)
        asyncio.run(
            produce(
                settings.kafka_bootstrap,
                config.raw_topic,
                [(e["provider"].encode(), orjson.dumps(e)) for e in valid],
            )
        )
        out = asyncio.run(
            collect(
                settings.kafka_bootstrap,
                [config.tagged_topic, config.dlq_topic],
                expected=1050,
                timeout_s=60,
                settle_s=2,
            )
        )
        assert sorted(orjson.loads(r.value)["event_id"] for r in out.records[config.tagged_topic]) == sorted(
            e["event_id"] for e in valid
        )
        assert out.count(config.dlq_topic) == 1000, "no duplicates, nothing extra"

        # Each dead letter: the right reason, the original key and bytes, where it came from.
        expected_by_key = {f"k{i}".encode(): junk[i] for i in range(1000)}
        for record in out.records[config.dlq_topic]:
            letter = orjson.loads(record.value)
            raw, reason = expected_by_key[record.key]
            assert letter["reason_code"] == reason, (letter["error"], raw[:80])
            assert letter["error"]
            kept = original_bytes(letter)  # truncated at 64 KiB, never mid-character
            assert raw.startswith(kept) and len(kept) >= min(len(raw), 64 * 1024 - 3)
            assert letter["topic"] == config.raw_topic
            assert isinstance(letter["partition"], int) and isinstance(letter["offset"], int)

        # Each reason counted, on the worker's /metrics.
        expected_counts = Counter(reason for _, reason in junk)
        deadline = time.monotonic() + 15
        counted: dict[str, float] = {}
        while time.monotonic() < deadline and counted != expected_counts:
            text = worker.metrics_text()
            counted = {
                m.group(1): float(m.group(2))
                for m in re.finditer(r'^pxstream_dead_letters_total\{reason="(\w+)"\} (\S+)$', text, re.M)
                if float(m.group(2))
            }
            time.sleep(0.5)
        assert counted == expected_counts
    finally:
        assert worker.stop() == 0, worker.log_path.read_text()[-3000:]
