"""Action v1 and the `actions.commands` format: the follow-up contract, written once.

The actions stage writes Action v1 records to `actions` and is their single writer; the HTTP API,
the owners' page and the command line only ever ask for a change by putting a command on
`actions.commands`. The sink, the API and the stage may not import each other, so the field list,
the statuses, which change each status allows and how an `action_id` is derived live here.

Identity: an action is derived from its rule and its trigger, so a trigger delivered twice (a
replay after `kill -9`, a re-sent event) makes one action. An event's identity is
(`organisation`, `event_id`): two organisations may use the same `event_id`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Final

# -- Action v1 ---------------------------------------------------------------------------------
OPEN: Final = "open"
ACKNOWLEDGED: Final = "acknowledged"
COMPLETED: Final = "completed"
CANCELLED: Final = "cancelled"
STATUSES: Final[tuple[str, ...]] = (OPEN, ACKNOWLEDGED, COMPLETED, CANCELLED)
ACTIVE_STATUSES: Final[frozenset[str]] = frozenset({OPEN, ACKNOWLEDGED})
MANUAL_RULE: Final = "manual"

ACTION_FIELDS: Final[tuple[str, ...]] = (
    "action_id",
    "version",
    "rule_id",
    "title",
    "status",
    "overdue",
    "escalation_level",
    "owner",
    "notify",
    "organisations",
    "provider",
    "site",
    "ward",
    "source",
    "domains",
    "trigger",
    "created_at",
    "due_at",
    "completed_at",
    "outcome",
    "history",
)
HISTORY_FIELDS: Final[tuple[str, ...]] = ("at", "by", "change", "note")
# Optional fields some history entries carry (docs/actions.md, "Action v1 and its history"):
# entries that change what Alertmanager should hold carry `alert` ("due", "overdue" or "none"),
# `notify`, `level` and `owner`; entries made by a command carry its `command_id`, which is how
# the stage applies a command once. Readers may ignore them.
HISTORY_EXTENSION_FIELDS: Final[tuple[str, ...]] = ("alert", "notify", "level", "owner", "command_id")
# Changes the stage itself records (by "pxstream"), beside the commands' CHANGES.
# `share`: a hotspot announced again with another organisation adds it to the review action.
SYSTEM_CHANGES: Final[tuple[str, ...]] = ("create", "remind", "overdue", "escalate", "share")

# -- actions.commands ----------------------------------------------------------------------------
# One JSON object per command, keyed by `action_id`:
#   {"command_id": str (unique; a retried request re-uses it, so the stage applies it once),
#    "action_id": str, "change": one of CHANGES, "by": str, "at": ISO 8601,
#    "organisation": str (the requester's tenant; the stage refuses a change to an action whose
#                         `organisations` do not include it),
#    "note"?: str, "owner"?: str (reassign), "due_at"?: ISO 8601 (extend),
#    "reason"?: str (extend, cancel), "outcome"?: str (complete)}
# A "create" command (a manual action) carries instead of a change's fields:
#   {"title": str, "due_at": ISO 8601, "owner"?: str, "provider"?: str, "site"?: str,
#    "ward"?: str, "links"?: {"event_ids": [str], "alert_id": str}}
# and its `action_id` is `action_id_for(MANUAL_RULE, "command", organisation, command_id)`.
CREATE: Final = "create"
ACKNOWLEDGE: Final = "acknowledge"
COMMENT: Final = "comment"
REASSIGN: Final = "reassign"
EXTEND: Final = "extend"
COMPLETE: Final = "complete"
REOPEN: Final = "reopen"
CANCEL: Final = "cancel"
CHANGES: Final[tuple[str, ...]] = (ACKNOWLEDGE, COMMENT, REASSIGN, EXTEND, COMPLETE, REOPEN, CANCEL)
COMMAND_FIELDS: Final[tuple[str, ...]] = (
    "command_id",
    "action_id",
    "change",
    "by",
    "at",
    "organisation",
    "note",
    "owner",
    "due_at",
    "reason",
    "outcome",
    "title",
    "provider",
    "site",
    "ward",
    "links",
)

# Which statuses each change may be applied in; any other is refused (HTTP 409).
ALLOWED_FROM: Final[Mapping[str, frozenset[str]]] = {
    ACKNOWLEDGE: frozenset({OPEN}),
    COMMENT: frozenset(STATUSES),
    REASSIGN: ACTIVE_STATUSES,
    EXTEND: ACTIVE_STATUSES,
    COMPLETE: ACTIVE_STATUSES,
    REOPEN: frozenset({COMPLETED, CANCELLED}),
    CANCEL: ACTIVE_STATUSES,
}
# Fields a change cannot do without (HTTP 400 names each one missing).
REQUIRED_FOR: Final[Mapping[str, tuple[str, ...]]] = {
    ACKNOWLEDGE: (),
    COMMENT: ("note",),
    REASSIGN: ("owner",),
    EXTEND: ("due_at", "reason"),
    COMPLETE: ("outcome",),
    REOPEN: (),
    CANCEL: ("reason",),
}

# -- Notifications (Alertmanager) ------------------------------------------------------------------
OVERDUE_ALERTNAME: Final = "PatientExperienceActionOverdue"
DUE_ALERTNAME: Final = "PatientExperienceActionDue"


def action_id_for(rule_id: str, trigger_kind: str, organisation: str, trigger_id: str) -> str:
    """The action's id from its rule and trigger: the same trigger always gives the same id.

    `trigger_kind` is "event", "alert" or "command" (a manual action). The organisation is part
    of an event's identity, so it is part of the id too; for an alert it is "" (alert ids are
    already global).
    """
    digest = hashlib.sha256("\x1f".join((rule_id, trigger_kind, organisation, trigger_id)).encode())
    return f"act-{digest.hexdigest()[:24]}"


def change_allowed(change: str, status: str) -> bool:
    """Whether `change` may be applied to an action in `status` (the API answers 409 when not)."""
    return status in ALLOWED_FROM.get(change, frozenset())
