"""Action v1 → `action_history` row: what is refused, what is bounded, which entry is the change."""

from __future__ import annotations

import pytest

from sinks.action_rows import ACTION_HISTORY_COLUMNS, action_history_row
from sinks.rows import Position, RefusedRecord

AT = Position("actions", 0, 41)
RECORD = {
    "action_id": "act-1",
    "version": 2,
    "rule_id": "manual",
    "title": "Review call bells",
    "status": "acknowledged",
    "overdue": True,
    "escalation_level": 300,
    "owner": "ward-7",
    "notify": "matron",
    "organisations": ["QWO"],
    "provider": None,
    "ward": "Ward 7",
    "domains": ["safe_high_quality_care"],
    "trigger": {"command_id": "cmd-1", "alert_id": "alert-1"},
    "created_at": "2026-12-01T09:00:00Z",
    "due_at": "2026-12-04T23:59:59Z",
    "completed_at": None,
    "outcome": None,
    "history": [
        {"at": "2026-12-01T09:00:00Z", "by": "pxstream", "change": "create", "note": None},
        {"at": "2026-12-02T10:00:00Z", "by": "matron", "change": "acknowledge", "note": "x" * 20_000},
    ],
}


def test_the_row_carries_the_state_and_the_change_that_made_it() -> None:
    row = dict(zip(ACTION_HISTORY_COLUMNS, action_history_row(RECORD, AT, 1), strict=True))
    assert row["history_id"] == "act-1@2" and row["kafka_offset"] == 41
    assert (row["trigger_kind"], row["trigger_alert_id"]) == ("command", "alert-1")
    assert (row["change"], row["changed_by"], len(row["note"])) == ("acknowledge", "matron", 10_000)
    assert row["escalation_level"] == 255 and row["overdue"] is True and row["provider"] == ""
    assert row["completed_at"] is None and row["changed_at"] == 1796205600000  # 2026-12-02T10:00Z


@pytest.mark.parametrize(
    "broken",
    [
        {"action_id": ""},
        {"version": 0},
        {"version": True},
        {"status": "done"},
        {"organisations": []},
        {"due_at": "next week"},
    ],
)
def test_a_record_that_is_not_action_v1_is_refused(broken) -> None:
    with pytest.raises(RefusedRecord) as refused:
        action_history_row({**RECORD, **broken}, AT, 1)
    assert refused.value.reason == "invalid_field"


def test_a_batch_of_action_versions_keeps_one_row_per_version() -> None:
    """A record delivered twice in one batch (a replay) is one row; each version is its own row."""
    from sinks.rows import ColumnBatch

    batch = ColumnBatch("action_history", ACTION_HISTORY_COLUMNS, "actions", 0)
    second = {**RECORD, "version": 3}
    for offset, record in enumerate((RECORD, RECORD, second), start=41):
        batch.add(offset, action_history_row(record, Position("actions", 0, offset), 1))
    assert sorted(row[0] for row in batch.unique_rows()) == ["act-1@2", "act-1@3"]
