"""`pxstream produce FILE.jsonl`: put lines on feedback.raw exactly as they are.

No validation here on purpose: the stream validates, and a file with bad lines is how an operator
tests the dead-letter path. Each line is keyed by its `provider` when it has one, so replayed
events land in the same partition as the connectors' (and the hotspot windows stay together).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from schemas import topics

BATCH_LINES = 1000
PROGRESS_EVERY_S = 1.0


def register_produce(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "produce",
        help="send JSON lines (FeedbackEvents) to feedback.raw as they are",
        description="Send each line of FILE (or stdin with '-') to feedback.raw unchanged, in batches, "
        "waiting for Kafka to acknowledge every one. Blank lines are skipped. The stream validates: "
        "invalid lines end up in feedback.dlq with a reason.",
    )
    parser.add_argument("file", help="JSON lines file, or '-' for stdin")
    parser.add_argument("--topic", default=topics.RAW, help=f"topic to send to (default {topics.RAW})")
    parser.add_argument("--batch-size", type=int, default=BATCH_LINES, help="lines per acknowledged batch")
    parser.set_defaults(func=run_produce)


def line_key(line: bytes) -> bytes | None:
    """The provider code of a line that is a JSON object with one; None otherwise."""
    if not line.startswith(b"{"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    provider = value.get("provider") if isinstance(value, dict) else None
    return provider.encode("utf-8") if isinstance(provider, str) else None


def _batches(stream: BinaryIO, size: int) -> Iterator[list[tuple[bytes | None, bytes]]]:
    batch: list[tuple[bytes | None, bytes]] = []
    for line in stream:
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        batch.append((line_key(line), line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def produce_lines(stream: BinaryIO, *, bootstrap: str, topic: str, batch_size: int) -> int:
    from connectors.producer import FeedbackProducer

    sent = 0
    started = last_report = time.monotonic()
    async with FeedbackProducer(bootstrap, topic=topic, client_id="pxstream-produce") as producer:
        for batch in _batches(stream, batch_size):
            sent += await producer.send_raw(batch)
            now = time.monotonic()
            if now - last_report >= PROGRESS_EVERY_S:
                rate = sent / max(now - started, 1e-9)
                print(f"produce: {sent:,} sent ({rate:,.0f}/s)", file=sys.stderr, flush=True)
                last_report = now
    elapsed = time.monotonic() - started
    print(
        f"produce: {sent:,} lines sent to {topic} at {bootstrap} and acknowledged in {elapsed:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return sent


def run_produce(args: argparse.Namespace) -> int:
    from schemas.errors import ConfigError
    from schemas.settings import Settings

    settings: Settings = args.settings
    if args.file == "-":
        asyncio.run(
            produce_lines(
                sys.stdin.buffer,
                bootstrap=settings.kafka_bootstrap,
                topic=args.topic,
                batch_size=args.batch_size,
            )
        )
        return 0
    try:
        handle = open(args.file, "rb")  # noqa: SIM115 - closed below, error names the file
    except OSError as exc:
        # A wrong path is the caller's to fix, like any other configuration: exit 2.
        raise ConfigError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    with handle:
        asyncio.run(
            produce_lines(
                handle, bootstrap=settings.kafka_bootstrap, topic=args.topic, batch_size=args.batch_size
            )
        )
    return 0
