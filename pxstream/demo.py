"""`pxstream demo` — the main job on the embedded default, end to end on one machine.

Brings up the local stack, runs the worker (stream + ClickHouse sink) as a child process with
demo-scale hotspot rules, plays a live synthetic feed for a fictional ICB and shows counts and
alerts as they arrive. Ctrl-C stops what the demo started and nothing else: a broker that was
already running before the demo is left running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from schemas.errors import PxstreamError
from schemas.settings import Settings

if TYPE_CHECKING:
    from pxstream.live_view import LiveState

DEMO_RULES = "rules/demo.yaml"
TITLE = "pxstream demo — NHS Northby and Riverside ICB (synthetic data)"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline on this machine with a live synthetic feed and a live view"
    )
    parser.add_argument("--rate", type=float, default=2.0, help="background events per second (default 2)")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds of feed")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic feed")
    parser.add_argument(
        "--keep-infra", action="store_true", help="leave the broker and Alertmanager running on exit"
    )
    parser.set_defaults(func=run_demo)


def _pxstream(*args: str) -> list[str]:
    return [sys.executable, "-m", "pxstream", *args]


def _kafka_running(bootstrap: str) -> bool:
    from infra.broker import kafka_answers

    return kafka_answers(bootstrap, timeout=2.0)


def _start_worker(settings: Settings, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "demo-worker.log"
    log = log_path.open("ab")
    process = subprocess.Popen(_pxstream("worker"), env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, log_path


def _stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _play_and_watch(
    settings: Settings, args: argparse.Namespace, worker: subprocess.Popen[bytes], log_path: Path
) -> tuple[int, LiveState]:
    from connectors.synthetic import play
    from pxstream.live_view import run_view

    stop = asyncio.Event()
    view = asyncio.create_task(run_view(settings.kafka_bootstrap, title=TITLE, stop=stop))
    feed = asyncio.create_task(
        play(settings.kafka_bootstrap, rate=args.rate, duration_s=args.duration, seed=args.seed, quiet=True)
    )
    try:
        while not feed.done():
            if worker.poll() is not None:
                raise PxstreamError(
                    f"the worker exited with code {worker.returncode}; its log is {log_path}:\n"
                    + _tail(log_path)
                )
            await asyncio.wait({feed}, timeout=0.5)
        sent = feed.result()
        # Let the last events and alerts come through before the view closes.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and worker.poll() is None:
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        feed.cancel()
        state = await view
    return sent, state


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    env = dict(os.environ)
    if "PXSTREAM_RULES" not in env:
        env["PXSTREAM_RULES"] = str(resources.files("infra").joinpath(DEMO_RULES))
    infra_was_running = _kafka_running(settings.kafka_bootstrap)
    if subprocess.run(_pxstream("infra", "up"), check=False).returncode != 0:
        raise PxstreamError("`pxstream infra up` failed (see above); the demo needs the local broker")
    worker, log_path = _start_worker(settings, env)
    print(
        f"worker started (pid {worker.pid}, log {log_path}); rules {env['PXSTREAM_RULES']}", file=sys.stderr
    )
    try:
        sent, state = asyncio.run(_play_and_watch(settings, args, worker, log_path))
        print(
            f"\ndemo: {sent} events sent, {state.tagged} tagged, {sum(state.dead.values())} dead letters, "
            f"{state.fired} hotspot episodes fired, {state.resolved} resolved.\n"
            'What was stored:  pxstream sql "SELECT provider, ward, count() FROM feedback_events FINAL '
            'GROUP BY provider, ward ORDER BY count() DESC"',
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print("\ndemo: stopping", file=sys.stderr)
    finally:
        _stop(worker)
        if not infra_was_running and not args.keep_infra:
            with contextlib.suppress(Exception):
                subprocess.run(_pxstream("infra", "down"), check=False, timeout=60)
    return 0
