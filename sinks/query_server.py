"""Read-only queries on the embedded engine while another process holds it (the demo, a worker).

chDB runs ClickHouse inside the process and locks its data directory, so while `pxstream worker`
(or `pxstream sink`, or the demo's worker) writes to it, `pxstream sql` cannot open it. The process
that holds the engine therefore answers read-only queries itself: a small HTTP server on loopback
only, on a free port, recorded with a random token in `<engine dir>.query.json` (mode 0600, so only
the same user can read it; removed at exit). `pxstream sql` opens the engine when it can and, when
the engine is locked, sends the query there (docs/operations-errors.md).

The server runs every query through the same `run_query` as `pxstream sql` (the allow-list of
sinks/sql_guard.py, then the engine with readonly=1 and a time limit), one at a time, on its own
client of the engine, in a daemon thread: a slow query never holds up the sink's inserts beyond
what the engine itself shares.
"""

from __future__ import annotations

import contextlib
import hmac
import http.server
import json
import logging
import os
import secrets
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from sinks.exceptions import EngineBusyError, ReadOnlyQueryError, UnreachableError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_REQUEST_BYTES = 256 * 1024
QUERY_TIMEOUT_S = 180.0


def endpoint_file(engine_path: Path) -> Path:
    """Where the holder of `engine_path` records its query endpoint: beside the engine's directory."""
    return engine_path.with_name(engine_path.name + ".query.json")


class QueryServer:
    """Serves `run_query` on loopback for the engine this process holds; `close()` removes the record."""

    def __init__(self, engine_path: Path) -> None:
        from sinks.client import connect

        self.engine_path = engine_path
        self.record = endpoint_file(engine_path)
        self._token = secrets.token_hex(32)
        self._client = connect(f"chdb://{engine_path}")
        self._lock = threading.Lock()
        self._httpd = http.server.HTTPServer((LOOPBACK, 0), self._handler())
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="pxstream-query", daemon=True)

    @classmethod
    def start(cls, engine_path: Path) -> QueryServer:
        server = cls(engine_path)
        server._thread.start()
        server._write_record()
        log.info("read-only queries on the embedded engine served at %s", server.record)
        return server

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def _write_record(self) -> None:
        body = json.dumps({"port": self.port, "token": self._token, "pid": os.getpid()})
        fd = os.open(self.record, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(body)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            record = json.loads(self.record.read_text())
            if record.get("pid") == os.getpid():
                self.record.unlink()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._client.close()

    def answer(self, sql: str) -> tuple[int, dict[str, Any]]:
        from sinks.sql import run_query

        with self._lock:
            try:
                columns, rows = run_query(self._client, sql)
            except ReadOnlyQueryError as exc:
                return 400, {"error": str(exc)}
        return 200, {"columns": columns, "rows": [list(row) for row in rows]}

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                offered = self.headers.get("Authorization", "")
                if not hmac.compare_digest(offered.encode(), f"Bearer {server._token}".encode()):
                    return self._send(401, {"error": "unknown token"})
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_REQUEST_BYTES:
                    return self._send(413, {"error": f"a query request is at most {MAX_REQUEST_BYTES} bytes"})
                try:
                    sql = orjson.loads(self.rfile.read(length))["sql"]
                    if not isinstance(sql, str):
                        raise TypeError
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    return self._send(400, {"error": 'expected {"sql": "SELECT …"}'})
                self._send(*server.answer(sql))

            def _send(self, status: int, body: dict[str, Any]) -> None:
                from sinks.sql import plain

                data = orjson.dumps(body, default=plain, option=orjson.OPT_PASSTHROUGH_DATETIME)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # never log query text
                pass

        return Handler


def serve_queries_if_embedded(clickhouse_url: str) -> QueryServer | None:
    """On the embedded engine, answer `pxstream sql` from other processes while this one holds it."""
    from schemas.settings import parse_clickhouse_url

    target = parse_clickhouse_url(clickhouse_url)
    if target.kind != "chdb" or target.path is None:
        return None
    target.path.mkdir(parents=True, exist_ok=True)
    try:
        return QueryServer.start(target.path)
    except EngineBusyError as exc:
        # Another process holds the engine (a second worker waiting to take over): it serves the
        # queries, and this one's sink waits for the engine as it always has.
        log.info("not serving queries: %s", exc)
        return None


def query_holder(engine_path: Path, sql: str, busy: EngineBusyError) -> tuple[list[str], list[list[Any]]]:
    """Ask the process holding the engine; `busy` is raised again when nobody answers there."""
    record = endpoint_file(engine_path)
    try:
        endpoint = json.loads(record.read_text())
        port, token = int(endpoint["port"]), str(endpoint["token"])
    except (OSError, ValueError, KeyError, TypeError):
        raise busy from None
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}/",
        data=orjson.dumps({"sql": sql}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT_S) as reply:
            body = orjson.loads(reply.read())
    except urllib.error.HTTPError as exc:
        message = orjson.loads(exc.read()).get("error", f"HTTP {exc.code}")
        raise ReadOnlyQueryError(message) from None
    except (OSError, ValueError):
        raise UnreachableError(
            f"{busy} (its query endpoint in {record} does not answer: a stale record of a process that died?)"
        ) from None
    return body["columns"], body["rows"]
