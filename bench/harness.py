"""The harness the benchmarks and the worker's integration tests share: realistic FeedbackEvents
with planted personal data, `pxstream worker` as a child process on unique topics, a reader
that collects what comes out, and the result convention every `pxstream bench` part follows.

The convention (docs/benchmarks.md): a part returns a dict whose ``"figures"`` key holds a list
of ``Figure`` (or ``Figure.as_dict()``) — one measured value each, named so the summary in
``bench/report.py`` can bind it to a goal of the speed issue — beside any other keys it likes.
A figure carries its own reference when the part measured one in the same run (the pure
function beside the stage); otherwise the summary takes the reference from another figure of
the same `pxstream bench` run (Quix Streams' rate beside the hotspot stage's)."""

from __future__ import annotations

import functools
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
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


@dataclass(frozen=True)
class Figure:
    """One measured value of a bench part.

    ``name`` is what the summary looks up (``hotspot-stage``, ``hotspot-engine``,
    ``stateless-stage``, ``redaction``, ``alert-latency-p99``, ``healthz-failures``,
    ``peer-hotspots``, ``peer-stateless-apply``, ``peer-stateless-batching``, ``scaling``; any
    other name is listed under "other figures"). ``unit`` is free text (``events/s``,
    ``µs/event``, ``ms``). ``reference`` is the same quantity measured in the same run for
    comparison (``reference_name`` says what it is), ``ratio`` is then ``value / reference``.
    ``target`` applies to the ratio when there is a reference, else to the value;
    ``higher_is_better`` says which side of the target meets it. ``cpu_us_per_event`` is the
    process CPU time of the stage's process(es) over the run divided by the events, the figure
    a shared machine distorts least. ``events`` is how many events the figure was measured on.
    """

    name: str
    value: float
    unit: str
    reference: float | None = None
    reference_name: str = ""
    target: float | None = None
    higher_is_better: bool = True
    cpu_us_per_event: float | None = None
    events: int | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference is None or not self.reference:
            return None
        return self.value / self.reference

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{key: value for key, value in data.items() if key in known})


def rate_figure(name: str, measured: dict[str, Any], note: str = "") -> Figure:
    """A throughput figure from a run's ``events_per_s``, ``cpu_us_per_event`` and ``events``."""
    return Figure(
        name,
        measured["events_per_s"],
        "events/s",
        cpu_us_per_event=measured["cpu_us_per_event"],
        events=measured["events"],
        note=note,
    )


def part_result(*figures: Figure, **extra: Any) -> dict[str, Any]:
    """A part's return value: its figures as dicts under ``"figures"``, plus any other keys."""
    return {"figures": [figure.as_dict() for figure in figures], **extra}


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far, from /proc/<pid>/stat (no psutil needed):
    read it at the start and the end of a run; the difference over the events is µs/event."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and brackets
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# Goal 1's rule, as bench/hotspot_engine.py gives it to pxstream's stage (docs/benchmarks.md):
# two-minute windows hopping every 30 s per provider and ward, threshold 5, the rules file's default
# lateness of an hour; the Quix Streams peer counts the same windows with the same grace.
HOPPING_SIZE_S, HOPPING_STEP_S, HOPPING_THRESHOLD, HOPPING_LATENESS_S = 120, 30, 5, 3600
# Events both sides of goal 1 count, and of goal 3: one size per goal, so both count the same records.
HOPPING_EVENTS = 30_000
STATELESS_EVENTS = 10_000


@functools.lru_cache(maxsize=2)
def raw_workload(count: int, seed: int = 7) -> tuple[tuple[bytes, bytes], ...]:
    """``count`` (key, FeedbackEvent JSON) pairs for feedback.raw, keyed by provider as the
    connectors key them (cached): the scaling runs' input, and with bench/stateless.py's seed the
    stateless stage's, so its Quix Streams peer gets the same events."""
    return tuple((e["provider"].encode(), orjson.dumps(e)) for e in synthetic_events(count, seed=seed))


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

    @classmethod
    def in_group(
        cls,
        settings: Settings,
        config: Any,
        work_dir: Path,
        *,
        rules: Path,
        name: str = "worker",
        extra_args: Sequence[str] = ("--no-sink", "--no-actions"),
        python_args: Sequence[str] = ("-m", "pxstream"),
    ) -> WorkerProcess:
        """A worker of ``config``'s app id and topics with the rules file ``rules`` and no
        Alertmanager, its data in ``work_dir/name`` and its log beside it: a bench run's member."""
        return cls(
            settings,
            prefix=config.topic_prefix,
            app_id=config.app_id,
            data_dir=work_dir / name,
            log_path=work_dir / f"{name}.log",
            extra_args=extra_args,
            python_args=python_args,
            env={"PXSTREAM_RULES": str(rules), "PXSTREAM_ALERTMANAGER_URL": ""},
        )

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

    def cpu_seconds(self) -> float:
        """The worker's own CPU seconds so far (see ``process_cpu_seconds``)."""
        if self.process is None:
            return 0.0
        return process_cpu_seconds(self.process.pid)

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
