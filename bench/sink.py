"""Sink throughput: rows/s from encoded TaggedEvent JSON into ClickHouse, per batch size.

Measures the sink's whole hot path after Kafka - orjson decode, the redaction guard, column
building, the batch journal, the stored-id check and the de-duplicated insert that also feeds
both rollup views - on fresh tables for every batch size, so each figure starts from the same
state.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from sinks.client import connect
from sinks.rows import EVENT_COLUMNS, ColumnBatch, Position, decode, event_row
from sinks.schema import ensure_schema
from sinks.writer import EVENTS_TABLE, ClickHouseWriter

_TABLES_TO_CLEAR = ("feedback_events", "feedback_hourly", "feedback_daily", "sink_batches")
_DOMAINS = (
    "safe_high_quality_care",
    "building_better_relationships",
    "better_information_more_choice",
    "access_and_waiting",
    "clean_comfortable_place",
)
_SOURCES = ("complaint", "pals", "incident", "fft", "social_media")


def synthetic_tagged_events(count: int, prefix: str = "bench") -> list[bytes]:
    """TaggedEvent v1 records as they arrive from Kafka (JSON bytes), spread over a month."""
    events = []
    for i in range(count):
        domains = [_DOMAINS[i % 5]] if i % 4 else [_DOMAINS[i % 5], _DOMAINS[(i + 2) % 5]]
        event: dict[str, Any] = {
            "event_id": f"{prefix}-{i}",
            "source": _SOURCES[i % len(_SOURCES)],
            "occurred_at": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            "received_at": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:30Z",
            "organisation": f"ORG{i % 3}",
            "provider": f"RX{i % 20}",
            "site": f"SITE{i % 40}",
            "ward": f"Ward {i % 60}",
            "text": "The nurses on [WARD] were kind but [NAME] waited four hours for pain relief.",
            "domains": domains,
            "domain_scores": {d: 0.8 for d in domains},
            "themes": ["waiting", "staff_attitude"][: 1 + i % 2],
            "sentiment": ((i * 37) % 200 - 100) / 100,
            "evidence": [{"domain": d, "phrase": "waited"} for d in domains],
            "redactions": {"name": 1},
            "tagger_version": "bench",
        }
        events.append(orjson.dumps(event))
    return events


def _clear(writer: ClickHouseWriter) -> None:
    for table in _TABLES_TO_CLEAR:
        writer.client.command(f"TRUNCATE TABLE IF EXISTS {table}")


def _run_once(writer: ClickHouseWriter, records: list[bytes], batch_size: int) -> float:
    topic = "bench.tagged"
    started = time.perf_counter()
    now_ms = int(time.time() * 1000)
    for start in range(0, len(records), batch_size):
        batch = ColumnBatch(EVENTS_TABLE, EVENT_COLUMNS, topic, 0)
        for offset in range(start, min(start + batch_size, len(records))):
            batch.add(offset, event_row(decode(records[offset]), Position(topic, 0, offset), now_ms))
        writer.write_all([batch])
    return time.perf_counter() - started


def bench_sink(path_or_url: str, rows: int, batch_sizes: list[int]) -> dict[str, Any]:
    """Rows/s into ClickHouse per batch size (`sink_by_batch_size`: size → rows/s);
    `sink_rows_per_s` is the best of them. Keys are prefixed to merge into `pxstream bench`.

    `path_or_url` is a `chdb://PATH` / `http(s)://` URL or a bare directory for the embedded
    engine. The tables there are truncated: point it at a scratch location.
    """
    url = path_or_url if "://" in path_or_url else f"chdb://{path_or_url}"
    records = synthetic_tagged_events(rows)
    client = connect(url)
    try:
        ensure_schema(client)
        writer = ClickHouseWriter(client, "pxstream-bench")
        rates: dict[str, int] = {}
        seconds_by_size: dict[str, float] = {}
        for size in batch_sizes:
            _clear(writer)
            seconds = _run_once(writer, records, size)
            stored = client.query("SELECT count() FROM feedback_events").result_rows[0][0]
            if stored != rows:
                raise AssertionError(f"bench stored {stored} rows of {rows} at batch size {size}")
            rates[str(size)] = round(rows / seconds)
            seconds_by_size[str(size)] = round(seconds, 3)
        _clear(writer)
    finally:
        client.close()
    return {
        "sink_rows": rows,
        "sink_rows_per_s": max(rates.values(), default=0),
        "sink_by_batch_size": rates,
        "sink_batch_seconds": seconds_by_size,
    }


if __name__ == "__main__":  # python -m bench.sink DIR [ROWS] [SIZES...]
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "./.pxstream/bench-clickhouse"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    sizes = [int(s) for s in sys.argv[3:]] or [100, 1000, 5000, 20000]
    print(orjson.dumps(bench_sink(target, count, sizes), option=orjson.OPT_INDENT_2).decode())
