"""The sink's Prometheus metrics (default registry, scraped from the worker's /metrics).

Labels are table names and reason codes only - never ids or content.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS = Counter("pxstream_sink_rows", "Rows inserted into ClickHouse", ["table"])
ERRORS = Counter("pxstream_sink_errors", "Failed ClickHouse writes (each is retried)", ["table"])
BATCH_SECONDS = Histogram(
    "pxstream_sink_batch_seconds",
    "Time to write one flush (journal, duplicate check, inserts)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
REFUSED = Counter(
    "pxstream_sink_refused", "Records not stored (not redacted, malformed)", ["table", "reason"]
)
DUPLICATES = Counter(
    "pxstream_sink_duplicates_skipped", "Rows skipped because their id was already stored", ["table"]
)
BUFFERED = Gauge("pxstream_sink_buffered_records", "Records read from Kafka and not yet committed")
PAUSED = Gauge("pxstream_sink_paused", "1 while fetching is paused because ClickHouse writes fail")
