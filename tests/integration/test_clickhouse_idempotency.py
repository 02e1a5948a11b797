"""Proof that retried and replayed batches never double a row or a rollup count.

Runs the real ClickHouse engine (chDB) in a scratch directory. The expected figures are a
brute-force recount over the distinct events, compared with `feedback_events` (with and without
FINAL) and with every key of `feedback_hourly` / `feedback_daily`.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest

from sinks.client import connect
from sinks.rows import ALERT_COLUMNS, EVENT_COLUMNS, ColumnBatch, Position, alert_row, event_row
from sinks.schema import ensure_schema
from sinks.writer import INSERT_SETTINGS, TABLE_COLUMNS, ClickHouseWriter

pytestmark = pytest.mark.integration

TOPIC = "feedback.tagged"
DOMAINS = ["safe_high_quality_care", "access_and_waiting", "clean_comfortable_place"]


@pytest.fixture
def client(tmp_path):
    ch = connect(f"chdb://{tmp_path / 'clickhouse'}")
    ensure_schema(ch)
    yield ch
    ch.close()


def make_event(i: int, rng: random.Random) -> dict:
    month = 1 + i % 3
    domains = rng.sample(DOMAINS, rng.choice([0, 1, 1, 2]))
    return {
        "event_id": f"ev-{i}",
        "source": rng.choice(["complaint", "fft", "incident"]),
        "occurred_at": f"2026-{month:02d}-{1 + i % 27:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "organisation": rng.choice(["ORG1", "ORG2"]),
        "provider": f"RX{i % 4}",
        "ward": f"Ward {i % 6}",
        "text": "redacted [NAME]",
        "domains": domains,
        "domain_scores": {d: 0.9 for d in domains},
        "themes": ["waiting"],
        "sentiment": rng.choice([-0.9, -0.3, -0.1, 0.0, 0.25, 0.8]),
        "evidence": [],
        "redactions": {},
        "tagger_version": "t-1",
    }


def kafka_log(events: list[dict], republished: list[dict]) -> dict[int, list[dict]]:
    """Events per partition (keyed by provider, like the stream) in offset order; the
    republished ones appear a second time, later in their partition."""
    partitions: dict[int, list[dict]] = defaultdict(list)
    for event in [*events, *republished]:
        partitions[int(event["provider"][2:]) % 2].append(event)
    return partitions


def batches_for(partitions: dict[int, list[dict]], size: int, start: int = 0) -> list[ColumnBatch]:
    batches = []
    for partition, records in partitions.items():
        for first in range(start, len(records), size):
            batch = ColumnBatch("feedback_events", EVENT_COLUMNS, TOPIC, partition)
            for offset in range(first, min(first + size, len(records))):
                batch.add(offset, event_row(records[offset], Position(TOPIC, partition, offset), 1))
            batches.append(batch)
    return batches


def expected_rollups(events: list[dict], bucket) -> dict[tuple, tuple[int, int, int]]:
    counts: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for event in events:
        moment = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        for domain in event["domains"] or [""]:
            key = (
                bucket(moment),
                event["organisation"],
                event["provider"],
                event["ward"],
                domain,
                event["source"],
            )
            counts[key][0] += 1
            counts[key][1] += event["sentiment"] < -0.2
            counts[key][2] += event["sentiment"] > 0.2
    return {key: tuple(value) for key, value in counts.items()}


def stored_rollups(client, table: str, bucket_column: str) -> dict[tuple, tuple[int, int, int]]:
    rows = client.query(
        f"SELECT {bucket_column}, organisation, provider, ward, domain, source,"
        f" sum(events), sum(negative), sum(positive) FROM {table}"
        f" GROUP BY {bucket_column}, organisation, provider, ward, domain, source"
    ).result_rows
    return {tuple(row[:6]): tuple(row[6:]) for row in rows}


def assert_exact(client, distinct_events: list[dict]) -> None:
    n = len(distinct_events)
    assert client.query("SELECT count() FROM feedback_events FINAL").result_rows[0][0] == n
    # stronger than FINAL: no duplicate row exists at all, merged or not
    assert client.query("SELECT count(), uniqExact(organisation, event_id) FROM feedback_events").result_rows[
        0
    ] == (
        n,
        n,
    )
    hourly = expected_rollups(
        distinct_events, lambda m: m.replace(minute=0, second=0, microsecond=0, tzinfo=None)
    )
    daily = expected_rollups(distinct_events, lambda m: m.date())
    assert stored_rollups(client, "feedback_hourly", "hour") == hourly
    assert stored_rollups(client, "feedback_daily", "day") == daily


def with_shared_ids(events: list[dict], rng: random.Random) -> list[dict]:
    """Some events take an id another organisation's source already used: different events."""
    used = {(e["organisation"], e["event_id"]) for e in events}
    for event in events:
        other = rng.choice(events)
        if rng.random() < 0.25 and (event["organisation"], other["event_id"]) not in used:
            used.add((event["organisation"], other["event_id"]))
            event["event_id"] = other["event_id"]
    return events


