"""Record → row conversion, the redaction guard, and deterministic batch boundaries."""

from __future__ import annotations

from collections import deque

import orjson
import pytest

from sinks.rows import (
    ALERT_COLUMNS,
    EVENT_COLUMNS,
    ColumnBatch,
    Position,
    RefusedRecord,
    alert_row,
    decode,
    event_row,
    to_millis,
)
from sinks.runner import PartitionBuffer, TableRoute
from sinks.writer import PlannedRange

POS = Position("feedback.tagged", 2, 41)


def tagged(**overrides):
    event = {
        "event_id": "ev-1",
        "source": "complaint",
        "occurred_at": "2026-02-03T04:05:06.789Z",
        "received_at": "2026-02-03T05:00:00Z",
        "provider": "RX1",
        "text": "[NAME] waited on [WARD]",
        "domains": ["access_and_waiting"],
        "domain_scores": {"access_and_waiting": 0.75},
        "themes": ["waiting"],
        "sentiment": -0.6,
        "evidence": [{"domain": "access_and_waiting", "phrase": "waited"}],
        "redactions": {"name": 1, "ward": 1},
        "tagger_version": "tagger-1",
    }
    event.update(overrides)
    return event


def test_event_row_fills_absent_strings_with_empty_and_counts_redactions():
    row = dict(zip(EVENT_COLUMNS, event_row(tagged(), POS, 1_000), strict=True))
    assert row["organisation"] == row["site"] == row["ward"] == row["severity"] == row["reporter"] == ""
    assert row["provider"] == "RX1"
    assert row["occurred_at"] == 1_770_091_506_789  # 2026-02-03T04:05:06.789Z in ms
    assert row["redaction_count"] == 2
    assert row["rating"] is None
    assert (row["kafka_topic"], row["kafka_partition"], row["kafka_offset"]) == ("feedback.tagged", 2, 41)
    assert row["domain_scores"] == {"access_and_waiting": 0.75}


def test_missing_received_at_defaults_to_ingestion_time():
    event = tagged()
    del event["received_at"]
    row = dict(zip(EVENT_COLUMNS, event_row(event, POS, 123_456), strict=True))
    assert row["received_at"] == 123_456


@pytest.mark.parametrize("missing", ["tagger_version", "redactions"])
def test_raw_feedback_event_is_refused_without_quoting_it(missing):
    event = tagged(text="Call 07700 900123 about Jane Smith")
    del event[missing]
    with pytest.raises(RefusedRecord) as info:
        event_row(event, POS, 0)
    assert info.value.reason == "not_redacted"
    assert "07700" not in str(info.value) and "Jane" not in str(info.value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(b"{not json", "bad_json"), (b"[1, 2]", "not_an_object"), (None, "empty_value")],
)
def test_undecodable_values_are_refused(value, reason):
    with pytest.raises(RefusedRecord) as info:
        decode(value)
    assert info.value.reason == reason


def test_bad_timestamp_is_refused():
    with pytest.raises(RefusedRecord) as info:
        event_row(tagged(occurred_at="yesterday"), POS, 0)
    assert info.value.reason == "invalid_field"


def test_offsets_in_timestamps_become_utc():
    assert to_millis("2026-02-03T05:05:06+01:00", "t") == to_millis("2026-02-03T04:05:06Z", "t")


def alert(status, **overrides):
    record = {
        "alert_id": "a-1",
        "rule_id": "ward-incidents-24h",
        "status": status,
        "group": {"provider": "RX1", "ward": "Ward 7"},
        "window_start": "2026-02-03T00:00:00Z",
        "window_end": "2026-02-04T00:00:00Z",
        "count": 6,
        "threshold": 5,
        "severity": "warning",
        "description": "Five or more incidents on one ward within 24 hours",
        "fired_at": "2026-02-03T10:00:00Z",
        "resolved_at": "2026-02-04T01:00:00Z" if status == "resolved" else None,
        "sample_event_ids": [f"e{i}" for i in range(12)],
    }
    record.update(overrides)
    return record


def test_alert_row_flattens_group_and_caps_samples():
    values = alert_row(alert("firing"), Position("hotspots.alerts", 0, 5), 0)
    row = dict(zip(ALERT_COLUMNS, values, strict=True))
    assert (row["provider"], row["ward"], row["organisation"], row["domain"]) == ("RX1", "Ward 7", "", "")
    assert row["resolved_at"] is None
    assert len(row["sample_event_ids"]) == 10


def test_resolved_beats_firing_whatever_the_offsets():
    resolved_early = alert_row(alert("resolved"), Position("hotspots.alerts", 0, 1), 0)
    firing_late = alert_row(alert("firing"), Position("hotspots.alerts", 0, 99), 0)
    assert resolved_early[-1] > firing_late[-1]
    batch = ColumnBatch("hotspot_alerts", ALERT_COLUMNS, "hotspots.alerts", 0)
    batch.add(1, resolved_early)
    batch.add(99, firing_late)
    (kept,) = batch.unique_rows()
    assert kept[2] == "resolved"


