"""Running a Quix Streams application as a child process and reading what it measured.

A child of its own, like pxstream's worker in the same run, so each side's CPU time is its own
process's (librdkafka's threads included) and neither side's state or threads outlive its run.
The child prints one JSON line, its measurement, as the last line of stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.report import PEER_NOT_INSTALLED
from runtime.admin import admin_client, create_topics, delete_topics
from runtime.produce import produce
from schemas.topics import TopicSpec


def quix_version() -> str | None:
    """The installed Quix Streams version, or None when the peer extra is not installed."""
    if importlib.util.find_spec("quixstreams") is None:
        return None
    from importlib.metadata import version

    return version("quixstreams")


def not_installed(*figure_names: str) -> dict[str, Any]:
    """A part's result when the peer extra is missing: its goals' rows say how to install it."""
    return {"unavailable": dict.fromkeys(figure_names, PEER_NOT_INSTALLED)}


def run_on_fresh_topics(
    bootstrap: str,
    module: str,
    workload: Sequence[tuple[bytes, bytes]],
    *,
    partitions: int,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Produce ``workload`` to a fresh input topic of ``partitions``, run ``module``'s child on it
    (input, output topic, group, event count and state directory as arguments), delete every
    topic the run made, and return what the child measured."""
    run = uuid.uuid4().hex[:8]
    group, source, output = f"bench-quix-{run}", f"bench.quix-in.{run}", f"bench.quix-out.{run}"
    asyncio.run(create_topics(bootstrap, [TopicSpec(source, partitions), TopicSpec(output, partitions)]))
    try:
        asyncio.run(produce(bootstrap, source, workload))
        with tempfile.TemporaryDirectory(prefix="pxstream-bench-quix-") as state:
            arguments = [
                *("--bootstrap", bootstrap, "--topic", source, "--output", output, "--group", group),
                *("--events", str(len(workload)), "--state-dir", state, *extra),
            ]
            timeout_s = max(300.0, len(workload) / 100)
            return run_child(module, arguments, timeout_s=timeout_s, log_path=Path(state) / "quix.log")
    finally:
        asyncio.run(delete_group_topics(bootstrap, [source, output], group))


def child_arguments(argv: Sequence[str] | None, *extra: str) -> argparse.Namespace:
    """In the child: the arguments ``run_on_fresh_topics`` passes (plus ``extra`` options)."""
    parser = argparse.ArgumentParser()
    for name in ("--bootstrap", "--topic", "--output", "--group", "--state-dir", *extra):
        parser.add_argument(name, required=True)
    parser.add_argument("--events", type=int, required=True)
    return parser.parse_args(argv)


def run_child(module: str, arguments: Sequence[str], *, timeout_s: float, log_path: Path) -> dict[str, Any]:
    """``python -m module arguments…``; its last stdout line parsed as JSON. stderr (Quix's log)
    goes to ``log_path``, named in the error when the child fails."""
    with log_path.open("wb") as log:
        done = subprocess.run(
            [sys.executable, "-u", "-m", module, *arguments],  # -u: unbuffered, as PYTHONUNBUFFERED=1
            stdout=subprocess.PIPE,
            stderr=log,
            timeout=timeout_s,
            check=False,
        )
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = log_path.read_text(errors="replace")[-1500:]
        raise RuntimeError(f"{module} exited with {done.returncode}: {tail}")
    return orjson.loads(lines[-1])


async def delete_group_topics(bootstrap: str, names: Sequence[str], group: str) -> None:
    """Delete the input/output topics and every topic Quix created for ``group`` (its repartition
    and changelog topics carry the group's name)."""
    async with admin_client(bootstrap) as admin:
        existing = await admin.list_topics()
    await delete_topics(bootstrap, [*names, *(t for t in existing if group in t and t not in names)])


class Progress:
    """In the child: counts processed events, takes the clock and the CPU at the first one and at
    the ``expected``-th, then asks the application to stop. Start-up, group join and topic
    creation do not count, as in pxstream's stage figures."""

    def __init__(self, expected: int, stop: Callable[[], None]) -> None:
        self.expected, self.stop = expected, stop
        self.seen = self.baseline = 0
        self.began_wall = self.began_cpu = 0.0
        self.ended_wall = self.ended_cpu = 0.0

    def add(self, count: int = 1) -> None:
        if self.seen == 0:
            self.began_wall, self.began_cpu = time.perf_counter(), time.process_time()
        self.seen += count
        if self.seen >= self.expected and not self.ended_wall:
            self.ended_wall, self.ended_cpu = time.perf_counter(), time.process_time()
            self.stop()

    def batch_done(self, count: int) -> None:
        """After a batch is written: the clock starts when the first batch is done and that
        batch's events are left out, so the figure is the steady rate between the first and the
        last write, not skewed by the time the first batch spent accumulating."""
        if self.seen == 0:
            self.began_wall, self.began_cpu = time.perf_counter(), time.process_time()
            self.baseline = count
        self.seen += count
        if self.seen >= self.expected and not self.ended_wall:
            self.ended_wall, self.ended_cpu = time.perf_counter(), time.process_time()
            self.stop()

    def result(self, **extra: Any) -> dict[str, Any]:
        wall = max(self.ended_wall - self.began_wall, 1e-9)
        cpu = self.ended_cpu - self.began_cpu
        measured = self.seen - self.baseline
        return {
            "events": self.seen,
            "events_per_s": round(measured / wall, 1),
            "cpu_us_per_event": round(1e6 * cpu / max(measured, 1), 1),
            "wall_seconds": round(wall, 2),
            **extra,
        }


def print_result(result: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()