@pytest.mark.parametrize("shared_ids", [False, True], ids=["own-ids", "ids-shared-across-organisations"])
def test_retried_replayed_and_republished_batches_count_once(client, shared_ids):
    rng = random.Random(7)
    events = [make_event(i, rng) for i in range(600)]
    if shared_ids:
        events = with_shared_ids(events, rng)
        pairs = {(e["organisation"], e["event_id"]) for e in events}
        assert len(pairs) == len(events) > len({e["event_id"] for e in events}) + 50
    republished = rng.sample(events, 80)  # the stream re-sent these after its own restart
    partitions = kafka_log(events, republished)
    writer = ClickHouseWriter(client, "pxstream-sink")

    batches = batches_for(partitions, size=50)
    for batch in batches:
        writer.write_all([batch])
    assert_exact(client, events)

    # 1. Every batch retried with the same boundaries (died after insert, before commit).
    for batch in batches:
        writer.write_all([batch])
    assert_exact(client, events)

    # 2. A restart that reads the whole log again in one flush, with other boundaries: the
    #    stored-id check skips what other batches stored.
    writer.write_all(batches_for(partitions, size=10_000))
    assert_exact(client, events)


def test_insert_killed_half_way_is_completed_not_doubled(client):
    """A batch spanning three monthly partitions lands as three parts; simulate a crash after the
    first part (with its rollup parts) was committed, then the journaled retry of the batch."""
    rng = random.Random(11)
    events = [make_event(i, rng) for i in range(90)]
    writer = ClickHouseWriter(client, "pxstream-sink")
    (batch,) = batches_for({0: events}, size=1000)
    assert len({e["occurred_at"][:7] for e in events}) == 3

    january = [row for row in batch.unique_rows() if datetime.fromtimestamp(row[6] / 1000, UTC).month == 1]
    columns = [list(c) for c in zip(*january, strict=True)] + [[batch.stamp("pxstream-sink")] * len(january)]
    client.insert(
        "feedback_events",
        columns,
        column_names=list(TABLE_COLUMNS["feedback_events"]),
        column_oriented=True,
        settings={**INSERT_SETTINGS, "insert_deduplication_token": batch.dedup_token("pxstream-sink")},
    )
    landed = client.query("SELECT count() FROM feedback_events").result_rows[0][0]
    assert 0 < landed < len(events)

    writer.write_all([batch])  # the journaled retry: same range, same token
    assert_exact(client, events)


def test_alert_latest_state_survives_replays_in_any_order(client):
    writer = ClickHouseWriter(client, "pxstream-sink")
    base = {
        "alert_id": "rule-a|RX1|Ward 7|2026-02-03T00:00:00Z",
        "rule_id": "rule-a",
        "group": {"provider": "RX1", "ward": "Ward 7"},
        "window_start": "2026-02-03T00:00:00Z",
        "window_end": "2026-02-04T00:00:00Z",
        "count": 5,
        "threshold": 5,
        "severity": "warning",
        "description": "d",
        "fired_at": "2026-02-03T10:00:00Z",
        "resolved_at": None,
        "sample_event_ids": ["e1"],
    }
    firing = {**base, "status": "firing"}
    resolved = {**base, "status": "resolved", "count": 7, "resolved_at": "2026-02-04T02:00:00Z"}

    def batch(first: int, *records: dict) -> ColumnBatch:
        b = ColumnBatch("hotspot_alerts", ALERT_COLUMNS, "hotspots.alerts", 0)
        for offset, record in enumerate(records, start=first):
            b.add(offset, alert_row(record, Position("hotspots.alerts", 0, offset), 1))
        return b

    writer.write_all([batch(0, firing)])
    writer.write_all([batch(1, resolved)])
    writer.write_all([batch(0, firing)])  # replay of the older batch
    rows = client.query("SELECT status, count, resolved_at FROM hotspot_alerts FINAL").result_rows
    assert rows == [("resolved", 7, datetime(2026, 2, 4, 2, 0))]
    by_status = Counter(r[0] for r in client.query("SELECT status FROM hotspot_alerts").result_rows)
    assert by_status["firing"] <= 1  # the replay itself was dropped by its token
