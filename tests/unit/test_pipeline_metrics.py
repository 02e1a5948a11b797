"""Metrics of the tagging stage (bounded, personal-data-free labels) and the health verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from prometheus_client import REGISTRY

from schemas.feedback_event import format_timestamp
from streams.metrics import BatchTally, Health, pipeline_metrics
from streams.pipeline import Pipeline, RawRecord
from tests.unit.test_pipeline import VALID, StandInTagger, standin_redact

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_observe_counts_in_out_dead_letters_redactions_and_latency() -> None:
    metrics = pipeline_metrics()
    assert pipeline_metrics() is metrics, "one set per process"
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    two_seconds_ago = format_timestamp(datetime.now(UTC) - timedelta(seconds=2))
    records = [
        RawRecord(orjson.dumps({**VALID, "received_at": two_seconds_ago})),
        RawRecord(orjson.dumps({**VALID, "source": "Mrs Jones's phone 07700 900123"})),
        RawRecord(b"\xff"),
    ]
    before = {
        "in": sample("pxstream_events_in_total", source="complaint"),
        "invalid": sample("pxstream_events_in_total", source="invalid"),
        "out": sample("pxstream_events_out_total", source="complaint"),
        "value": sample("pxstream_dead_letters_total", reason="invalid_value"),
        "utf8": sample("pxstream_dead_letters_total", reason="not_utf8"),
        "phone": sample("pxstream_redactions_total", kind="phone"),
        "latency": sample("pxstream_end_to_end_latency_seconds_bucket", le="2.5"),
        "latency_1": sample("pxstream_end_to_end_latency_seconds_bucket", le="1.0"),
        "tagging": sample("pxstream_tagging_seconds_count"),
    }
    tally = BatchTally()
    tally.add(pipeline.process(records))
    metrics.record(tally)

    assert sample("pxstream_events_in_total", source="complaint") - before["in"] == 1
    assert sample("pxstream_events_in_total", source="invalid") - before["invalid"] == 2
    assert sample("pxstream_events_out_total", source="complaint") - before["out"] == 1
    assert sample("pxstream_dead_letters_total", reason="invalid_value") - before["value"] == 1
    assert sample("pxstream_dead_letters_total", reason="not_utf8") - before["utf8"] == 1
    assert sample("pxstream_redactions_total", kind="phone") - before["phone"] == 1
    assert sample("pxstream_end_to_end_latency_seconds_bucket", le="2.5") - before["latency"] == 1
    assert sample("pxstream_end_to_end_latency_seconds_bucket", le="1.0") - before["latency_1"] == 0
    assert sample("pxstream_tagging_seconds_count") - before["tagging"] == 1


def test_no_label_value_comes_from_input() -> None:
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t", clock=lambda: NOW)
    tally = BatchTally()
    tally.add(pipeline.process([RawRecord(orjson.dumps({**VALID, "source": "John Smith 07700 900123"}))]))
    pipeline_metrics().record(tally)
    for metric in REGISTRY.collect():
        if metric.name.startswith("pxstream_"):
            for s in metric.samples:
                assert not any("Smith" in v or "07700" in v for v in s.labels.values())


def test_health_unassigned_ok_and_stalled() -> None:
    health = Health(stall_after_s=60)
    assert health.report(now=0)[1]["status"] == "unassigned"

    tp = ("feedback.raw", 0)
    health.update({tp: (100, 100)}, now=0)
    assert health.report(now=500)[0], "no lag is never stalled, however quiet"

    health.update({tp: (100, 150)}, now=10)
    assert health.report(now=60)[0], "behind, but not for long"
    health.update({tp: (100, 180)}, now=80)
    ok, report = health.report(now=80)
    assert not ok and report["status"] == "stalled" and report["stalled"] == ["feedback.raw[0]"]
    assert report["lag"] == {"feedback.raw[0]": 80}

    health.update({tp: (150, 180)}, now=85)
    assert health.report(now=85)[0], "moving again"


def test_every_kind_the_redactor_can_count_has_its_own_series() -> None:
    from streams.redaction import MARKERS

    pipeline_metrics()
    exported = {
        sample.labels["kind"]
        for metric in REGISTRY.collect()
        if metric.name == "pxstream_redactions"
        for sample in metric.samples
        if sample.name == "pxstream_redactions_total"
    }
    assert set(MARKERS) <= exported
