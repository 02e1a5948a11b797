"""Prometheus metrics of the validate → redact → tag stage, and the worker's health.

Names are fixed because infra's Prometheus alert rules use them. Every label value comes from a
closed set (source enum, reason codes, redaction kinds, topic/partition of our own topics), so no
label ever carries personal data and cardinality stays bounded whatever the input says.

Metrics live on prometheus_client's default registry, once per process: the hotspot stage and
the sink register theirs there too, and the worker's `/metrics` page serves that one registry.
"""

from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Final

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

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


class BatchHistogram:
    """A Prometheus histogram fed a batch at a time (`observe_many`): one lock per batch.

    prometheus_client's `Histogram.observe` takes two locks per observation; for the latency of
    every tagged event that was the largest per-event cost left in the tagging stage's framework
    share (docs/stateless-speed.md). Exposed through the public collector interface with the
    same name, buckets and series (`_bucket`, `_count`, `_sum`) as a `Histogram`.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(float(b) for b in buckets)
        self._counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self._sum = 0.0
        self._lock = threading.Lock()  # /metrics may be read from another thread

    def observe_many(self, values: Iterable[float]) -> None:
        self._add((value, 1) for value in values)

    def observe_counts(self, counts: Mapping[float, int]) -> None:
        """Observe each value `count` times: a batch's events share few distinct latencies (one
        per `received_at`), so the buckets are found once per value, not once per event."""
        self._add(counts.items())

    def _add(self, weighted: Iterable[tuple[float, int]]) -> None:
        added = [0] * len(self._counts)
        total = 0.0
        where = bisect.bisect_left
        bounds = self.bounds
        for value, count in weighted:
            added[where(bounds, value)] += count  # le: a value equal to a bound falls in it
            total += value if count == 1 else value * count
        with self._lock:
            self._counts = [a + b for a, b in zip(self._counts, added, strict=True)]
            self._sum += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = list(self._counts), self._sum
        cumulative, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(bound), cumulative))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], buckets, total)
        yield family


@dataclass(frozen=True)
class PipelineMetrics:
    events_in: Counter
    events_out: Counter
    dead_letters: Counter
    redactions: Counter
    tagging_seconds: Histogram
    consumer_lag: Gauge
    end_to_end_latency: BatchHistogram

    def record(self, tally: BatchTally) -> None:
        """Record one batch's tally, after its output has been acknowledged by Kafka.

        Per batch, not per event: counters are incremented once per label value, the latency
        histogram takes the batch in one call, and each distinct `received_at` is parsed and
        placed in a bucket once (a connector's batch, or events the pipeline stamped, share one).
        """
        now = datetime.now(UTC)  # called once Kafka has acknowledged the output: that is "out"
        latencies: collections.Counter[float] = collections.Counter()
        for stamp, count in tally.received.items():
            latencies[max(0.0, (now - datetime.fromisoformat(stamp)).total_seconds())] += count
        for source, count in tally.in_by_source.items():
            self.events_in.labels(source=source).inc(count)
        for source, count in tally.out_by_source.items():
            self.events_out.labels(source=source).inc(count)
        self.end_to_end_latency.observe_counts(latencies)
        for reason, count in tally.dead_by_reason.items():
            self.dead_letters.labels(reason=reason).inc(count)
        for kind, count in tally.redactions.items():
            self.redactions.labels(kind=kind if kind in REDACTION_KINDS else OTHER_KIND).inc(count)
        if tally.out_by_source:  # the batch tagged something (every tagged event has a source)
            self.tagging_seconds.observe(tally.tagging_seconds)


@dataclass
class BatchTally:
    """The counts a batch's metrics need, taken from each slice's result as soon as it exists.

    The tagging stage keeps a batch's outputs only until they are queued for Kafka, and its
    metrics are recorded only once Kafka acknowledged them all: holding every slice's result until
    then kept a whole batch of decoded events alive, and freeing them at the end, cold in the
    cache, cost the stage more than freeing each slice's while it is fresh (docs/stateless-speed.md,
    "Freeing slice by slice").
    """

    in_by_source: collections.Counter[str] = field(default_factory=collections.Counter)
    out_by_source: collections.Counter[str] = field(default_factory=collections.Counter)
    dead_by_reason: collections.Counter[str] = field(default_factory=collections.Counter)
    redactions: collections.Counter[str] = field(default_factory=collections.Counter)
    received: collections.Counter[str] = field(default_factory=collections.Counter)
    tagging_seconds: float = 0.0

    def add(self, result: BatchResult) -> None:
        self.in_by_source.update(result.in_by_source)
        self.redactions.update(result.redactions)
        self.dead_by_reason.update(dead.letter["reason_code"] for dead in result.dead)
        if result.tagged:
            events = [output.event for output in result.tagged]
            self.out_by_source.update(event["source"] for event in events)
            self.received.update(event["received_at"] for event in events)
            self.tagging_seconds += result.tagging_seconds


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
        end_to_end_latency=BatchHistogram(
            "pxstream_end_to_end_latency_seconds",
            "received_at to TaggedEvent output",
            buckets=LATENCY_BUCKETS,
        ),
    )
    REGISTRY.register(metrics.end_to_end_latency)
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
