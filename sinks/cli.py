"""`pxstream sql` and `pxstream sink`. Registration stays cheap: chDB loads in the handlers."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


def register(subparsers: Any) -> None:
    sql = subparsers.add_parser(
        "sql",
        help="query ClickHouse (read-only)",
        description="Run one read-only query (SELECT, WITH, SHOW, DESCRIBE) against "
        "PXSTREAM_CLICKHOUSE_URL; the engine enforces readonly=1 as well.",
    )
    sql.add_argument("query", help='e.g. "SELECT count() FROM feedback_events FINAL"')
    sql.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    sql.set_defaults(func=_sql)

    sink = subparsers.add_parser(
        "sink",
        help="run the Kafka→ClickHouse sink on its own (to scale it apart from the worker)",
        description="Consume feedback.tagged, hotspots.alerts and actions and write them to ClickHouse, "
        "committing offsets only after each insert succeeded.",
    )
    sink.add_argument("--tagged-topic", default="feedback.tagged")
    sink.add_argument("--alerts-topic", default="hotspots.alerts")
    sink.add_argument("--actions-topic", default="actions")
    sink.add_argument("--group-id", default="pxstream-sink")
    sink.add_argument(
        "--batch-size", type=int, help="records per flush (default 5000, or PXSTREAM_SINK_BATCH_SIZE)"
    )
    sink.add_argument(
        "--linger", type=float, help="seconds before a partial flush (default 1, or PXSTREAM_SINK_LINGER_S)"
    )
    sink.add_argument(
        "--session-timeout",
        metavar="SECONDS",
        help="how long a dead sink's partitions wait before moving to another sink (default 10)",
    )
    sink.add_argument("--metrics-port", type=int, default=0, help="serve Prometheus /metrics on this port")
    sink.add_argument("--metrics-addr", default="127.0.0.1", help="address for /metrics (default 127.0.0.1)")
    sink.set_defaults(func=_sink)


def _sql(args: argparse.Namespace) -> int:
    import logging

    from schemas.settings import parse_clickhouse_url
    from sinks.client import connect
    from sinks.exceptions import EngineBusyError
    from sinks.query_server import query_holder
    from sinks.sql import check_read_only, format_json, format_table, run_query

    # Their retry warnings would print before our one line (clickhouse-connect resets "urllib3").
    for noisy in ("urllib3.connectionpool", "clickhouse_connect"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    check_read_only(args.query)  # refuse before opening the engine
    target = parse_clickhouse_url(args.settings.clickhouse_url)
    try:
        with _engine_stderr_silenced():  # chDB prints its lock failure itself; ours is the one line
            client = connect(target)
    except EngineBusyError as busy:
        # A running worker, sink or demo holds the embedded engine: it answers read-only queries
        # on loopback (sinks/query_server.py), through the same checks.
        assert target.path is not None
        columns, rows = query_holder(target.path, args.query, busy)
    else:
        try:
            columns, rows = run_query(client, args.query)
        finally:
            client.close()
    print(format_json(columns, rows) if args.format == "json" else format_table(columns, rows))
    return 0


@contextlib.contextmanager
def _engine_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 to /dev/null while chDB opens: it writes its errors there from C++,
    which no Python logging setting reaches. Only for `pxstream sql`, a short-lived command."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _sink(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from schemas.probe import check_broker
    from schemas.settings import Settings
    from schemas.settings_checks import positive_float
    from sinks.client import check_answers_as_clickhouse
    from sinks.query_server import serve_queries_if_embedded
    from sinks.runner import KafkaClickHouseSink, SinkConfig

    settings: Settings = args.settings
    # A bad option is exit 2 before anything connects.
    session_timeout = (
        None if args.session_timeout is None else positive_float("--session-timeout", args.session_timeout)
    )
    # A person started this and waits: no broker is one line and exit 3, a ClickHouse URL that
    # answers as something else exit 2, before any retry loop starts. A ClickHouse that is down or
    # an embedded engine held by another process is waited for, as a standby sink must.
    check_broker(settings.kafka_bootstrap)
    check_answers_as_clickhouse(settings.clickhouse_url)
    queries = serve_queries_if_embedded(settings.clickhouse_url)
    overrides = {"batch_size": args.batch_size, "linger_s": args.linger, "session_timeout_s": session_timeout}
    config = SinkConfig.from_settings(settings, **{k: v for k, v in overrides.items() if v is not None})
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port, addr=args.metrics_addr)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        sink = KafkaClickHouseSink(
            settings,
            tagged_topic=args.tagged_topic,
            alerts_topic=args.alerts_topic,
            actions_topic=args.actions_topic,
            group_id=args.group_id,
            config=config,
        )
        await sink.run(stop)

    try:
        asyncio.run(main())
    finally:
        if queries is not None:
            queries.close()
    return 0
