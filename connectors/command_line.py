"""Command-line plumbing shared by every `pxstream connect NAME`: the same options with the same
names and meanings, and a run that SIGINT/SIGTERM stop cleanly after the batch in flight."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors.exceptions import ConnectorConfigError
from connectors.runtime import RunOptions, Source, run_source


def add_run_arguments(parser: Any, kind: str) -> None:
    """The options every connector takes, with the same names and meanings."""
    parser.add_argument(
        "--name",
        default=kind,
        help=f"instance name: cursor file and metrics label (default {kind}); unique per running connector",
    )
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default PXSTREAM_KAFKA_BOOTSTRAP)")
    parser.add_argument("--topic", default=None, help="topic to write (default feedback.raw)")
    parser.add_argument("--data-dir", type=Path, help="where the cursor lives (default PXSTREAM_DATA_DIR)")
    parser.add_argument("--once", action="store_true", help="one pass over a polled source, then exit")
    parser.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on 127.0.0.1:PORT")
    parser.add_argument(
        "--max-retries", type=int, default=None, help="give up after N consecutive failures (default: never)"
    )


def options_from_args(args: Any) -> tuple[str, str, RunOptions]:
    """(bootstrap, topic, RunOptions) from parsed arguments, with environment defaults."""
    from schemas import topics
    from schemas.settings import Settings

    settings: Settings = args.settings
    if not args.name or not all(ch.isalnum() or ch in "-_." for ch in args.name):
        raise ConnectorConfigError(f"--name {args.name!r}: use letters, digits, '-', '_' or '.'")
    options = RunOptions(
        name=args.name,
        data_dir=args.data_dir or settings.data_dir,
        once=bool(args.once),
        max_retries=args.max_retries,
    )
    return args.bootstrap or settings.kafka_bootstrap, args.topic or topics.RAW, options


def run_until_signalled(coroutine_factory: Callable[[asyncio.Event], Any]) -> int:
    """Run a connector coroutine; SIGINT/SIGTERM stop it cleanly after the batch in flight."""
    import signal

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        await coroutine_factory(stop)

    asyncio.run(main())
    return 0


def run_source_from_args(args: Any, source: Source) -> int:
    bootstrap, topic, options = options_from_args(args)
    return run_until_signalled(
        lambda stop: run_source(
            source,
            bootstrap=bootstrap,
            topic=topic,
            options=options,
            metrics_port=args.metrics_port,
            stop=stop,
        )
    )


def load_reference(directory: Path | None) -> Any:
    """Reference data for provider matching; an empty set when no directory is given."""
    from connectors.reference import ReferenceData

    if directory is None:
        return ReferenceData.empty()
    if not Path(directory).is_dir():
        raise ConnectorConfigError(f"--reference {directory}: not a directory")
    return ReferenceData.load(Path(directory))
