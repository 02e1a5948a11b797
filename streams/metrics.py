"""Prometheus metrics of the validate → redact → tag stage, and the worker's health.

Names are fixed because infra's Prometheus alert rules use them. Every label value comes from a
closed set (source enum, reason codes, redaction kinds, topic/partition of our own topics), so no
label ever carries personal data and cardinality stays bounded whatever the input says.

Metrics live on prometheus_client's default registry, once per process: the hotspot agents and
the sink register theirs there too, and the worker's `/metrics` page serves that one registry.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from schemas.feedback_event import REASON_CODES
from streams.pipeline import INVALID_SOURCE, PROCESSING_ERROR, SOURCES, BatchResult
from streams.redaction import MARKERS

# The redactor's own kinds, so a kind it adds gets its own series rather than "other".
REDACTION_KINDS: Final = tuple(MARKERS)
OTHER_KIND: Final = "other"
DEAD_LETTER_REASONS: Final = (*REASON_CODES, PROCESSING_ERROR)
# Seconds from received_at to tag output. Sources may stamp received_at long before they send
# (a letter scanned yesterday), so the buckets reach a day.
LATENCY_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400)
TAGGING_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


@dataclass(frozen=True)
class PipelineMetrics:
    events_in: Counter
    events_out: Counter
    dead_letters: Counter
    redactions: Counter
    tagging_seconds: Histogram
    consumer_lag: Gauge
    end_to_end_latency: Histogram

    def observe(self, result: BatchResult) -> None:
        """Record one processed batch, after its output has been acknowledged by Kafka."""
        for source, count in result.in_by_source.items():
            self.events_in.labels(source=source).inc(count)
        out_by_source: dict[str, int] = {}
        latency = self.end_to_end_latency
        now = datetime.now(UTC)  # called once Kafka has acknowledged the output: that is "out"
        for output in result.tagged:
            source = output.event["source"]
            out_by_source[source] = out_by_source.get(source, 0) + 1
            received = datetime.fromisoformat(output.event["received_at"])
            latency.observe(max(0.0, (now - received).total_seconds()))
        for source, count in out_by_source.items():
            self.events_out.labels(source=source).inc(count)
        for dead in result.dead:
            self.dead_letters.labels(reason=dead.letter["reason_code"]).inc()
        for kind, count in result.redactions.items():
            self.redactions.labels(kind=kind if kind in REDACTION_KINDS else OTHER_KIND).inc(count)
        if result.tagged:
            self.tagging_seconds.observe(result.tagging_seconds)


@cache
def pipeline_metrics() -> PipelineMetrics:
    """The process's one set of pipeline metrics (a second registration would raise)."""
    metrics = PipelineMetrics(
        events_in=Counter("pxstream_events_in_total", "Messages read from feedback.raw", ["source"]),
        events_out=Counter("pxstream_events_out_total", "TaggedEvents written", ["source"]),
        dead_letters=Counter("pxstream_dead_letters_total", "Messages sent to feedback.dlq", ["reason"]),
        redactions=Counter("pxstream_redactions_total", "Personal data items redacted", ["kind"]),
        tagging_seconds=Histogram(
            "pxstream_tagging_seconds", "Time to tag one batch", buckets=TAGGING_BUCKETS
        ),
        consumer_lag=Gauge(
            "pxstream_consumer_lag", "Messages behind the end of each partition", ["topic", "partition"]
        ),
        end_to_end_latency=Histogram(
            "pxstream_end_to_end_latency_seconds",
            "received_at to TaggedEvent output",
            buckets=LATENCY_BUCKETS,
        ),
    )
    # Zero series for every closed label value, so rate() and absence alerts work from the start.
    for source in (*sorted(SOURCES), INVALID_SOURCE):
        metrics.events_in.labels(source=source)
        metrics.events_out.labels(source=source)
    for reason in DEAD_LETTER_REASONS:
        metrics.dead_letters.labels(reason=reason)
    for kind in REDACTION_KINDS:
        metrics.redactions.labels(kind=kind)
    return metrics


TP = tuple[str, int]


@dataclass
class Health:
    """Whether the worker is doing its job: partitions assigned, and each one moving while behind.

    A partition is stalled when it has lag and its position has not moved for `stall_after_s`
    (the "consumer slowly dies" failure in docs/faust.md, "Operations"). Fed by a timer, read by `/healthz`.
    """

    stall_after_s: float = 60.0
    assigned: frozenset[TP] = frozenset()
    lag: dict[TP, int] = field(default_factory=dict)
    _positions: dict[TP, tuple[int, float]] = field(default_factory=dict)
    updated_at: float | None = None

    def update(self, positions: Mapping[TP, tuple[int, int]], *, now: float | None = None) -> None:
        """`positions`: every assigned partition → (position, highwater)."""
        now = time.monotonic() if now is None else now
        self.assigned = frozenset(positions)
        self.lag = {tp: max(0, high - pos) for tp, (pos, high) in positions.items()}
        previous = self._positions
        self._positions = {
            tp: (pos, previous[tp][1] if tp in previous and previous[tp][0] == pos else now)
            for tp, (pos, _) in positions.items()
        }
        self.updated_at = now

    def stalled(self, *, now: float | None = None) -> list[TP]:
        now = time.monotonic() if now is None else now
        return sorted(
            tp
            for tp, lag in self.lag.items()
            if lag > 0 and now - self._positions[tp][1] > self.stall_after_s
        )

    def report(self, *, now: float | None = None) -> tuple[bool, dict[str, object]]:
        stalled = self.stalled(now=now)
        status = "unassigned" if not self.assigned else "stalled" if stalled else "ok"
        return status == "ok", {
            "status": status,
            "assigned": sorted(f"{topic}[{partition}]" for topic, partition in self.assigned),
            "stalled": [f"{topic}[{partition}]" for topic, partition in stalled],
            "lag": {f"{topic}[{partition}]": n for (topic, partition), n in sorted(self.lag.items())},
            "total_lag": sum(self.lag.values()),
        }
