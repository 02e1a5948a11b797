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
import logging
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
DEMO_ACTIONS = "actions/demo.yaml"  # minute-scale deadlines: a review goes overdue and escalates
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
    parser.add_argument(
        "--web-port", type=int, default=None, help="the worker's /metrics port (default 6066)"
    )
    parser.set_defaults(func=run_demo)


def _pxstream(*args: str) -> list[str]:
    return [sys.executable, "-m", "pxstream", *args]


def _parts_running(settings: Settings) -> set[str]:
    """Local parts already up before the demo: the demo must leave those as it found them."""
    from infra.config import InfraConfig
    from infra.stack import status

    return {state.name for state in status(InfraConfig.from_settings(settings)) if state.ok}


def _topic_names(prefix: str) -> dict[str, str]:
    """The live view's topics, under the same PXSTREAM_TOPIC_PREFIX the worker uses."""
    from schemas import topics

    return {
        "raw": prefix + topics.RAW,
        "tagged": prefix + topics.TAGGED,
        "dlq": prefix + topics.DLQ,
        "alerts": prefix + topics.ALERTS,
        "actions": prefix + topics.ACTIONS,
    }


def _ensure_topics(bootstrap: str, prefix: str) -> None:
    """Create the pipeline's topics before the feed starts: auto-create is off, and the worker may
    still be starting when the first events are produced."""
    from dataclasses import replace

    from infra.broker import ensure_topics
    from schemas.topics import TOPICS

    ensure_topics(bootstrap, [replace(spec, name=prefix + spec.name) for spec in TOPICS])


def _start_worker(settings: Settings, web_port: int | None) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "demo-worker.log"
    log = log_path.open("ab")
    command = _pxstream("worker") + ([f"--web-port={web_port}"] if web_port else [])
    process = subprocess.Popen(
        command, env=settings.child_environment(), stdout=log, stderr=subprocess.STDOUT
    )
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

    names = _topic_names(settings.worker.topic_prefix)
    stop, view_ready = asyncio.Event(), asyncio.Event()
    view = asyncio.create_task(
        run_view(settings.kafka_bootstrap, title=TITLE, stop=stop, topic_names=names, ready=view_ready)
    )
    await asyncio.wait({view, asyncio.create_task(view_ready.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if view.done():
        view.result()  # the view failed before it was ready: raise its error
    feed = asyncio.create_task(
        play(
            settings.kafka_bootstrap,
            rate=args.rate,
            duration_s=args.duration,
            seed=args.seed,
            topic=names["raw"],
            quiet=True,
        )
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
    from pxstream.web import demo_page

    # The live view owns the terminal; client chatter at INFO would scroll it away.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    settings: Settings = args.settings
    demo_files = {
        "PXSTREAM_RULES": str(resources.files("infra").joinpath(DEMO_RULES)),
        "PXSTREAM_ACTIONS": str(resources.files("infra").joinpath(DEMO_ACTIONS)),
    }
    # The demo's rules and actions unless the operator named others; the children see the same.
    settings = Settings.from_env({**demo_files, **settings.environ})
    running_before = _parts_running(settings)
    if subprocess.run(_pxstream("infra", "up"), check=False).returncode != 0:
        raise PxstreamError("`pxstream infra up` failed (see above); the demo needs the local broker")
    _ensure_topics(settings.kafka_bootstrap, settings.worker.topic_prefix)
    settings = demo_page.prepare(settings)  # the stage signs links with the page's secret
    worker, log_path = _start_worker(settings, args.web_port)
    print(f"worker started (pid {worker.pid}, log {log_path}); rules {settings.rules_path}", file=sys.stderr)
    page = demo_page.start(_pxstream(), settings, settings.data_dir / "logs" / "demo-http.log")
    print(demo_page.banner(settings), file=sys.stderr)
    try:
        sent, state = asyncio.run(_play_and_watch(settings, args, worker, log_path))
        print(
            f"\ndemo: {sent} events sent, {state.tagged} tagged, {sum(state.dead.values())} dead letters, "
            f"{state.fired} hotspot episodes fired, {state.resolved} resolved; actions: "
            + ", ".join(f"{count} {name}" for name, count in state.action_counts().items())
            + ".\n"
            "Follow-up:        pxstream actions list --overdue; "
            "pxstream actions digest --owner r1a-ward-7-manager\n"
            'What was stored:  pxstream sql "SELECT provider, ward, count() FROM feedback_events FINAL '
            'GROUP BY provider, ward ORDER BY count() DESC"',
            file=sys.stderr,
        )
        print(demo_page.banner(settings), file=sys.stderr)
    except KeyboardInterrupt:
        print("\ndemo: stopping", file=sys.stderr)
    finally:
        _stop(page)
        _stop(worker)
        started = sorted({"kafka", "alertmanager", "prometheus"} - running_before)
        if started and not args.keep_infra:
            with contextlib.suppress(Exception):
                subprocess.run(_pxstream("infra", "down", *started), check=False, timeout=60)
    return 0
