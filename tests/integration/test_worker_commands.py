"""`pxstream produce FILE.jsonl` (and `-`) against the real broker: lines sent as they are, keyed
by provider, acknowledged and counted; `pxstream tag` as a command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.harness import collect, unique_prefix
from runtime.admin import delete_topics
from tests.support.kafka import create_topics

pytestmark = pytest.mark.integration

LINES = [
    orjson.dumps(
        {
            "event_id": "a",
            "source": "pals",
            "occurred_at": "2025-03-01T10:00:00Z",
            "provider": "RTD",
            "text": "Nobody called me back on 07700 900123.",
        }
    ),
    b"{not json, sent anyway: the stream validates",
    orjson.dumps({"event_id": "b", "source": "fft", "occurred_at": "2025-03-01T10:00:00Z", "text": "Great."}),
]


@pytest.fixture
def bootstrap(kafka_bootstrap: str) -> str:
    return kafka_bootstrap


@pytest.fixture
def topic(bootstrap: str) -> Iterator[str]:
    name = unique_prefix("test-produce") + "raw"
    create_topics(bootstrap, {name: 4})
    yield name
    asyncio.run(delete_topics(bootstrap, [name]))


def pxstream(*args: str, bootstrap: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "pxstream", *args], env=env, input=stdin, capture_output=True, timeout=120
    )


@pytest.mark.parametrize("from_stdin", [False, True])
def test_produce_sends_every_line_unchanged_keyed_by_provider(
    bootstrap: str, topic: str, tmp_path: Path, from_stdin: bool
) -> None:
    data = b"\n".join(LINES) + b"\n\n"  # a trailing blank line is not an event
    path = tmp_path / "events.jsonl"
    path.write_bytes(data)
    if from_stdin:
        result = pxstream("produce", "-", "--topic", topic, bootstrap=bootstrap, stdin=data)
    else:
        result = pxstream("produce", str(path), "--topic", topic, "--batch-size", "2", bootstrap=bootstrap)
    assert result.returncode == 0, result.stderr.decode()
    assert "3 lines sent" in result.stderr.decode()

    out = asyncio.run(collect(bootstrap, [topic], expected=3, timeout_s=30, settle_s=1))
    records = out.records[topic]
    assert sorted(r.value for r in records) == sorted(LINES)
    assert {r.value: r.key for r in records}[LINES[0]] == b"RTD"
    assert {r.value: r.key for r in records}[LINES[1]] is None


def test_produce_to_an_unreachable_broker_fails_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(LINES[0] + b"\n")
    result = pxstream("produce", str(path), bootstrap="127.0.0.1:1")
    assert result.returncode != 0
    assert "127.0.0.1:1" in result.stderr.decode().strip().splitlines()[-1]


def test_tag_command_reads_stdin_and_reports_bad_lines(tmp_path: Path) -> None:
    result = pxstream("tag", bootstrap="unused:1", stdin=b"\n".join(LINES) + b"\n")
    assert result.returncode == 1
    tagged = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [t["event_id"] for t in tagged] == ["a", "b"]
    assert "07700" not in result.stdout.decode()
    (error,) = [orjson.loads(line) for line in result.stderr.splitlines() if line.startswith(b"{")]
    assert (error["line"], error["reason_code"]) == (2, "not_json")
