"""`pxstream sql`: read-only enforced by the engine, table and JSON output, a busy engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sinks.client import connect
from sinks.exceptions import ReadOnlyQueryError
from sinks.schema import ensure_schema
from sinks.sql import run_query

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client(tmp_path):
    ch = connect(f"chdb://{tmp_path / 'clickhouse'}")
    ensure_schema(ch)
    ch.command("CREATE TABLE scratch (x UInt8) ENGINE = MergeTree ORDER BY x")
    yield ch
    ch.close()


@pytest.mark.parametrize(
    "sql",
    [
        "WITH t AS (SELECT 1) INSERT INTO scratch SELECT 1",
        "SELECT 1 /* ; */ ; INSERT INTO scratch VALUES (1)",
        "-- just a look\nSELECT 1; DROP TABLE scratch",
        "SELECT * FROM scratch SETTINGS readonly = 0",
    ],
)
def test_the_engine_refuses_writes_that_pass_the_prefix_check(client, sql):
    with pytest.raises(ReadOnlyQueryError):
        run_query(client, sql)
    assert client.query("SELECT count() FROM scratch").result_rows == [(0,)]
    assert client.query("EXISTS TABLE scratch").result_rows == [(1,)]


def test_select_returns_columns_and_rows(client):
    columns, rows = run_query(client, "SHOW TABLES LIKE 'feedback_%'")
    assert columns == ["name"]
    assert ("feedback_events",) in rows


def _cli(args: list[str], url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PXSTREAM_CLICKHOUSE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "pxstream", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_prints_a_table_and_json_and_refuses_writes(tmp_path):
    url = f"chdb://{tmp_path / 'ch'}"
    ch = connect(url)
    ensure_schema(ch)
    ch.close()
    table = _cli(["sql", "SELECT 1 AS one, 'x' AS letter"], url)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == ["one", "letter"]
    assert "(1 row)" in table.stdout
    as_json = _cli(["sql", "SHOW TABLES", "--format", "json"], url)
    assert as_json.returncode == 0, as_json.stderr
    assert {"name": "feedback_events"} in json.loads(as_json.stdout)
    refused = _cli(["sql", "DROP TABLE feedback_events"], url)
    assert refused.returncode == 2
    assert "read-only" in refused.stderr
    hidden = _cli(["sql", "WITH 1 AS x INSERT INTO sink_batches (topic) VALUES ('x')"], url)
    assert hidden.returncode == 2 and "INSERT is not allowed in a read-only query" in hidden.stderr


def test_cli_names_the_process_holding_the_embedded_engine(tmp_path):
    url = f"chdb://{tmp_path / 'ch'}"
    holder = connect(url)  # this test process now holds the directory, as a worker would
    try:
        busy = _cli(["sql", "SELECT 1"], url)
    finally:
        holder.close()
    assert busy.returncode == 3
    assert "in use by another process" in busy.stderr
    assert f"pid {os.getpid()}" in busy.stderr
    assert "Traceback" not in busy.stderr