def test_unique_rows_keeps_one_row_per_event_id_and_range_counts_refused_records():
    batch = ColumnBatch("feedback_events", EVENT_COLUMNS, "t", 0)
    batch.add(10, event_row(tagged(event_id="a"), Position("t", 0, 10), 0))
    batch.add(11, None)  # refused
    batch.add(12, event_row(tagged(event_id="a", sentiment=0.5), Position("t", 0, 12), 0))
    assert (batch.first_offset, batch.last_offset, batch.records) == (10, 12, 3)
    (kept,) = batch.unique_rows()
    assert kept[EVENT_COLUMNS.index("kafka_offset")] == 12
    assert batch.dedup_token("g") == "pxstream-sink:g:t:0:10-12"


def test_two_organisations_events_with_one_id_are_two_rows():
    """An id is unique per source system only: (organisation, event_id) is what a row stands for."""
    batch = ColumnBatch("feedback_events", EVENT_COLUMNS, "t", 0)
    for offset, organisation in enumerate(["QKK", "QWE", "QKK"]):
        batch.add(
            offset,
            event_row(tagged(event_id="INC-1", organisation=organisation), Position("t", 0, offset), 0),
        )
    kept = batch.unique_rows()
    assert sorted(batch.identity(row) for row in kept) == [("QKK", "INC-1"), ("QWE", "INC-1")]
    assert {row[EVENT_COLUMNS.index("kafka_offset")] for row in kept} == {1, 2}


def test_alert_row_carries_its_organisations_with_the_groups_own():
    values = alert_row(alert("firing", organisations=["QWE", "QKK"]), Position("hotspots.alerts", 0, 5), 0)
    assert dict(zip(ALERT_COLUMNS, values, strict=True))["organisations"] == ["QKK", "QWE"]
    grouped = alert("firing", group={"organisation": "QOP", "provider": "RX1"})
    row = dict(zip(ALERT_COLUMNS, alert_row(grouped, Position("hotspots.alerts", 0, 6), 0), strict=True))
    assert row["organisations"] == ["QOP"]  # a producer from before the field: still its tenant's


def _buffer(plans):
    route = TableRoute("feedback_events", EVENT_COLUMNS, event_row)
    return PartitionBuffer(route, "t", 0, plans=deque(plans))


def test_replayed_partition_is_cut_exactly_at_the_journaled_ranges():
    buffer = _buffer([PlannedRange(100, 104), PlannedRange(105, 106)])
    for offset in range(100, 110):
        buffer.add(offset, None, now=0.0)
    batches = buffer.take_ready()
    assert [(b.first_offset, b.last_offset) for b in batches] == [(100, 104), (105, 106), (107, 109)]


def test_incomplete_replay_range_is_held_back_until_its_end_arrives():
    buffer = _buffer([PlannedRange(100, 104)])
    for offset in range(100, 103):
        buffer.add(offset, None, now=0.0)
    assert buffer.take_ready() == []
    buffer.add(103, None, now=0.0)
    buffer.add(104, None, now=0.0)
    assert [(b.first_offset, b.last_offset) for b in buffer.take_ready()] == [(100, 104)]


def test_journaled_ranges_already_behind_the_position_are_ignored():
    buffer = _buffer([PlannedRange(0, 9), PlannedRange(10, 19)])
    for offset in range(20, 23):
        buffer.add(offset, None, now=0.0)
    assert [(b.first_offset, b.last_offset) for b in buffer.take_ready()] == [(20, 22)]


def test_bench_records_are_valid_tagged_events():
    from bench.sink import synthetic_tagged_events

    (record,) = synthetic_tagged_events(1)
    event_row(orjson.loads(record), POS, 0)


def test_sink_config_reads_the_settings_and_options_win():
    from schemas.settings import Settings
    from sinks.exceptions import ConfigError
    from sinks.runner import SinkConfig

    settings = Settings.from_env(
        {"PXSTREAM_SINK_BATCH_SIZE": "2000", "PXSTREAM_CLICKHOUSE_RETENTION_DAYS": "3650"}
    )
    assert SinkConfig.from_settings(settings).batch_size == 2000
    assert SinkConfig.from_settings(settings).retention_days == 3650
    assert SinkConfig.from_settings(settings, batch_size=10).batch_size == 10
    keep = Settings.from_env({"PXSTREAM_CLICKHOUSE_RETENTION_DAYS": "0"})
    assert SinkConfig.from_settings(keep).retention_days is None
    with pytest.raises(ConfigError, match="PXSTREAM_SINK_LINGER_S"):
        Settings.from_env({"PXSTREAM_SINK_LINGER_S": "soon"})


def test_failure_descriptions_never_quote_what_the_server_said_about_rows():
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from sinks.runner import _describe

    leaked = DatabaseError("Code: 27. Cannot parse input: 'Jane Smith 07700 900123'", code=27)
    assert _describe(leaked) == "DatabaseError code 27"
    assert "127.0.0.1:8123" in _describe(OperationalError("Error connecting to 127.0.0.1:8123"))
