"""What the owners' page templates show: the list of my actions and one action, from Action v1.

Pure functions of the actions, the clock and the page's configuration, so the routes
(owners_page.py) only check who is asking and render (docs/owners-page.md).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from pxstream.web.actions_requests import Problem
from pxstream.web.owners_evidence import Evidence
from pxstream.web.owners_format import CHANGE_LABELS, STATUS_LABELS, due_of, plain_at, sort_for_owner
from pxstream.web.owners_forms import FIELD_OF, FORM_CHANGES
from schemas.action import ACTIVE_STATUSES, STATUSES, change_allowed
from streams.actions.calendar import LONDON

if TYPE_CHECKING:
    from pxstream.web.owners_page import OwnersPageConfig

MAX_FILTER: Final = 200


def list_context(
    own: Sequence[Mapping[str, Any]], query: Mapping[str, str], now: datetime, config: OwnersPageConfig
) -> dict[str, Any]:
    """The list page's context: the owner's actions filtered by the query (status, provider, ward)."""
    status = query.get("status", "active")
    provider = query.get("provider", "")[:MAX_FILTER]
    ward = query.get("ward", "")[:MAX_FILTER]
    wanted = ACTIVE_STATUSES if status not in STATUSES else frozenset({status})
    shown = [
        a
        for a in own
        if a.get("status") in wanted
        and (not provider or a.get("provider") == provider)
        and (not ward or a.get("ward") == ward)
    ]
    rows = [
        {"action": a, "due": due_of(a, now, config.calendar), "status": STATUS_LABELS[a["status"]]}
        for a in sort_for_owner(shown)
    ]
    return {
        "rows": rows,
        "status_filter": "active" if status not in STATUSES else status,
        "provider": provider,
        "ward": ward,
        "statuses": [("active", "Open or acknowledged")] + [(s, STATUS_LABELS[s]) for s in STATUSES],
        "providers": sorted({str(a["provider"]) for a in own if a.get("provider")}),
        "wards": sorted({str(a["ward"]) for a in own if a.get("ward")}),
        "overdue": sum(1 for r in rows if r["due"].overdue),
    }


def action_context(
    config: OwnersPageConfig,
    action: Mapping[str, Any],
    now: datetime,
    evidence: Evidence | None,
    *,
    sent: str | None,
    problems: list[Problem] | None,
    open_form: str | None,
    values: Mapping[str, str] | None,
    message: str | None,
) -> dict[str, Any]:
    """The action page's context; each render gets a fresh form key (the change's idempotency key)."""
    trigger = action.get("trigger") or {}
    hotspot_link = None
    if trigger.get("alert_id"):
        query = urlencode({"var-alert_id": trigger["alert_id"]})
        hotspot_link = f"{config.grafana_url}{config.hotspot_dashboard_path}?{query}"
    errors = {FIELD_OF.get(p.path, p.path): p.message for p in problems or []}
    return {
        "action": action,
        "due": due_of(action, now, config.calendar),
        "status_label": STATUS_LABELS.get(str(action.get("status")), str(action.get("status"))),
        "chain": config.chain_for(action),
        "history": [
            {
                **entry,
                "label": CHANGE_LABELS.get(str(entry.get("change")), ""),
                "when": plain_at(entry["at"]),
            }
            for entry in reversed(action.get("history") or [])
        ],
        "created": plain_at(action.get("created_at")),
        "completed": plain_at(action.get("completed_at")),
        "trigger": trigger,
        "evidence": evidence,
        "hotspot_link": hotspot_link,
        "allowed": {change: change_allowed(change, str(action.get("status"))) for change in FORM_CHANGES},
        "form_key": secrets.token_urlsafe(16),
        "sent": sent,
        "sent_label": CHANGE_LABELS.get(sent or "", ""),
        "errors": errors,
        "open_form": open_form,
        "values": values or {},
        "message": message,
        "today": now.astimezone(LONDON).date().isoformat(),
    }
