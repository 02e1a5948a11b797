"""Helpers for the actions-stage integration tests: the production worker hosting the stage as a
process we can kill -9, fresh prefixed topics, and Kafka writes of TaggedEvents, hotspot alerts
and commands."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import yaml

from runtime.produce import produce
from schemas.feedback_event import format_timestamp
from tests.conftest import wait_for
from tests.support.kafka import failover_session_timeout, read_all
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


ACTIVE = "actions stage: active"
STANDBY = "actions stage: standing by"
REVOKED = "actions stage: inputs revoked"


class ActionsProcess(StageProcess):
    """`pxstream worker` — the production worker — hosting the actions stage with the test's rules,
    under the test's topic prefix and app id, in its own session so a test can kill -9 it.

    Several of these with the same `prefix` are workers of one deployment: one is active, the
    others stand by (docs/actions.md, "Exactly one active instance"). `label` keeps their logs
    and data directories apart.
    """

    name = "actions worker"
    stop_timeout_s = 40.0

    def __init__(
        self,
        workdir: Path,
        *,
        bootstrap: str,
        prefix: str,
        actions_file: Path,
        alertmanager_url: str = "",
        resend_interval: float = 3.0,
        session_timeout: float | None = None,
        label: str = "worker",
    ) -> None:
        from bench.harness import WorkerProcess
        from schemas.settings import Settings

        self.workdir = workdir
        self.label = label
        if session_timeout is None:  # how soon a killed worker's group moves on without it
            session_timeout = failover_session_timeout(bootstrap)
        # The test's rules with its re-send interval (the `notifications` section of the file).
        document = yaml.safe_load(actions_file.read_text())
        document["notifications"] = {"resend_every": f"{max(1, round(resend_interval))} seconds"}
        rules = workdir / f"{label}-actions.yaml"
        rules.write_text(yaml.safe_dump(document))
        self.log = workdir / f"actions-{label}.log"
        data_dir = workdir / f"{label}-data"
        # The process environment too: the worker child starts with it (Settings.child_environment).
        env = {**os.environ, "PXSTREAM_KAFKA_BOOTSTRAP": bootstrap, "PXSTREAM_DATA_DIR": str(data_dir)}
        command = WorkerProcess(
            Settings.from_env(env),
            prefix=prefix,
            app_id=f"{prefix}worker",
            data_dir=data_dir,
            log_path=self.log,
            extra_args=("--no-sink", "--no-hotspots", "--session-timeout", str(session_timeout)),
            env={
                "PXSTREAM_ACTIONS": str(rules),
                "PXSTREAM_ALERTMANAGER_URL": alertmanager_url,
                "PXSTREAM_PUBLIC_URL": "http://pxstream.test",
                "PYTHONPATH": str(REPO),
            },
        )
        self.args, self.env = command.command, command.env
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start_seconds: list[float] = []  # how long each start took, until active (or standing by)

    def start(self, expect: str | None = ACTIVE) -> ActionsProcess:
        """Start the worker; wait until its stage says `expect` (ACTIVE, STANDBY, or None: no wait)."""
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
        self._marker = marker
        if expect is not None:
            self.wait_until(expect, 120)
            self.start_seconds.append(time.monotonic() - began)
        return self

    def this_run(self) -> str:
        """The log of the current (or last) start."""
        return self.log.read_text(errors="replace").split(self._marker)[-1]

    def wait_until(self, state: str, timeout: float) -> None:
        wait_for(
            lambda: self._alive() and state in self.this_run(),
            timeout,
            f"{self.label}: {state!r} (log {self.log})",
            interval=0.1,
        )

    @property
    def active(self) -> bool:
        """Whether the stage in this run last said it is active (it may have stood by since)."""
        text = self.this_run()
        return text.rfind(ACTIVE) > max(text.rfind(STANDBY), text.rfind(REVOKED))


OWNERS = [
    {"match": {}, "owner": "icb-quality-team", "escalate_to": ["icb-head-of-quality"]},
    {
        "match": {"source": "complaint"},
        "owner": "icb-complaints-team",
        "escalate_to": ["icb-complaints-manager", "icb-director-of-nursing"],
    },
    {"match": {"provider": "R1A", "ward": "Ward 7"}, "owner": "r1a-ward-7", "escalate_to": ["r1a-matron"]},
]

SHORT_RULES = [
    {"id": "complaint-ack-fast", "on": "event", "when": {"source": ["complaint"]}, "title": "Ack",
     "due": "4 seconds", "remind_before": "2 seconds", "escalate_every": "5 seconds"},
]  # fmt: skip


def iso_now(offset_s: float = 0.0) -> str:
    return format_timestamp(time.time() + offset_s)


def complaint(event_id: str, received_at: str, organisation: str = "QNB") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": "complaint",
        "organisation": organisation,
        "provider": "R2B",
        "ward": "Oak Ward",
        "occurred_at": received_at,
        "received_at": received_at,
        "text": "[redacted]",
        "domains": ["building_better_relationships"],
    }


def hotspot(alert_id: str) -> dict[str, Any]:
    return {
        "alert_id": alert_id,
        "rule_id": "ward-incidents-24h",
        "status": "firing",
        "group": {"provider": "R1A", "ward": "Ward 7"},
        "severity": "warning",
        "fired_at": iso_now(),
        "organisations": ["QNB"],
        "count": 5,
        "threshold": 5,
    }


def command(action_id: str, change: str, command_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "command_id": command_id,
        "action_id": action_id,
        "change": change,
        "by": "test",
        "at": iso_now(),
        "organisation": "QNB",
        **fields,
    }
