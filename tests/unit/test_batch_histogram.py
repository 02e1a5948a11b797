"""`BatchHistogram` (the tagging stage's end-to-end latency, fed a batch at a time) exposes what
prometheus_client's own `Histogram` would for the same observations: same series, same buckets
(a value equal to a bound counts in that bound), same count and sum."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from streams.metrics import LATENCY_BUCKETS, BatchHistogram


def test_same_exposition_as_prometheus_histogram() -> None:
    values = [0.0, 0.01, 0.011, 1.0, 1.5, 2.5, 86400.0, 1e9, 0.3, 0.3]
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("latency_seconds", "help", buckets=LATENCY_BUCKETS, registry=theirs)
    for value in values:
        histogram.observe(value)
    batch = BatchHistogram("latency_seconds", "help", LATENCY_BUCKETS)
    ours.register(batch)
    batch.observe_many(values[:4])
    batch.observe_many([])
    batch.observe_many(values[4:])

    def series(registry: CollectorRegistry) -> list[str]:
        return [
            line
            for line in generate_latest(registry).decode().splitlines()
            if line.startswith("latency_seconds_") and "_created" not in line
        ]

    assert series(ours) == series(theirs)
    assert 'latency_seconds_bucket{le="0.01"} 2.0' in series(ours)
    assert 'latency_seconds_bucket{le="+Inf"} 10.0' in series(ours)


def test_counted_values_land_where_repeated_values_do() -> None:
    """observe_counts({value: n}) is n observations of value: the tagging stage's latencies,
    one per distinct received_at with the number of events that carried it."""
    counts = {0.0: 3, 0.01: 2, 0.3: 5, 86400.0: 1, 1e9: 4}
    repeated = BatchHistogram("latency_seconds", "help", LATENCY_BUCKETS)
    repeated.observe_many([value for value, n in counts.items() for _ in range(n)])
    counted = BatchHistogram("latency_seconds", "help", LATENCY_BUCKETS)
    counted.observe_counts(counts)
    counted.observe_counts({})
    (ours,), (theirs,) = counted.collect(), repeated.collect()
    assert [(s.name, s.labels, s.value) for s in ours.samples if s.name.endswith("_bucket")] == [
        (s.name, s.labels, s.value) for s in theirs.samples if s.name.endswith("_bucket")
    ]
    assert dict((s.name, s.value) for s in ours.samples)["latency_seconds_count"] == 15
    assert math.isclose(
        dict((s.name, s.value) for s in ours.samples)["latency_seconds_sum"],
        dict((s.name, s.value) for s in theirs.samples)["latency_seconds_sum"],
    )
