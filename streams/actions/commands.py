"""`actions.commands` records applied to the action they name: check, refuse, or the next version.

A command id already in the action's history is not applied again (the state the stage rebuilds
from the `actions` topic carries it), and every field a command brings is bounded (docs/actions.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from schemas import action as contract
from schemas.feedback_event import format_timestamp
from streams.actions.records import blank_action, next_version, open_alert, parse_time

if TYPE_CHECKING:
    from streams.actions.engine import ActionEngine

MAX_HISTORY: Final = 1000  # a command beyond this is refused: every field is bounded
MAX_NOTE: Final = 4000
MAX_OUTCOME: Final = 10_000
MAX_SHORT: Final = 200


@dataclass(frozen=True)
class Applied:
    """What a command did: the new state, or why it was refused, or nothing (already applied)."""

    action: dict[str, Any] | None = None
    refused: str | None = None
    duplicate: bool = False


def apply_command(
    engine: ActionEngine, command: Mapping[str, Any], current: Mapping[str, Any] | None, now: datetime
) -> Applied:
    """Apply one `actions.commands` record to the action it names (schemas/action.py)."""
    problem = check_command(command)
    if problem:
        return Applied(refused=problem)
    change = command["change"]
    if change == contract.CREATE:
        return create_manual(engine, command, current, now)
    if current is None:
        return Applied(refused="unknown action")
    if command["organisation"] not in (current.get("organisations") or []):
        return Applied(refused="the action is not the requesting organisation's")
    if any(entry.get("command_id") == command["command_id"] for entry in current["history"]):
        return Applied(duplicate=True)
    if not contract.change_allowed(change, current["status"]):
        return Applied(refused=f"{change} is not allowed while the action is {current['status']}")
    if len(current["history"]) >= MAX_HISTORY:
        return Applied(refused=f"the action already has {MAX_HISTORY} history entries")
    # The requester's time, but never ahead of the stage's clock (it restarts the escalation clock).
    at = min(parse_time(command["at"]) or now, now)
    new = next_version(current)
    entry: dict[str, Any] = {
        "at": format_timestamp(at),
        "by": engine.redact(command["by"]),
        "change": change,
        "note": None,
        "command_id": command["command_id"],
    }
    note = command.get("note")
    if change == contract.ACKNOWLEDGE:
        new["status"] = contract.ACKNOWLEDGED
    elif change == contract.REASSIGN:
        new.update(owner=command["owner"], notify=command["owner"], escalation_level=0)
        kind = open_alert(current)
        entry.update(alert=kind, notify=command["owner"], level=0, owner=command["owner"])
        note = note or f"from {current['owner']}"
    elif change == contract.EXTEND:
        due = parse_time(command["due_at"])
        current_due = parse_time(current["due_at"])
        if due is None or (current_due is not None and due <= current_due):
            return Applied(refused="extend needs a due_at later than the current one")
        new.update(due_at=format_timestamp(due), overdue=False, escalation_level=0, notify=current["owner"])
        entry.update(alert="none", notify=current["owner"], level=0, owner=current["owner"])
        note = f"due {current['due_at']} → {format_timestamp(due)}: {command['reason']}"
    elif change == contract.COMPLETE:
        outcome = engine.redact(command["outcome"])
        new.update(
            status=contract.COMPLETED,
            completed_at=format_timestamp(at),
            outcome=outcome,
            overdue=False,
            notify=current["owner"],
        )
        entry.update(alert="none", notify=current["owner"], level=current["escalation_level"])
        entry["owner"] = current["owner"]
    elif change == contract.CANCEL:
        new.update(status=contract.CANCELLED, overdue=False, notify=current["owner"])
        entry.update(alert="none", notify=current["owner"], level=current["escalation_level"])
        entry["owner"] = current["owner"]
        note = command["reason"]
    elif change == contract.REOPEN:
        new.update(status=contract.OPEN, completed_at=None, outcome=None, escalation_level=0)
    entry["note"] = engine.redact(note) if note else None
    new["history"].append(entry)
    if change in (contract.REASSIGN, contract.EXTEND, contract.REOPEN):
        new = engine.tick(new, now) or new
    return Applied(action=new)


def create_manual(
    engine: ActionEngine, command: Mapping[str, Any], current: Mapping[str, Any] | None, now: datetime
) -> Applied:
    organisation = command["organisation"]
    expected = contract.action_id_for(contract.MANUAL_RULE, "command", organisation, command["command_id"])
    if command["action_id"] != expected:
        return Applied(refused="a create command's action_id must be action_id_for(manual, command, …)")
    if current is not None:
        return Applied(duplicate=True)
    due = parse_time(command.get("due_at"))
    if due is None or not isinstance(command.get("title"), str) or not command["title"].strip():
        return Applied(refused="create needs a title and a due_at")
    facts = {name: command.get(name) for name in ("provider", "site", "ward")}
    facts["organisation"] = organisation
    owner = command.get("owner") or engine.config.owner_for(facts).owner
    links = command.get("links") or {}
    trigger: dict[str, Any] = {"command_id": command["command_id"]}
    if isinstance(links, Mapping):
        if isinstance(links.get("alert_id"), str):
            trigger["alert_id"] = links["alert_id"][:MAX_SHORT]
        if isinstance(links.get("event_ids"), list):
            trigger["event_ids"] = [str(e)[:MAX_SHORT] for e in links["event_ids"][:100]]
    title = engine.redact(command["title"][:MAX_SHORT])
    action = blank_action(
        expected, contract.MANUAL_RULE, title, owner, [organisation], facts, trigger, now, due
    )
    action["history"].append(
        {
            "at": format_timestamp(parse_time(command["at"]) or now),
            "by": engine.redact(command["by"]),
            "change": "create",
            "note": None,
            "command_id": command["command_id"],
        }
    )
    return Applied(action=engine.tick(action, now) or action)


def check_command(command: Mapping[str, Any]) -> str | None:
    """The first problem with a command's shape, or None (the API checks first; this is the guard)."""
    if not isinstance(command, Mapping):
        return "not a JSON object"
    for name in ("command_id", "action_id", "change", "by", "at", "organisation"):
        value = command.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_SHORT:
            return f"{name} must be a string of 1–{MAX_SHORT} characters"
    change = command["change"]
    if change != contract.CREATE and change not in contract.CHANGES:
        return f"unknown change {change!r}"
    for name in contract.REQUIRED_FOR.get(change, ()):
        if not isinstance(command.get(name), str) or not command[name].strip():
            return f"{change} needs {name}"
    for name, limit in (
        ("note", MAX_NOTE),
        ("reason", MAX_NOTE),
        ("outcome", MAX_OUTCOME),
        ("owner", MAX_SHORT),
    ):
        value = command.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{name} must be a string of at most {limit} characters"
    return None
