"""Action v1 records as the actions stage writes them, for tests that stand in for the stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.feedback_event import format_timestamp as iso

NOW = datetime.now(UTC)


def action(action_id: str, organisations: list[str], *, version: int = 1, **fields: Any) -> dict[str, Any]:
    """An Action v1 as the stage writes it (the whole state)."""
    record = {
        "action_id": action_id,
        "version": version,
        "rule_id": "complaint-acknowledgement",
        "title": "Acknowledge the complaint and offer to discuss how it will be handled",
        "status": "open",
        "overdue": False,
        "escalation_level": 0,
        "owner": "r1a-ward-7",
        "notify": "r1a-ward-7",
        "organisations": organisations,
        "provider": "R1A",
        "site": "",
        "ward": "Ward 7",
        "source": "complaint",
        "domains": [],
        "trigger": {"event_id": f"ev-{action_id}"},
        "created_at": iso(NOW - timedelta(days=2)),
        "due_at": iso(NOW + timedelta(days=3)),
        "completed_at": None,
        "outcome": None,
        "history": [{"at": iso(NOW - timedelta(days=2)), "by": "pxstream", "change": "create", "note": ""}],
    }
    record.update(fields)
    return record
