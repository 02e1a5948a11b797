"""Helpers for the actions-stage integration tests: the stage as a process we can kill -9, fresh
prefixed topics, and Kafka writes of TaggedEvents, hotspot alerts and commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from runtime.produce import produce
from tests.conftest import wait_for
from tests.support.kafka import read_all
from tests.support.processes import StageProcess

REPO = Path(__file__).resolve().parents[2]


def fresh_topics(bootstrap: str) -> str:
    """A unique prefix with every pipeline topic created under it (`actions` compacted)."""
    from infra.broker import ensure_topics
    from schemas.topics import TOPICS

    prefix = f"act-{uuid.uuid4().hex[:8]}."
    ensure_topics(bootstrap, [replace(spec, name=prefix + spec.name) for spec in TOPICS])
    return prefix


def write_actions_file(path: Path, rules: list[dict[str, Any]], owners: list[dict[str, Any]]) -> Path:
    path.write_text(
        yaml.safe_dump({"calendar": {"holidays": "england-and-wales"}, "owners": owners, "rules": rules})
    )
    return path


def send(bootstrap: str, topic: str, records: list[tuple[str, dict[str, Any]]]) -> None:
    """(key, value) records, every one acknowledged before this returns."""
    import asyncio

    asyncio.run(produce(bootstrap, topic, [(key.encode(), orjson.dumps(value)) for key, value in records]))


def actions_log(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every record on the actions topic, in order."""
    return [value for _, _, _, value in sorted(read_all(bootstrap, topic), key=lambda r: (r[0], r[1]))]


def latest(bootstrap: str, topic: str) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    for action in actions_log(bootstrap, topic):
        if action["version"] >= state.get(action["action_id"], {}).get("version", 0):
            state[action["action_id"]] = action
    return state


class ActionsProcess(StageProcess):
    """`python -m streams.actions.standalone` in its own session, so a test can kill -9 it."""

    name = "actions stage"
    stop_timeout_s = 20.0

    def __init__(
        self,
        workdir: Path,
        *,
        bootstrap: str,
        prefix: str,
        actions_file: Path,
        alertmanager_url: str = "",
        tick_interval: float = 0.2,
        resend_interval: float = 3.0,
    ) -> None:
        self.workdir = workdir
        self.args = [
            sys.executable, "-m", "streams.actions.standalone",
            "--group", f"{prefix}actions", "--topic-prefix", prefix,
            "--tick-interval", str(tick_interval), "--resend-interval", str(resend_interval),
        ]  # fmt: skip
        self.env = {
            **os.environ,
            "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap,
            "PXSTREAM_ACTIONS": str(actions_file),
            "PXSTREAM_ALERTMANAGER_URL": alertmanager_url,
            "PXSTREAM_PUBLIC_URL": "http://pxstream.test",
            "PYTHONPATH": str(REPO),
        }
        self.log = workdir / "actions-stage.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start_seconds: list[float] = []  # how long each start took, until ready

    def start(self) -> ActionsProcess:
        self.starts += 1
        began = time.monotonic()
        marker = f"===== start {self.starts} ====="
        with self.log.open("ab") as log:
            log.write(f"\n{marker}\n".encode())
        self.process = subprocess.Popen(
            self.args,
            cwd=REPO,
            env=self.env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: self._alive() and "actions stage ready" in self.log.read_text().split(marker)[-1],
            60,
            f"actions stage ready (log {self.log})",
            interval=0.1,
        )
        self.start_seconds.append(time.monotonic() - began)
        return self
