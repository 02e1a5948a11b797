"""The harness the benchmarks and the worker's integration tests share: realistic FeedbackEvents
with planted personal data, `pxstream worker` as a child process on unique topics, and a reader
that collects what comes out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from infra.procs import free_port
from runtime.tail import read_until
from schemas import topics
from schemas.settings import Settings

_TEXTS = (
    "Waited {h} hours in A&E with chest pain, nobody told us what was happening. Call {phone}.",
    "The nurses on {ward} were kind and explained my mum's medication clearly.",
    "Toilets on {ward} were filthy and the bins overflowing for two days.",
    "My GP appointment was cancelled three times; I could not get through on the phone.",
    "Patient {name} (NHS number 943 476 5919) was given the wrong dose of insulin.",
    "Rude receptionist, no information about the delay, parking impossible.",
    "Excellent care from the maternity team, thank you all. Email me at {email}.",
    "Discharged without a care plan; district nurse never came. Postcode LS1 4AP.",
)
_SOURCES = ("complaint", "pals", "incident", "fft", "gp_comment_card", "social_media", "web_form")
_PROVIDERS = ("RTD", "RXH", "RR8", "RAE", "RCF", "Y01234", "B82005", "RWY")
_WARDS = ("Ward 7", "A&E", "Maternity", "Ward 12", "Outpatients", "Ward 3B")


def synthetic_events(count: int, *, seed: int = 7, now: datetime | None = None) -> list[dict[str, Any]]:
    """Valid FeedbackEvents with planted personal data, spread over providers and wards."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    events = []
    for index in range(count):
        provider = rng.choice(_PROVIDERS)
        ward = rng.choice(_WARDS)
        text = rng.choice(_TEXTS).format(
            h=rng.randint(2, 14),
            phone=f"07700 900{rng.randint(100, 999)}",
            ward=ward,
            name=rng.choice(("John Smith", "Mary Jones", "Ahmed Khan")),
            email=f"person{index}@example.com",
        )
        occurred = now - timedelta(minutes=rng.randint(0, 600))
        events.append(
            {
                "event_id": f"bench-{seed}-{index}",
                "source": rng.choice(_SOURCES),
                "occurred_at": occurred.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "provider": provider,
                "ward": ward,
                "text": text,
            }
        )
    return events


def unique_prefix(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}."


@dataclass
class Collected:
    records: dict[str, list[Any]] = field(default_factory=dict)

    def count(self, topic: str | None = None) -> int:
        if topic is None:
            return sum(len(r) for r in self.records.values())
        return len(self.records.get(topic, []))


async def collect(
    bootstrap: str, topic_names: Sequence[str], *, expected: int, timeout_s: float, settle_s: float = 0.0
) -> Collected:
    """Read the topics from the beginning until `expected` records in total (then `settle_s` more
    to catch anything extra, e.g. duplicates) or the deadline (runtime.tail.read_until)."""
    records = await read_until(
        bootstrap, topic_names, expected=expected, timeout_s=timeout_s, settle_s=settle_s
    )
    return Collected(records)


class WorkerProcess:
    """`pxstream worker` as a child process on unique topics, app id and web port."""

    def __init__(
        self,
        settings: Settings,
        *,
        prefix: str,
        app_id: str,
        data_dir: Path,
        log_path: Path,
        extra_args: Sequence[str] = ("--no-sink", "--no-hotspots"),
        python_args: Sequence[str] = ("-m", "pxstream"),
        env: dict[str, str] | None = None,
    ) -> None:
        self.prefix, self.app_id, self.log_path = prefix, app_id, log_path
        self.web_port = free_port()
        self.command = [
            sys.executable,
            *python_args,
            "worker",
            "--app-id",
            app_id,
            "--topic-prefix",
            prefix,
            "--web-port",
            str(self.web_port),
            *extra_args,
        ]
        self.env = settings.child_environment(
            PXSTREAM_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
            PXSTREAM_DATA_DIR=str(data_dir),
            PYTHONUNBUFFERED="1",
            **(env or {}),
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd()
        )
        log.close()
        return self

    def health(self) -> dict[str, Any] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/healthz", timeout=2) as reply:
                return orjson.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return orjson.loads(exc.read())
        except (OSError, ValueError):
            return None

    def metrics_text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/metrics", timeout=5) as reply:
            return reply.read().decode()

    def wait_assigned(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Until the worker holds partitions of its raw topic (or it exits, or the deadline)."""
        raw = f"{self.prefix}{topics.RAW}"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"worker exited with {self.process.returncode}; log: {self.log_path}")
            report = self.health()
            if report and any(name.startswith(raw + "[") for name in report.get("assigned", [])):
                return report
            time.sleep(0.2)
        raise TimeoutError(f"worker not assigned {raw} within {timeout_s} s; log: {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no commit — the crash the at-least-once tests simulate."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout_s: float = 30.0) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
