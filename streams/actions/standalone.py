"""The actions stage as a process of its own, for integration tests (kill -9) and the bench::

    python -m streams.actions.standalone --group G --topic-prefix test-1. --tick-interval 0.2

Same stage, same engine, same notifier as in `pxstream worker`; no Faust around it. Prints
"actions stage ready" once the state is rebuilt and the consumer has started.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from schemas.errors import PxstreamError
from schemas.settings import Settings
from streams.actions.agent import build_stage, load_default_actions, stage_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.actions.standalone")
    parser.add_argument("--group", required=True, help="consumer group id")
    parser.add_argument("--topic-prefix", default="", help="prefix of every topic name")
    parser.add_argument("--tick-interval", type=float, default=5.0, help="seconds between clock ticks")
    parser.add_argument("--resend-interval", type=float, default=60.0, help="Alertmanager re-send period")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        settings = Settings.from_env()  # this process's edge: the environment is read here, once
        config = load_default_actions(settings)
    except PxstreamError as exc:
        print(f"pxstream: error: {exc}", file=sys.stderr)
        return exc.exit_code
    stage = build_stage(
        settings,
        config,
        topic_names=stage_topics(args.topic_prefix),
        group_id=args.group,
        tick_interval_s=args.tick_interval,
        resend_interval_s=args.resend_interval,
    )

    async def run() -> None:
        task = asyncio.ensure_future(stage.run())
        # SIGTERM stops cleanly (the batch under way is delivered and committed); kill -9 is the test.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        ready = asyncio.ensure_future(stage.ready.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if stage.ready.is_set():
            print("actions stage ready", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
