"""Action v1 records (the `actions` topic) → `action_history` rows (sinks/migrations/0010_actions.sql).

Every record is one version of one action, the whole state after a change; it becomes one row
with that state and the history entry that made it. The `actions` table (latest state) is
filled from these rows by a materialized view, so the sink writes one table per topic like the
others and the same batch discipline (journal, de-duplication token) covers both tables.

Text columns (title, outcome, note, changed_by) arrive redacted by the actions stage; they are
bounded here again so one oversized record cannot bloat a part. Refusals name the field, never
its value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from schemas.action import ACTION_FIELDS, STATUSES
from sinks.rows import Position, RefusedRecord, _strings, _text, to_millis

# Action v1's fields as columns (schemas.action): `trigger` becomes its kind and ids, `history` the
# entry that made this version; `history_id` first (the batch's de-duplication key) and the
# delivery columns last, `kafka_offset` at the very end (the ColumnBatch keeps the latest delivery).
_EXPANDED: Final[Mapping[str, tuple[str, ...]]] = {
    "trigger": ("trigger_kind", "trigger_event_id", "trigger_alert_id"),
    "history": ("change", "changed_at", "changed_by", "note"),
}
ACTION_HISTORY_COLUMNS: Final[tuple[str, ...]] = (
    "history_id",
    *(column for name in ACTION_FIELDS for column in _EXPANDED.get(name, (name,))),
    "kafka_topic",
    "kafka_partition",
    "ingested_at",
    "kafka_offset",
)
MAX_TEXT: Final = 10_000
MAX_SHORT: Final = 200
# A manual action (command) may link an alert as well: it is still a manual action.
_TRIGGER_KINDS: Final = (("command_id", "command"), ("event_id", "event"), ("alert_id", "alert"))


def _bounded(record: dict[str, Any], name: str, limit: int = MAX_SHORT) -> str:
    return _text(record, name)[:limit]


def _trigger(record: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, event id, alert id); a manual action linked to a hotspot carries its alert id too."""
    trigger = record.get("trigger") if isinstance(record.get("trigger"), dict) else {}
    kind = next((kind for key, kind in _TRIGGER_KINDS if isinstance(trigger.get(key), str)), "")
    return kind, _bounded(trigger, "event_id"), _bounded(trigger, "alert_id")


def action_history_row(record: dict[str, Any], position: Position, ingested_ms: int) -> tuple[Any, ...]:
    """One `action_history` row, in ACTION_HISTORY_COLUMNS order; raises RefusedRecord."""
    action_id = record.get("action_id")
    if not isinstance(action_id, str) or not 1 <= len(action_id) <= 128:
        raise RefusedRecord("invalid_field", "action_id missing")
    version = record.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**32:
        raise RefusedRecord("invalid_field", "version is not a positive integer")
    status = record.get("status")
    if status not in STATUSES:
        raise RefusedRecord("invalid_field", "status is not an Action v1 status")
    organisations = _strings(record.get("organisations"))
    if not organisations:
        raise RefusedRecord("invalid_field", "organisations is empty: nobody could see the action")
    history = record.get("history")
    last = history[-1] if isinstance(history, list) and history and isinstance(history[-1], dict) else {}
    level = record.get("escalation_level", 0)
    completed = record.get("completed_at")
    created = to_millis(record.get("created_at"), "created_at")
    return (
        f"{action_id}@{version}",
        action_id,
        version,
        _bounded(record, "rule_id"),
        _bounded(record, "title"),
        status,
        record.get("overdue") is True,
        max(0, min(level, 255)) if isinstance(level, int) else 0,
        _bounded(record, "owner"),
        _bounded(record, "notify"),
        [o[:MAX_SHORT] for o in organisations[:100]],
        _bounded(record, "provider"),
        _bounded(record, "site"),
        _bounded(record, "ward"),
        _bounded(record, "source"),
        [d[:MAX_SHORT] for d in _strings(record.get("domains"))[:10]],
        *_trigger(record),
        created,
        to_millis(record.get("due_at"), "due_at"),
        to_millis(completed, "completed_at") if completed else None,
        _bounded(record, "outcome", MAX_TEXT),
        _bounded(last, "change"),
        to_millis(last["at"], "history.at") if isinstance(last.get("at"), str) else created,
        _bounded(last, "by"),
        _bounded(last, "note", MAX_TEXT),
        position.topic,
        position.partition,
        ingested_ms,
        position.offset,
    )
