"""`pxstream worker`: the whole pipeline in one foreground process.

The composition root for the stream processor: the Faust app (hosting the tagging and hotspot
stages) plus the ClickHouse sink, which lives in `sinks/` and so may only be joined up here. The
sink runs on its own thread with its own event loop, so its blocking inserts never hold up the
stages' loop (and a slow ClickHouse never delays a hotspot alert).

Failures a person at the terminal can act on end in one line and a non-zero exit, before anything
starts: an invalid rules file (ConfigError, exit 2) and an unreachable broker (exit 3, within
the connect timeout) — never a crash loop of Faust reconnect messages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from schemas import topics
from schemas.errors import PxstreamError
from schemas.probe import check_broker
from schemas.settings import Settings

if TYPE_CHECKING:
    from streams.worker_config import WorkerConfig

log = logging.getLogger(__name__)


def positive_seconds(text: str) -> float:
    """argparse type: a number of seconds above zero (argparse turns the error into one line, exit 2)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r}: must be more than 0 seconds")
    return seconds


def positive_count(text: str) -> int:
    """argparse type: a whole number above zero (argparse turns the error into one line, exit 2)."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return count


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the stream processor (tagging, hotspots, ClickHouse sink) in the foreground",
        description="Run the stream processor in the foreground: feedback.raw → feedback.tagged / "
        "feedback.dlq, hotspot alerts, and (unless --no-sink) the ClickHouse sink. "
        "Metrics on http://WEB_HOST:WEB_PORT/metrics, health on /healthz.",
    )
    parser.add_argument("--app-id", help="Faust app id / consumer group (env PXSTREAM_APP_ID)")
    parser.add_argument(
        "--topic-prefix", help="prefix for every topic name, e.g. 'test-1.' (env PXSTREAM_TOPIC_PREFIX)"
    )
    parser.add_argument("--web-host", help="address of /metrics and /healthz (default 127.0.0.1)")
    parser.add_argument("--web-port", type=int, help="port of /metrics and /healthz (default 6066)")
    parser.add_argument(
        "--batch-size", type=positive_count, help="raw messages per processing batch (default 1000)"
    )
    parser.add_argument(
        "--hotspot-batch-size",
        type=positive_count,
        help="tagged events per hotspot batch; each touched key is written once per batch (default 1000)",
    )
    parser.add_argument(
        "--hotspot-batch-within",
        type=positive_seconds,
        metavar="SECONDS",
        help="longest a part-filled hotspot batch waits; bounds the alert latency it adds (default 0.05)",
    )
    parser.add_argument(
        "--session-timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="how long the consumer group waits for a worker that died without leaving before its "
        "partitions move on (default 60; lower fails over faster, too low rebalances on a pause)",
    )
    parser.add_argument(
        "--tick-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="how often the hotspot clock ticks quiet, caught-up partitions (default 2)",
    )
    parser.add_argument(
        "--quiet-after",
        type=positive_seconds,
        metavar="SECONDS",
        help="how long a caught-up partition must be quiet before the clock moves its watermark, "
        "so its hotspots can resolve (default 5)",
    )
    parser.add_argument(
        "--resend-interval",
        type=positive_seconds,
        metavar="SECONDS",
        help="how often firing hotspots are re-sent to Alertmanager (default 60)",
    )
    parser.add_argument("--no-sink", action="store_true", help="do not run the ClickHouse sink here")
    parser.add_argument("--no-hotspots", action="store_true", help="do not run the hotspot rules")
    parser.add_argument(
        "--no-actions",
        action="store_true",
        help="do not run the follow-up actions stage here (of the workers that run it, one is active "
        "and the others stand by: docs/actions.md)",
    )
    parser.set_defaults(func=run_worker)


class SinkThread(threading.Thread):
    """The ClickHouse sink on its own event loop; asks the worker to stop if the sink fails."""

    def __init__(self, settings: Settings, config: WorkerConfig) -> None:
        super().__init__(name="pxstream-sink", daemon=True)
        self.settings = settings
        self.config = config
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()

    def run(self) -> None:
        from sinks.runner import run_sink
        from streams.worker_config import DEFAULT_APP_ID

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            self._ready.set()
            config = self.config
            await run_sink(
                self.settings,
                stop=self._stop_event,
                tagged_topic=config.tagged_topic,
                alerts_topic=config.alerts_topic,
                actions_topic=config.topic(topics.ACTIONS),
                # The production group keeps its historical name; test and tenant workers get their own.
                group_id="pxstream-sink" if config.app_id == DEFAULT_APP_ID else f"{config.app_id}.sink",
            )

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.failure = exc
            print(f"pxstream: error: ClickHouse sink stopped: {exc}", file=sys.stderr, flush=True)
            os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker shuts down cleanly on SIGTERM
        finally:
            self._ready.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._ready.wait(timeout_s)
        if self._loop is not None and self._stop_event is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop has already finished
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self.join(timeout_s)


def worker_config(args: argparse.Namespace, settings: Settings) -> WorkerConfig:
    """The worker's options on top of `WorkerConfig.from_settings`: an option not given keeps its default."""
    from streams.worker_config import WorkerConfig

    return WorkerConfig.from_settings(
        settings,
        app_id=args.app_id,
        topic_prefix=args.topic_prefix,
        web_host=args.web_host,
        web_port=args.web_port,
        batch_size=args.batch_size,
        session_timeout_s=args.session_timeout,
        hotspot_tick_interval_s=args.tick_interval,
        hotspot_quiet_after_s=args.quiet_after,
        hotspot_batch_size=args.hotspot_batch_size,
        hotspot_batch_within_s=args.hotspot_batch_within,
        alertmanager_resend_s=args.resend_interval,
        hotspots=False if args.no_hotspots else None,
    )


