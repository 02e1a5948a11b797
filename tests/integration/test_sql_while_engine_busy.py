"""`pxstream sql` while another process holds the embedded engine, as during the demo.

This test process plays the worker: it holds the engine (chDB locks the directory against other
processes) and serves queries as `pxstream worker` does; the CLI runs as a separate process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sinks.client import connect
from sinks.exceptions import EngineBusyError, ReadOnlyQueryError
from sinks.query_server import QueryServer, endpoint_file, query_holder
from sinks.schema import ensure_schema

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def sql(query: str, url: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pxstream", "sql", query, *extra],
        cwd=ROOT,
        env={**os.environ, "PXSTREAM_CLICKHOUSE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def held_engine(tmp_path):
    path = tmp_path / "clickhouse"
    holder = connect(f"chdb://{path}")
    ensure_schema(holder)
    holder.command(
        "INSERT INTO hotspot_alerts (alert_id, rule_id, status, fired_at)"
        " VALUES ('a1', 'r', 'firing', now64(3))"
    )
    server = QueryServer.start(path)
    yield path, server
    server.close()
    holder.close()


def test_the_cli_queries_the_live_engine_through_its_holder(held_engine):
    path, _server = held_engine
    url = f"chdb://{path}"
    done = sql("SELECT alert_id, status, fired_at FROM hotspot_alerts FINAL", url, "--format", "json")
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert (row["alert_id"], row["status"]) == ("a1", "firing")
    assert datetime.fromisoformat(row["fired_at"].replace("Z", "+00:00")).tzinfo == UTC
    table = sql("SELECT count() AS n FROM hotspot_alerts", url)
    assert table.returncode == 0 and "(1 row)" in table.stdout


def test_the_holder_applies_the_same_read_only_checks(held_engine, tmp_path):
    path, _server = held_engine
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-holder")
    busy = EngineBusyError("busy")
    # Straight to the endpoint, past the CLI's own check: the holder refuses by itself.
    for query in (f"SELECT file('{secret}')", f"SELECT 1 INTO OUTFILE '{tmp_path / 'out'}'", "DROP TABLE x"):
        with pytest.raises(ReadOnlyQueryError) as info:
            query_holder(path, query, busy)
        assert "TOPSECRET" not in str(info.value)
    assert not (tmp_path / "out").exists()
    refused = sql(f"SELECT file('{secret}')", f"chdb://{path}")
    assert refused.returncode == 2 and "allow-list" in refused.stderr


def test_the_endpoint_is_loopback_only_private_and_needs_its_token(held_engine):
    path, server = held_engine
    record = endpoint_file(path)
    assert oct(record.stat().st_mode & 0o777) == "0o600"
    endpoint = json.loads(record.read_text())
    assert endpoint["pid"] == os.getpid() and endpoint["port"] == server.port
    assert server._httpd.server_address[0] == "127.0.0.1"
    record.write_text(json.dumps({**endpoint, "token": "guess"}))
    with pytest.raises(ReadOnlyQueryError, match="unknown token"):
        query_holder(path, "SELECT 1", EngineBusyError("busy"))


def test_a_stale_record_of_a_dead_holder_is_one_line_exit_3(tmp_path):
    path = tmp_path / "clickhouse"
    holder = connect(f"chdb://{path}")  # held, but nothing serves: a holder killed before it cleaned up
    try:
        endpoint_file(path).write_text(json.dumps({"port": 1, "token": "x", "pid": 999999}))
        done = sql("SELECT 1", f"chdb://{path}")
    finally:
        holder.close()
    assert done.returncode == 3
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "in use by another process" in lines[0] and "does not answer" in lines[0]


def test_closing_removes_the_record(tmp_path):
    path = tmp_path / "clickhouse"
    server = QueryServer.start(path)
    assert endpoint_file(path).exists()
    server.close()
    assert not endpoint_file(path).exists()
