"""`pxstream worker`: the whole pipeline in one foreground process.

The composition root for the stream processor: the Faust app (tagging and hotspot agents) plus
the ClickHouse sink, which lives in `sinks/` and so may only be joined up here. The sink runs on
its own thread with its own event loop, so its blocking inserts never hold up the Faust agents'
loop (and a slow ClickHouse never delays a hotspot alert).

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

from schemas.errors import PxstreamError, UnreachableError
from schemas.settings import Settings

if TYPE_CHECKING:
    from streams.worker_config import WorkerConfig

log = logging.getLogger(__name__)

BROKER_CONNECT_TIMEOUT_S = 10.0


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
    parser.add_argument("--batch-size", type=int, help="raw messages per processing batch (default 1000)")
    parser.add_argument(
        "--session-timeout",
        type=float,
        metavar="SECONDS",
        help="how long the consumer group waits for a worker that died without leaving before its "
        "partitions move on (default 60; lower fails over faster, too low rebalances on a pause)",
    )
    parser.add_argument("--no-sink", action="store_true", help="do not run the ClickHouse sink here")
    parser.add_argument("--no-hotspots", action="store_true", help="do not run the hotspot rules")
    parser.set_defaults(func=run_worker)


def check_broker(bootstrap: str, timeout_s: float = BROKER_CONNECT_TIMEOUT_S) -> None:
    """Raise UnreachableError naming host:port unless the Kafka bootstrap servers answer."""
    from aiokafka.client import AIOKafkaClient

    async def probe() -> None:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
        finally:
            await client.close()

    # aiokafka logs every failed attempt; the one line below says it all.
    aiokafka_log = logging.getLogger("aiokafka")
    level = aiokafka_log.level
    aiokafka_log.setLevel(logging.CRITICAL)
    try:
        asyncio.run(probe())
    except Exception as exc:
        raise UnreachableError(
            f"Kafka is not reachable at {bootstrap} (PXSTREAM_KAFKA_BOOTSTRAP): "
            f"{exc or type(exc).__name__}; start it with `pxstream infra up`"
        ) from None
    finally:
        aiokafka_log.setLevel(level)


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


def run_worker(args: argparse.Namespace) -> int:
    import faust

    from streams.app import create_app, load_hotspot_rules
    from streams.worker_config import WorkerConfig, ensure_topics

    settings = Settings.from_env()
    config = WorkerConfig.from_env(
        app_id=args.app_id,
        topic_prefix=args.topic_prefix,
        web_host=args.web_host,
        web_port=args.web_port,
        batch_size=args.batch_size,
        session_timeout_s=args.session_timeout,
        hotspots=False if args.no_hotspots else None,
    )
    rules = None
    if config.hotspots:
        rules = load_hotspot_rules(settings)  # ConfigError (exit 2) before anything connects
        if rules is None:
            config = replace(config, hotspots=False)
    check_broker(settings.kafka_bootstrap)
    created = asyncio.run(ensure_topics(settings, config))
    if created:
        log.info("created topics: %s", ", ".join(created))
    app = create_app(settings, config, rules=rules)

    sink: SinkThread | None = None
    if not args.no_sink:

        @app.task
        async def start_sink() -> None:
            nonlocal sink
            sink = SinkThread(settings, config)
            sink.start()

    verbose = bool(getattr(args, "verbose", False))
    worker = faust.Worker(app, loglevel="DEBUG" if verbose else "INFO", quiet=not verbose)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        if sink is not None:
            sink.stop()
    if sink is not None and sink.failure is not None:
        if isinstance(sink.failure, PxstreamError):
            return sink.failure.exit_code
        return 1
    return code
