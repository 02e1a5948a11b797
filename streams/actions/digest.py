"""Lists and the weekly digest per owner, from Action v1 records (pure: no Kafka, no clock).

People asked for what the systems they use today send (docs/actions.md, "Digest"): a weekly
"outstanding tasks" e-mail per person, and one per manager for the team's overdue items. So the
digest for an owner has: overdue, due this week, the rest of the open ones, and what has been
escalated to them from others' actions. Text for a terminal or a mail body; HTML for a mail.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from schemas import action as contract
from streams.actions.calendar import LONDON
from streams.actions.engine import parse_time


def select(
    actions: Iterable[Mapping[str, Any]],
    *,
    status: str | None = None,
    owner: str | None = None,
    overdue: bool | None = None,
    organisation: str | None = None,
) -> list[Mapping[str, Any]]:
    """The actions that pass every filter given, soonest due first."""
    chosen = [
        a
        for a in actions
        if (status is None or a.get("status") == status)
        and (owner is None or a.get("owner") == owner)
        and (overdue is None or bool(a.get("overdue")) == overdue)
        and (organisation is None or organisation in (a.get("organisations") or []))
    ]
    return sorted(chosen, key=lambda a: (str(a.get("due_at")), str(a.get("action_id"))))


def end_of_week(now: datetime) -> datetime:
    """The end of Sunday of `now`'s week in Europe/London (a digest's "this week")."""
    local = now.astimezone(LONDON)
    sunday = local.date() + timedelta(days=6 - local.weekday())
    return datetime.combine(sunday, time(23, 59, 59), LONDON)


@dataclass
class Digest:
    owner: str
    now: datetime
    overdue: list[Mapping[str, Any]] = field(default_factory=list)
    due_this_week: list[Mapping[str, Any]] = field(default_factory=list)
    open: list[Mapping[str, Any]] = field(default_factory=list)
    escalated_to_you: list[Mapping[str, Any]] = field(default_factory=list)

    def sections(self) -> list[tuple[str, list[Mapping[str, Any]]]]:
        return [
            ("Overdue", self.overdue),
            ("Due this week", self.due_this_week),
            ("Open, due later", self.open),
            ("Escalated to you", self.escalated_to_you),
        ]


def build_digest(actions: Iterable[Mapping[str, Any]], owner: str, now: datetime) -> Digest:
    digest = Digest(owner=owner, now=now)
    week_end = end_of_week(now)
    for action in select(actions):
        if action.get("status") not in contract.ACTIVE_STATUSES:
            continue
        due = parse_time(action.get("due_at"))
        late = bool(action.get("overdue")) or (due is not None and due < now)
        if action.get("owner") == owner:
            if late:
                digest.overdue.append(action)
            elif due is not None and due <= week_end:
                digest.due_this_week.append(action)
            else:
                digest.open.append(action)
        elif action.get("notify") == owner:
            digest.escalated_to_you.append(action)
    return digest


def line(action: Mapping[str, Any]) -> str:
    where = " · ".join(str(action[k]) for k in ("provider", "ward") if action.get(k))
    flag = " OVERDUE" if action.get("overdue") else ""
    return (
        f"{action['action_id']}  {action['status']:<12} due {action['due_at']}{flag}  "
        f"{action['owner']}→{action.get('notify')} (level {action.get('escalation_level', 0)})  "
        f"{action['title'][:80]}  [{where}]"
    )


def render_text(digest: Digest) -> str:
    lines = [f"Actions for {digest.owner} — {digest.now.astimezone(LONDON):%A %d %B %Y %H:%M}"]
    for title, items in digest.sections():
        lines += ["", f"{title} ({len(items)})"]
        lines += [f"  {line(a)}" for a in items] or ["  none"]
    return "\n".join(lines) + "\n"


def render_html(digest: Digest) -> str:
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Actions for {esc(digest.owner)}</title></head><body>",
        f"<h1>Actions for {esc(digest.owner)}</h1>",
        f"<p>{esc(f'{digest.now.astimezone(LONDON):%A %d %B %Y %H:%M}')}</p>",
    ]
    for title, items in digest.sections():
        parts.append(f"<h2>{esc(title)} ({len(items)})</h2>")
        if not items:
            parts.append("<p>none</p>")
            continue
        parts.append(
            "<table><tr><th>due</th><th>action</th><th>where</th><th>status</th><th>chasing</th></tr>"
        )
        for a in items:
            where = " · ".join(str(a[k]) for k in ("provider", "ward") if a.get(k))
            parts.append(
                f"<tr><td>{esc(str(a['due_at']))}</td><td>{esc(str(a['title']))}<br><small>"
                f"{esc(str(a['action_id']))}</small></td><td>{esc(where)}</td><td>{esc(str(a['status']))}"
                f"{' (overdue)' if a.get('overdue') else ''}</td><td>{esc(str(a.get('notify')))}</td></tr>"
            )
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