def run_worker(args: argparse.Namespace) -> int:
    import faust

    from runtime.heap import settle_heap
    from sinks.client import check_answers_as_clickhouse
    from sinks.query_server import serve_queries_if_embedded
    from streams.app import create_app, load_hotspot_rules
    from streams.worker_config import ensure_topics

    settings: Settings = args.settings
    config = worker_config(args, settings)
    rules = None
    if config.hotspots:
        rules = load_hotspot_rules(settings)  # ConfigError (exit 2) before anything connects
        if rules is None:
            config = replace(config, hotspots=False)
    actions = None
    if not args.no_actions:
        from streams.actions.agent import load_default_actions

        actions = load_default_actions(settings)  # ConfigError (exit 2) before anything connects
    check_broker(settings.kafka_bootstrap)
    if not args.no_sink:
        check_answers_as_clickhouse(settings.clickhouse_url)
    created = asyncio.run(ensure_topics(settings, config))
    if created:
        log.info("created topics: %s", ", ".join(created))
    app = create_app(settings, config, rules=rules)
    if actions is not None:
        from streams.actions.agent import attach as attach_actions

        attach_actions(
            app,
            settings,
            actions,
            app_id=config.app_id,
            topic_prefix=config.topic_prefix,
            session_timeout_s=config.session_timeout_s,  # how soon a standby worker takes over
        )

    sink: SinkThread | None = None
    if not args.no_sink:

        @app.task
        async def start_sink() -> None:
            nonlocal sink
            sink = SinkThread(settings, config)
            sink.start()

    # While this process holds the embedded engine, `pxstream sql` elsewhere asks it (the demo's case).
    queries = None if args.no_sink else serve_queries_if_embedded(settings.clickhouse_url)
    verbose = bool(getattr(args, "verbose", False))
    worker = faust.Worker(app, loglevel="DEBUG" if verbose else "INFO", quiet=not verbose)
    settle_heap()  # everything built so far lives as long as the process (runtime/heap.py)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if sink is not None:
            sink.stop()
        if queries is not None:
            queries.close()
    if sink is not None and sink.failure is not None:
        if isinstance(sink.failure, PxstreamError):
            return sink.failure.exit_code
        return 1
    return code
