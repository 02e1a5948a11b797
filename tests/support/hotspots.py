"""Helpers for the hotspot integration tests: a real Alertmanager we can stop and start, the
production worker (`pxstream worker`) as a subprocess we can kill -9, and reading alerts and table
state back."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.harness import WorkerProcess
from infra.procs import free_port
from schemas.settings import Settings
from streams.hotspots.agent import hotspot_group
from streams.hotspots.changelog import changelog_topic
from streams.worker_config import WorkerConfig
from tests.support.kafka import failover_session_timeout, read_all
from tests.support.processes import StageProcess
from tests.support.waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER_BIN = "/usr/bin/prometheus-alertmanager"


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ------------------------------------------------------------------------------ processes


class Alertmanager:
    """A real Alertmanager on a free loopback port, which a test may stop and start again."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "alertmanager.yml"
        self.config.write_text(
            "route:\n  receiver: blackhole\n  group_wait: 1s\n  group_interval: 1s\n"
            "receivers:\n  - name: blackhole\n"
        )

    def start(self) -> Alertmanager:
        self.process = subprocess.Popen(
            [
                ALERTMANAGER_BIN,
                f"--config.file={self.config}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=(self.workdir / "alertmanager.log").open("ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self.ready, 20, f"Alertmanager ready on {self.url}")
        return self

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    def alerts(self, rule: str | None = None, active_only: bool = False) -> list[dict[str, Any]]:
        query = "?active=true&silenced=true&inhibited=true"
        if not active_only:
            query += "&unprocessed=true"
        if rule:
            query += "&filter=" + urllib.request.quote(f'rule="{rule}"')
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts{query}", timeout=5) as response:
            return orjson.loads(response.read())


# The `hotspot_config` fixture (tests/conftest.py): `hotspot_config(kind)` is a WorkerConfig with a
# unique app id and topic prefix, every topic of `schemas.topics` created under it at its
# production partition count (feedback.tagged: 4) as `pxstream worker` would create them
# (`tests.support.kafka.worker_topics`), and every topic under the prefix deleted after the test.
MakeHotspotConfig = Callable[[str], WorkerConfig]


class HotspotWorker(StageProcess):
    """The production worker, ``python -m pxstream worker``, as a subprocess in its own session
    (for kill -9): hotspots on, the tagging stage present (it idles when a test feeds
    feedback.tagged itself), without the ClickHouse sink and the actions stage, which have tests of
    their own. Only the clock, the re-send interval and the session timeout are set to test scale,
    through the worker's own flags."""

    name = "hotspot worker"
    stop_timeout_s = 30.0

    def __init__(
        self,
        workdir: Path,
        *,
        bootstrap: str,
        rules: Path,
        config: WorkerConfig,
        alertmanager_url: str = "",
        tick_interval: float = 0.5,
        quiet_after: float = 1.0,
        resend_interval: float = 60.0,
        session_timeout: float | None = None,
    ) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        if session_timeout is None:  # how soon a killed worker's group moves on without it
            session_timeout = failover_session_timeout(bootstrap)
        self.config = config
        self.app_id = config.app_id
        self.log = workdir / "worker.log"
        data_dir = workdir / "data"
        # The process environment too: the worker child starts with it (Settings.child_environment).
        env = {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap, "PXSTREAM_DATA_DIR": str(data_dir)}
        command = WorkerProcess(
            Settings.from_env(env),
            prefix=config.topic_prefix,
            app_id=config.app_id,
            data_dir=data_dir,
            log_path=self.log,
            extra_args=(
                "--no-sink",
                "--no-actions",
                "--tick-interval",
                str(tick_interval),
                "--quiet-after",
                str(quiet_after),
                "--resend-interval",
                str(resend_interval),
                "--session-timeout",
                str(session_timeout),
            ),
            env={
                "PXSTREAM_RULES": str(rules),
                "PXSTREAM_ALERTMANAGER_URL": alertmanager_url,
                "PYTHONPATH": str(REPO),
            },
        )
        self.args, self.env = command.command, command.env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def changelog_topic(self) -> str:
        return changelog_topic(self.app_id)

    @property
    def group(self) -> str:
        """The consumer group whose committed offsets say how far the hotspot stage has counted."""
        return hotspot_group(self.app_id)

    def start(self) -> HotspotWorker:
        self.starts += 1
        with self.log.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        marker = f"===== start {self.starts} ====="
        wait_for(
            lambda: self._alive() and "Worker]: Ready" in self.log.read_text().split(marker)[-1],
            90,
            f"hotspot worker ready (log {self.log})",
        )
        return self


def read_alerts(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    return [value for _, _, _, value in sorted(read_all(bootstrap, topic), key=lambda r: (r[0], r[1]))]


def read_table(bootstrap: str, changelog_topic: str) -> dict[str, Any]:
    """The hotspot table as its changelog says it is (latest value per key)."""
    state: dict[str, Any] = {}
    for _, _, key, value in sorted(read_all(bootstrap, changelog_topic), key=lambda r: (r[0], r[1])):
        if value is None:
            state.pop(key.decode(), None)
        else:
            state[key.decode()] = value
    return state
