"""Action v1 records as the engine builds them: a blank action, the next version, history reads.

Shared by the triggers and the clock (engine.py) and the commands (commands.py); the fields are
those of schemas/action.py and docs/actions.md.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from schemas import action as contract
from schemas.feedback_event import format_timestamp

SYSTEM: Final = "pxstream"
_REARMS_REMINDER: Final = frozenset({"create", "extend", "reopen"})


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with an offset → aware datetime; None when absent or not such a time."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def blank_action(
    action_id: str,
    rule_id: str,
    title: str,
    owner: str,
    organisations: list[str],
    facts: Mapping[str, Any],
    trigger: dict[str, Any],
    now: datetime,
    due: datetime,
) -> dict[str, Any]:
    domains = facts.get("domain") or []
    return {
        "action_id": action_id,
        "version": 1,
        "rule_id": rule_id,
        "title": title,
        "status": contract.OPEN,
        "overdue": False,
        "escalation_level": 0,
        "owner": owner,
        "notify": owner,
        "organisations": organisations,
        "provider": facts.get("provider"),
        "site": facts.get("site"),
        "ward": facts.get("ward"),
        "source": facts.get("source"),
        "domains": list(domains) if isinstance(domains, list | tuple) else [domains],
        "trigger": trigger,
        "created_at": format_timestamp(now),
        "due_at": format_timestamp(due),
        "completed_at": None,
        "outcome": None,
        "history": [],
    }


def next_version(action: Mapping[str, Any]) -> dict[str, Any]:
    new = dict(action)
    new["history"] = copy.copy(list(action["history"]))
    new["version"] = int(action["version"]) + 1
    return new


def entry_time(entry: Mapping[str, Any]) -> datetime:
    return parse_time(entry["at"]) or datetime.min.replace(tzinfo=UTC)


def reminded(action: Mapping[str, Any]) -> bool:
    """Whether a reminder went out since the due date was last set (created, extended, reopened)."""
    for entry in reversed(action["history"]):
        if entry["change"] == "remind":
            return True
        if entry["change"] in _REARMS_REMINDER:
            return False
    return False


def open_alert(action: Mapping[str, Any]) -> str:
    """The kind of notification the action has open now ("overdue", "due" or "none")."""
    for entry in reversed(action["history"]):
        if "alert" in entry:
            return str(entry["alert"])
    return "none"
