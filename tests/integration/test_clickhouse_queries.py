"""The report's named queries against the real engine, seeded through the sink's own writer."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from sinks import queries
from sinks.client import connect
from sinks.exceptions import ConfigError
from sinks.rows import ALERT_COLUMNS, EVENT_COLUMNS, ColumnBatch, Position, alert_row, event_row
from sinks.schema import ensure_schema
from sinks.writer import ClickHouseWriter

pytestmark = pytest.mark.integration


def event(i: int, occurred: str, provider: str, ward: str, domains: list[str], org: str = "ORG1") -> dict:
    return {
        "event_id": f"q-{i}",
        "source": "complaint" if i % 2 else "fft",
        "occurred_at": occurred,
        "organisation": org,
        "provider": provider,
        "ward": ward,
        "text": "t",
        "domains": domains,
        "domain_scores": {},
        "themes": ["waiting", "staff_attitude"] if i % 3 == 0 else ["waiting"],
        "sentiment": -0.5 if i % 2 else 0.5,
        "evidence": [],
        "redactions": {},
        "tagger_version": "t",
    }


@pytest.fixture
def client(tmp_path):
    ch = connect(f"chdb://{tmp_path / 'ch'}")
    ensure_schema(ch)
    writer = ClickHouseWriter(ch, "q")
    events = (
        [event(i, "2026-02-10T10:00:00Z", "RX1", "Ward A", ["access_and_waiting"]) for i in range(0, 4)]
        + [event(i, "2026-03-03T10:00:00Z", "RX1", "Ward A", ["access_and_waiting"]) for i in range(4, 5)]
        + [event(i, "2026-03-04T11:00:00Z", "RX2", "Ward B", []) for i in range(5, 11)]
        + [
            event(
                11, "2026-03-05T09:00:00Z", "RX2", "Ward B", ["safe_high_quality_care", "access_and_waiting"]
            )
        ]
        + [event(12, "2026-03-05T09:00:00Z", "RX9", "Ward Z", ["safe_high_quality_care"], org="ORG2")]
    )
    batch = ColumnBatch("feedback_events", EVENT_COLUMNS, "t", 0)
    for offset, record in enumerate(events):
        batch.add(offset, event_row(record, Position("t", 0, offset), 0))
    alerts = ColumnBatch("hotspot_alerts", ALERT_COLUMNS, "a", 0)
    base = {
        "alert_id": "ep-1",
        "rule_id": "r",
        "group": {"organisation": "ORG1", "provider": "RX2", "ward": "Ward B"},
        "window_start": "2026-03-04T00:00:00Z",
        "window_end": "2026-03-05T00:00:00Z",
        "count": 6,
        "threshold": 5,
        "severity": "warning",
        "description": "d",
        "fired_at": "2026-03-04T11:00:00Z",
        "sample_event_ids": ["q-5"],
    }
    alerts.add(0, alert_row({**base, "status": "firing", "resolved_at": None}, Position("a", 0, 0), 0))
    alerts.add(
        1,
        alert_row(
            {**base, "status": "resolved", "resolved_at": "2026-03-05T01:00:00Z"}, Position("a", 0, 1), 0
        ),
    )
    writer.write_all([batch, alerts])
    yield ch
    ch.close()


def test_monthly_counts_by_domain_and_source(client):
    rows = queries.monthly_counts_by_domain_and_source(client, "2026-03", organisation="ORG1")
    counts = {(r["domain"], r["source"]): r["events"] for r in rows}
    assert counts == {
        ("access_and_waiting", "fft"): 1,  # q-4
        ("access_and_waiting", "complaint"): 1,  # q-11
        ("safe_high_quality_care", "complaint"): 1,  # q-11 counts under both of its domains
        ("", "complaint"): 3,  # q-5, 7, 9
        ("", "fft"): 3,  # q-6, 8, 10
    }
    assert (
        sum(r["events"] for r in queries.monthly_counts_by_domain_and_source(client, date(2026, 3, 20))) == 10
    )


def test_top_themes(client):
    rows = queries.top_themes(client, "2026-03", limit=1)
    assert rows[0]["theme"] == "waiting" and rows[0]["events"] == 9


def test_daily_series_by_domain_spans_the_month_range(client):
    rows = queries.daily_series_by_domain(client, "2026-02", "2026-03", organisation="ORG1")
    series = {(r["day"], r["domain"]): r["events"] for r in rows}
    assert series[(date(2026, 2, 10), "access_and_waiting")] == 4
    assert series[(date(2026, 3, 4), "")] == 6
    assert all(date(2026, 2, 1) <= day < date(2026, 4, 1) for day, _ in series)


def test_hotspot_episodes_are_in_their_latest_state(client):
    (episode,) = queries.hotspot_episodes(client, "2026-03")
    assert (episode["alert_id"], episode["status"], episode["ward"]) == ("ep-1", "resolved", "Ward B")
    assert episode["resolved_at"] == datetime(2026, 3, 5, 1, 0)
    assert queries.hotspot_episodes(client, "2026-03", organisation="ORG2") == []


def test_an_organisation_gets_the_episodes_its_events_counted_toward(client):
    """A rule grouped by provider and ward (no organisation in the group) that two organisations'
    events counted toward: each of them gets it, a third does not."""
    shared = {
        "alert_id": "ep-shared",
        "rule_id": "ward-incidents-24h",
        "status": "firing",
        "group": {"provider": "RX2", "ward": "Ward B"},
        "window_start": "2026-03-06T00:00:00Z",
        "window_end": "2026-03-07T00:00:00Z",
        "count": 5,
        "threshold": 5,
        "severity": "warning",
        "description": "d",
        "fired_at": "2026-03-06T11:00:00Z",
        "resolved_at": None,
        "sample_event_ids": [],
        "organisations": ["ORG1", "ORG2"],
    }
    batch = ColumnBatch("hotspot_alerts", ALERT_COLUMNS, "a", 0)
    batch.add(5, alert_row(shared, Position("a", 0, 5), 0))
    ClickHouseWriter(client, "q").write_all([batch])
    for organisation, expected in (("ORG1", ["ep-1", "ep-shared"]), ("ORG2", ["ep-shared"]), ("ORG3", [])):
        episodes = queries.hotspot_episodes(client, "2026-03", organisation=organisation)
        assert [e["alert_id"] for e in episodes] == expected, organisation


def test_biggest_changes_month_on_month(client):
    rows = queries.biggest_changes(client, "2026-03", level="ward", organisation="ORG1")
    assert [(r["provider"], r["ward"], r["events"], r["previous_events"], r["change"]) for r in rows] == [
        ("RX2", "Ward B", 7, 0, 7),
        ("RX1", "Ward A", 1, 4, -3),
    ]
    assert rows[1]["change_ratio"] == pytest.approx(-0.75)
    assert rows[0]["change_ratio"] is None


def test_bad_month_is_a_config_error(client):
    with pytest.raises(ConfigError):
        queries.top_themes(client, "March")
