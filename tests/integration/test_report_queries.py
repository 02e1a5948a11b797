"""The monthly report's queries (grafana/report/data.py, the one report-query layer) against the
real engine, seeded through the sink's own writer (tests/support/seeded_clickhouse.py):
per-organisation counts, multi-domain events under each of their domains, episodes in their latest
state, month-on-month changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from grafana.report.data import MonthData, load_month
from schemas.month import Month
from sinks.rows import ALERT_COLUMNS, ColumnBatch, Position, alert_row
from sinks.writer import ClickHouseWriter
from tests.support.seeded_clickhouse import seeded_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def client(tmp_path):
    ch = seeded_engine(tmp_path / "ch")
    yield ch
    ch.close()


MARCH = Month.parse("2026-03")


def march(client, organisation: str = "ORG1") -> MonthData:
    return load_month(client, organisation, MARCH, today=date(2026, 4, 2))


def test_counts_of_the_month_and_the_one_before(client):
    data = march(client)
    assert (data.events, data.events_previous) == (8, 4)  # q-4..11; q-0..3 (q-12 is ORG2's)
    assert (data.negative, data.negative_previous) == (4, 2)  # q-5, 7, 9, 11; q-1, 3
    assert data.by_source == {"complaint": (4, 2), "fft": (4, 2)}


def test_an_event_with_two_domains_counts_under_each(client):
    by_domain = march(client).by_domain
    assert by_domain["access_and_waiting"] == (2, 4)  # q-4 and q-11; q-0..3
    assert by_domain["safe_high_quality_care"] == (1, 0)  # q-11 (q-12 is ORG2's)
    assert {d: v for d, v in by_domain.items() if v != (0, 0)}.keys() == {
        "access_and_waiting",
        "safe_high_quality_care",
    }
    assert march(client, "ORG2").by_domain["safe_high_quality_care"] == (1, 0)  # q-12 alone


def test_top_themes(client):
    assert march(client).themes == [("waiting", 8, 4, 4), ("staff_attitude", 2, 2, 1)]
    assert march(client, "ORG2").themes == [("staff_attitude", 1, 0, 0), ("waiting", 1, 0, 0)]


def test_weekly_negative_series_spans_the_organisations_feedback(client):
    data = march(client)
    last_day = date(2026, 3, 31)
    assert data.period_ends == [last_day - timedelta(days=7 * back) for back in range(7, -1, -1)]
    assert data.period_ends[0] == date(2026, 2, 10)  # the first period with ORG1's feedback
    assert data.weekly_negative["access_and_waiting"] == [2, 0, 0, 0, 1, 0, 0, 0]  # q-1, q-3; q-11
    assert data.weekly_negative["safe_high_quality_care"] == [0, 0, 0, 0, 1, 0, 0, 0]  # q-11


def test_hotspot_episodes_are_in_their_latest_state(client):
    (episode,) = march(client).episodes
    assert (episode["alert_id"], episode["status"], episode["ward"]) == ("ep-1", "resolved", "Ward B")
    assert episode["resolved_at"] == datetime(2026, 3, 5, 1, 0)
    assert march(client, "ORG2").episodes == []


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
        episodes = march(client, organisation).episodes
        assert [e["alert_id"] for e in episodes] == expected, organisation


def test_biggest_changes_month_on_month(client):
    data = march(client)
    assert data.wards_changed == [("RX2", "Ward B", 7, 0), ("RX1", "Ward A", 1, 4)]
    assert data.providers_changed == [("RX2", 7, 0), ("RX1", 1, 4)]
