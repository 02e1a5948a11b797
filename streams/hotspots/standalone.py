"""A hotspots-only Faust worker, for integration tests and for running the counter on its own.

The production worker (``pxstream worker``, streams/app.py) builds the full app and calls
:func:`streams.hotspots.agent.attach` itself; this module builds the smallest app that honours
the same delivery rules (RocksDB tables, at-least-once, one agent instance) so the hotspot
part can be proven, and killed, in isolation::

    python -m streams.hotspots.standalone --id T --tagged feedback.tagged --alerts hotspots.alerts \
        --partitions 4 --datadir .pxstream/hotspots --web-port 6067
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from schemas.settings import Settings
from streams.hotspots.agent import attach
from streams.hotspots.alertmanager import PusherConfig
from streams.hotspots.rules import load_rules


def build_app(
    app_id: str,
    settings: Settings,
    *,
    tagged_topic: str,
    alerts_topic: str,
    partitions: int,
    datadir: Path,
    web_port: int,
    tick_interval_s: float = 1.0,
    quiet_after_s: float = 2.0,
    resend_interval_s: float = 60.0,
    session_timeout_s: float = 60.0,
) -> Any:
    import faust

    from streams import fetch_wait

    fetch_wait.install()
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="rocksdb://",
        datadir=str(datadir),
        topic_partitions=partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        stream_wait_empty=False,
        web_port=web_port,
        web_host="127.0.0.1",
        table_standby_replicas=0,
        # How long the group waits for a member that died without leaving (kill -9).
        broker_session_timeout=session_timeout_s,
        autodiscover=False,
    )
    attach(
        app,
        settings,
        load_rules(settings.rules_path),
        tagged_topic=tagged_topic,
        alerts_topic=alerts_topic,
        tick_interval_s=tick_interval_s,
        quiet_after_s=quiet_after_s,
        pusher_config=(
            PusherConfig.from_settings(settings, resend_interval_s=resend_interval_s)
            if settings.alertmanager_url
            else None
        ),
    )
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--id", required=True, help="Faust app id (consumer group, changelog prefix)")
    parser.add_argument("--tagged", default="feedback.tagged")
    parser.add_argument("--alerts", default="hotspots.alerts")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--datadir", type=Path, required=True)
    parser.add_argument("--web-port", type=int, default=6067)
    parser.add_argument("--tick-interval", type=float, default=1.0)
    parser.add_argument("--quiet-after", type=float, default=2.0)
    parser.add_argument("--resend-interval", type=float, default=60.0)
    parser.add_argument("--session-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = build_app(
        args.id,
        Settings.from_env(),  # this process's edge: the environment is read here, once
        tagged_topic=args.tagged,
        alerts_topic=args.alerts,
        partitions=args.partitions,
        datadir=args.datadir,
        web_port=args.web_port,
        tick_interval_s=args.tick_interval,
        quiet_after_s=args.quiet_after,
        resend_interval_s=args.resend_interval,
        session_timeout_s=args.session_timeout,
    )
    sys.argv = [sys.argv[0], "worker", "--loglevel", "info", "--without-web"]
    app.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
