"""Each bad configuration a careless operator can make, through the real CLI as a subprocess.

Every one must end in one line on stderr that names the variable or file (no traceback), exit 2
for configuration and 3 for a service that does not answer, and never a process that keeps
retrying (docs/operations-errors.md).
"""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
UNUSED_PORT = "127.0.0.1:1"  # nothing listens on port 1 of loopback


def pxstream(args: list[str], env: dict[str, str], timeout_s: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pxstream", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def one_line(done: subprocess.CompletedProcess) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pxstream: error: "), lines[0]
    return lines[0]


@pytest.fixture
def not_clickhouse() -> Iterator[str]:
    """An HTTP server on loopback that answers 404 to everything, as a wrong URL would."""

    class NotFound(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<html>Not Found</html>")

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_rules_file_that_is_not_utf8(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_bytes(b"rules:\n  - id: caf\xe9\n")
    done = pxstream(["worker"], {"PXSTREAM_RULES": str(rules), "PXSTREAM_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 2
    assert one_line(done) == f"pxstream: error: {rules}: line 2: not UTF-8 (byte 19); save it as UTF-8"


def test_rules_with_a_year_long_window_stepping_every_second(tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: huge\n    group_by: [ward]\n    window: {size: 365d, step: 1s}\n    threshold: 5\n"
    )
    done = pxstream(["worker"], {"PXSTREAM_RULES": str(rules), "PXSTREAM_DATA_DIR": str(tmp_path / "d")})
    assert done.returncode == 2
    assert f"{rules}: rule 'huge': window.step:" in one_line(done)


def test_chdb_url_naming_a_file(tmp_path):
    a_file = tmp_path / "clickhouse"
    a_file.write_text("not a directory")
    for args in (["sql", "SELECT 1"], ["worker"], ["sink"]):
        done = pxstream(args, {"PXSTREAM_CLICKHOUSE_URL": f"chdb://{a_file}"})
        assert done.returncode == 2, args
        assert one_line(done) == (
            f"pxstream: error: PXSTREAM_CLICKHOUSE_URL: chdb://{a_file} is a file; it must name a directory"
        )


def test_http_clickhouse_url_answering_404(not_clickhouse):
    done = pxstream(["sql", "SELECT 1"], {"PXSTREAM_CLICKHOUSE_URL": not_clickhouse})
    assert done.returncode == 2
    port = not_clickhouse.rsplit(":", 1)[1]
    assert one_line(done) == (
        f"pxstream: error: PXSTREAM_CLICKHOUSE_URL: ClickHouse server at 127.0.0.1:{port} answered, "
        "but not as ClickHouse: HTTP 404"
    )


def test_worker_with_a_clickhouse_url_answering_404_stops_before_it_starts(kafka_bootstrap, not_clickhouse):
    env = {"PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap, "PXSTREAM_CLICKHOUSE_URL": not_clickhouse}
    done = pxstream(["worker", "--no-hotspots"], env)
    assert done.returncode == 2
    assert "but not as ClickHouse: HTTP 404" in one_line(done)


def test_clickhouse_url_with_an_unknown_scheme():
    for args in (["worker"], ["sink"], ["sql", "SELECT 1"]):
        done = pxstream(args, {"PXSTREAM_CLICKHOUSE_URL": "clickhouse://db.example:9000/px"})
        assert done.returncode == 2, args
        assert one_line(done) == (
            "pxstream: error: PXSTREAM_CLICKHOUSE_URL: unsupported scheme 'clickhouse' "
            "(use chdb://PATH or http(s)://user:pass@host:port/db)"
        )


@pytest.mark.parametrize("url", ["localhost:9093", "alertmanager", "http://", "http://am:99999"])
def test_alertmanager_url_that_is_not_a_url(url):
    for args in (["worker"], ["infra", "status"]):
        done = pxstream(args, {"PXSTREAM_ALERTMANAGER_URL": url})
        assert done.returncode == 2, (args, done.stderr)
        assert "PXSTREAM_ALERTMANAGER_URL" in one_line(done)


def test_sink_with_no_broker_exits_3_within_seconds(tmp_path):
    started = time.monotonic()
    done = pxstream(
        ["sink"],
        {"PXSTREAM_KAFKA_BOOTSTRAP": UNUSED_PORT, "PXSTREAM_CLICKHOUSE_URL": f"chdb://{tmp_path}/ch"},
    )
    assert done.returncode == 3
    assert one_line(done).startswith(
        f"pxstream: error: Kafka is not reachable at {UNUSED_PORT} (PXSTREAM_KAFKA_BOOTSTRAP)"
    )
    assert time.monotonic() - started < 60


def test_produce_on_a_missing_file_is_exit_2(tmp_path):
    missing = tmp_path / "nope.jsonl"
    done = pxstream(["produce", str(missing)], {})
    assert done.returncode == 2
    assert one_line(done) == f"pxstream: error: cannot read {missing}: No such file or directory"


@pytest.mark.parametrize(
    "bootstrap", ["", "   ", "localhost", "localhost:", "kafka://localhost:9092", "h:70000"]
)
def test_empty_or_malformed_bootstrap_is_exit_2(tmp_path, bootstrap):
    events = tmp_path / "events.jsonl"
    events.write_text("{}\n")
    for args in (["produce", str(events)], ["worker"], ["sink"], ["infra", "status"]):
        done = pxstream(args, {"PXSTREAM_KAFKA_BOOTSTRAP": bootstrap})
        assert done.returncode == 2, (args, done.stderr)
        assert "PXSTREAM_KAFKA_BOOTSTRAP" in one_line(done)


def test_data_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_text("")
    done = pxstream(["infra", "status"], {"PXSTREAM_DATA_DIR": str(a_file)})
    assert done.returncode == 2
    assert one_line(done) == f"pxstream: error: PXSTREAM_DATA_DIR: {a_file} is a file, not a directory"


# Every variable of the Settings object (schemas/settings.py), through the commands a person waits
# on: one line naming it, exit 2, before anything connects or starts (tests/unit/test_settings.py
# covers every fault of every variable without a subprocess).
LISTEN = ["connect", "http", "--listen", "127.0.0.1:0"]
SIGN_IN = ["web", "sign-in-link", "--organisation", "QNB", "--owner", "r1a-ward-7"]
BAD_SETTINGS = [
    ("PXSTREAM_SINK_BATCH_SIZE", "0", [["sink"], ["worker"]]),
    ("PXSTREAM_SINK_LINGER_S", "soon", [["sink"]]),
    ("PXSTREAM_CLICKHOUSE_RETENTION_DAYS", "forever", [["worker"]]),
    ("PXSTREAM_APP_ID", "my worker", [["worker"]]),
    ("PXSTREAM_TOPIC_PREFIX", "a b.", [["worker"], ["actions", "list"]]),
    ("PXSTREAM_WEB_SECRET", "short", [["worker"], LISTEN, SIGN_IN]),
    ("PXSTREAM_PUBLIC_URL", "px.example", [LISTEN, ["worker"]]),
    ("PXSTREAM_GRAFANA_URL", "ftp://grafana", [["worker"]]),
    ("PXSTREAM_GRAFANA_CLICKHOUSE_SECURE", "maybe", [["grafana", "export", "{tmp}"]]),
    ("PXSTREAM_GRAFANA_CLICKHOUSE_PORT", "https", [["grafana", "export", "{tmp}"]]),
    ("PXSTREAM_GRAFANA_PROMETHEUS_URL", "prometheus:9090", [["grafana", "export", "{tmp}"]]),
    ("PXSTREAM_KAFKA_HEAP", "lots", [["infra", "up", "kafka"]]),
    ("PXSTREAM_KAFKA_CONTROLLER_PORT", "70000", [["infra", "up", "kafka"]]),
    ("PXSTREAM_PROMETHEUS_PORT", "ninety", [["infra", "status"]]),
    ("PXSTREAM_METRICS_TARGET", "localhost", [["infra", "status"]]),
    ("PXSTREAM_ALERT_WEBHOOK_URL", "hooks", [["infra", "up", "alertmanager"]]),
]


@pytest.mark.parametrize(("name", "value", "commands"), BAD_SETTINGS, ids=[n for n, _, _ in BAD_SETTINGS])
def test_each_setting_with_a_bad_value_stops_the_command_with_one_line(tmp_path, name, value, commands):
    for command in commands:
        args = [arg.replace("{tmp}", str(tmp_path / "out")) for arg in command]
        done = pxstream(args, {name: value, "PXSTREAM_DATA_DIR": str(tmp_path / "d")}, timeout_s=60)
        assert done.returncode == 2, (args, done.stderr)
        assert one_line(done).startswith(f"pxstream: error: {name}"), (args, done.stderr)
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_actions_file_that_is_a_directory_stops_the_worker(tmp_path):
    done = pxstream(["worker"], {"PXSTREAM_ACTIONS": str(tmp_path)})
    assert done.returncode == 2
    assert one_line(done) == f"pxstream: error: PXSTREAM_ACTIONS: {tmp_path} is a directory, not a YAML file"


def test_help_still_answers_when_a_setting_is_bad():
    done = pxstream(["--help"], {"PXSTREAM_SINK_BATCH_SIZE": "0"})
    assert done.returncode == 0 and "worker" in done.stdout
