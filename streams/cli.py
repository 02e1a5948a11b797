"""`pxstream tag`: JSON lines in, TaggedEvent JSON lines out — the stream's own code path.

The lines go through `streams.pipeline.Pipeline.process` in batches exactly as Kafka records do,
so what an analyst sees here is what the stream would publish. (`pxstream worker` is registered
by `pxstream.worker`, the composition root that can also start the ClickHouse sink.)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

BATCH_LINES = 500


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tag",
        help="tag FeedbackEvent JSON lines (stdin or FILE) into TaggedEvent JSON lines on stdout",
        description="Read FeedbackEvent v1 JSON lines, write TaggedEvent v1 JSON lines (text redacted) "
        "on stdout. Invalid lines are reported on stderr as JSON with their line number and reason; "
        "the exit status is 1 if there were any. Blank lines are skipped.",
    )
    parser.add_argument("file", nargs="?", default="-", help="JSON lines file (default: stdin)")
    parser.set_defaults(func=run_tag)


def _numbered_batches(stream: BinaryIO, size: int) -> Iterator[list[tuple[int, bytes]]]:
    batch: list[tuple[int, bytes]] = []
    for number, line in enumerate(stream, start=1):
        line = line.rstrip(b"\r\n")
        if not line.strip():
            continue
        batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def tag_lines(
    source: BinaryIO, out: IO[bytes], err: IO[bytes], *, name: str = "stdin", pipeline: Any = None
) -> tuple[int, int]:
    """Tag every line of `source`; returns (tagged, invalid). Shared by the CLI and its tests."""
    import orjson

    from streams.pipeline import Pipeline, RawRecord

    pipeline = pipeline or Pipeline.default()
    tagged = invalid = 0
    for batch in _numbered_batches(source, BATCH_LINES):
        # The line number travels as the record's offset, so a dead letter names its line.
        records = [RawRecord(value=line, topic=name, offset=number) for number, line in batch]
        result = pipeline.process(records)
        for output in result.tagged:
            out.write(output.value + b"\n")
        for dead in result.dead:
            error = {
                "line": dead.record.offset,
                "reason_code": dead.letter["reason_code"],
                "error": dead.letter["error"],
            }
            err.write(orjson.dumps(error) + b"\n")
        out.flush()
        err.flush()
        tagged += len(result.tagged)
        invalid += len(result.dead)
    return tagged, invalid


def run_tag(args: argparse.Namespace) -> int:
    if args.file == "-":
        _, invalid = tag_lines(sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer)
    else:
        try:
            handle = open(args.file, "rb")  # noqa: SIM115 - closed below, error names the file
        except OSError as exc:
            from schemas.errors import PxstreamError

            raise PxstreamError(f"cannot read {args.file}: {exc.strerror}") from None
        with handle:
            _tagged, invalid = tag_lines(handle, sys.stdout.buffer, sys.stderr.buffer, name=args.file)
    return 1 if invalid else 0
