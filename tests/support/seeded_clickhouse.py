"""A small stored data set for tests that read ClickHouse as the report and the owners' page do.

Two organisations; events of February and March 2026 (one with two domains, one with none); one
hotspot episode stored as firing then resolved. Written through the sink's own writer, so the
rollups hold what the sink would have made of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sinks.client import connect
from sinks.rows import ALERT_COLUMNS, EVENT_COLUMNS, ColumnBatch, Position, alert_row, event_row
from sinks.schema import ensure_schema
from sinks.writer import ClickHouseWriter


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


def seeded_engine(path: Path) -> Any:
    """A migrated embedded engine at `path` holding the data set; the caller closes it."""
    ch = connect(f"chdb://{path}")
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
    return ch
