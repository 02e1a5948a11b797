"""End to end, as a person runs it: `pxstream demo` on the real broker, Alertmanager and embedded
ClickHouse. Alerts must fire within a minute; afterwards ClickHouse holds the feed with none of the
personal data the feed planted, and the monthly report builds from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.synthetic import ICB
from infra.procs import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Fragments of every personal item connectors.synthetic.PERSONAL plants.
PLANTED = (
    "Sarah Jones", "943 476 5919", "9434765919", "07700 900123", "sarah.jones@example.com",
    "Okafor", "4471223", "12/03/1948", "Acacia Avenue", "NB3 4QT", "Margaret Hughes", "Whitfield",
)  # fmt: skip


def _pxstream(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pxstream", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def demo_env(kafka_bootstrap: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PXSTREAM_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "PXSTREAM_DATA_DIR": str(tmp_path / "data"),
        "PXSTREAM_CLICKHOUSE_URL": f"chdb://{tmp_path / 'clickhouse'}",
        "PXSTREAM_ALERTMANAGER_URL": f"http://127.0.0.1:{free_port()}",
        "PXSTREAM_PROMETHEUS_PORT": str(free_port()),
        "PXSTREAM_TOPIC_PREFIX": f"demo-{uuid.uuid4().hex[:8]}.",
        "PXSTREAM_APP_ID": f"pxstream-demo-{uuid.uuid4().hex[:8]}",
    }


def test_demo_fires_hotspots_within_a_minute_and_stores_no_personal_data(
    demo_env: dict[str, str], tmp_path: Path
) -> None:
    started = time.monotonic()
    stderr_path = tmp_path / "demo-stderr.txt"
    with stderr_path.open("w") as stderr_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "pxstream", "demo", "--duration", "40", f"--web-port={free_port()}"],
            env=demo_env,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            text=True,
        )
        # One reader of stdout only, timing each alert line as it arrives; a watchdog ends a hung demo.
        firing: list[tuple[float, str]] = []
        action_lines: list[str] = []
        live: subprocess.CompletedProcess[str] | None = None
        assert process.stdout is not None
        watchdog = threading.Timer(240, process.kill)
        watchdog.start()
        try:
            for line in process.stdout:
                if line.startswith("FIRING"):
                    firing.append((time.monotonic() - started, line.strip()))
                    if live is None:  # while the demo runs, as its README suggests
                        live = _pxstream(
                            "sql", "SELECT ward, count() FROM feedback_events FINAL GROUP BY ward",
                            "--format", "json", env=demo_env,
                        )  # fmt: skip
                elif line.startswith("ACTION"):
                    action_lines.append(line.strip())
            process.wait(timeout=240)
        finally:
            watchdog.cancel()
            if process.poll() is None:
                process.kill()
    stderr = stderr_path.read_text()
    assert process.returncode == 0, stderr[-3000:]
    assert firing, f"no hotspot fired; stderr:\n{stderr[-3000:]}"
    first_at, first_line = firing[0]
    assert first_at < 60, f"first alert after {first_at:.0f} s: {first_line}"
    assert any("Ward 7 Acute Medicine" in line for _, line in firing), firing
    assert "hotspot episodes fired" in stderr
    # The worker held the embedded engine, and answered the query itself (sinks/query_server.py).
    assert live is not None and live.returncode == 0, live.stderr if live else "no query made"
    assert sum(row["count()"] for row in json.loads(live.stdout)) > 0
    # Follow-up (infra/actions/demo.yaml): complaints and the planted hotspots make actions.
    created = [line for line in action_lines if line.startswith("ACTION created")]
    assert any("Review the hotspot" in line and "Ward 7 Acute Medicine" in line for line in created), created
    assert any("Acknowledge the complaint" in line for line in created), created

    # The worker has stopped, so the embedded engine is free for the read-only CLI.
    stored = _pxstream(
        "sql", "SELECT count() AS n, uniqExact(event_id) AS ids FROM feedback_events FINAL",
        "--format", "json", env=demo_env,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr
    assert '"n"' in stored.stdout
    texts = _pxstream("sql", "SELECT text FROM feedback_events", "--format", "json", env=demo_env)
    assert texts.returncode == 0, texts.stderr
    rows = json.loads(texts.stdout)
    assert len(rows) > 40
    leaked = [fragment for fragment in PLANTED if fragment in texts.stdout]
    assert not leaked, f"personal data reached ClickHouse: {leaked}"
    assert any("[NAME]" in row["text"] or "[NHS_NUMBER]" in row["text"] for row in rows)

    month = datetime.now(UTC).strftime("%Y-%m")
    pack = tmp_path / "pack"
    report = _pxstream("report", "--organisation", ICB, "--month", month, "--out", str(pack), env=demo_env)
    assert report.returncode == 0, report.stderr
    assert (pack / "index.html").stat().st_size > 10_000
    assert list(pack.glob("*.png"))
