# ruff: noqa: E501 — the pack's prose and markup read best unwrapped
"""The monthly pack's follow-up section: actions opened, completed, overdue, on time, and the
month's hotspots that nobody has closed an action on yet.

Read from `action_history` (every version the actions stage wrote) so the month is told as it
happened, not as it stands today: "completed" counts completions made in the month (even if the
action was reopened later), "overdue" is the state at the end of the month. "On time" follows
the Actions dashboard (grafana/dashboards/actions.py): of the actions first due in the month, not
cancelled, the share completed by that first due date. An action is its organisations' to see,
so every query filters on `has(organisations, …)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from grafana.report.html import table
from schemas.month import Month

ORG = "has(organisations, {org:String})"
ACTIVE = ("open", "acknowledged")


@dataclass
class ActionsMonth:
    opened: int = 0
    completed: int = 0
    overdue_at_end: int = 0
    due: int = 0  # first due in the month, not cancelled
    on_time: int = 0
    by_rule: list[tuple[str, int, int, int, int]] = field(
        default_factory=list
    )  # rule, opened, completed, due, on time
    hotspots_open: list[dict[str, Any]] = field(default_factory=list)  # episodes with no completed action

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None


def load_actions_month(
    client, organisation: str, month: Month, episodes: list[dict[str, Any]]
) -> ActionsMonth:
    """The month's follow-up figures; `episodes` are the month's hotspot episodes (MonthData.episodes)."""
    p = {
        "org": organisation,
        "start": datetime.combine(month.start, datetime.min.time()),
        "end": datetime.combine(month.end, datetime.min.time()),
    }
    in_month = "{start:DateTime64(3)} <= %s AND %s < {end:DateTime64(3)}"
    rows = client.query(
        f"""SELECT rule_id,
                   uniqExactIf(action_id, {in_month % ("created_at", "created_at")}) AS opened,
                   uniqExactIf(action_id, change = 'complete' AND {in_month % ("changed_at", "changed_at")}) AS completed
            FROM action_history FINAL WHERE {ORG} GROUP BY rule_id""",
        parameters=p,
    ).result_rows
    counts = {rule: (int(opened), int(completed)) for rule, opened, completed in rows}
    [[overdue]] = client.query(
        f"""SELECT countIf(status IN {ACTIVE} AND due_at < {{end:DateTime64(3)}}) FROM (
              SELECT action_id, argMax(status, version) AS status, argMax(due_at, version) AS due_at
              FROM action_history FINAL
              WHERE {ORG} AND changed_at < {{end:DateTime64(3)}}
              GROUP BY action_id)""",
        parameters=p,
    ).result_rows
    due_rows = client.query(
        f"""SELECT a.rule_id, count(), countIf(a.status = 'completed' AND a.completed_at <= f.first_due_at)
            FROM actions AS a FINAL
            INNER JOIN (
              SELECT action_id, argMin(due_at, version) AS first_due_at
              FROM action_history FINAL WHERE {ORG} GROUP BY action_id
            ) AS f ON a.action_id = f.action_id
            WHERE {ORG} AND a.status != 'cancelled' AND {in_month % ("f.first_due_at", "f.first_due_at")}
            GROUP BY a.rule_id""",
        parameters=p,
    ).result_rows
    due = {rule: (int(n), int(on_time)) for rule, n, on_time in due_rows}
    data = ActionsMonth(overdue_at_end=int(overdue))
    for rule in sorted(set(counts) | set(due)):
        opened, completed = counts.get(rule, (0, 0))
        n, on_time = due.get(rule, (0, 0))
        if opened or completed or n:
            data.by_rule.append((rule, opened, completed, n, on_time))
    data.opened = sum(r[1] for r in data.by_rule)
    data.completed = sum(r[2] for r in data.by_rule)
    data.due = sum(r[3] for r in data.by_rule)
    data.on_time = sum(r[4] for r in data.by_rule)
    data.hotspots_open = _hotspots_without_completed_action(client, p, episodes)
    return data


def _hotspots_without_completed_action(
    client, p: dict[str, Any], episodes: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The episodes no completed action answers, each with what its actions say today."""
    if not episodes:
        return []
    rows = client.query(
        f"""SELECT trigger_alert_id, countIf(status = 'completed'),
                   arrayStringConcat(arraySort(groupUniqArray(if(overdue AND status IN {ACTIVE}, 'overdue', status))), ', ')
            FROM actions FINAL
            WHERE {ORG} AND trigger_alert_id IN {{ids:Array(String)}}
            GROUP BY trigger_alert_id""",
        parameters={**p, "ids": [e["alert_id"] for e in episodes]},
    ).result_rows
    actions = {alert_id: (int(done), states) for alert_id, done, states in rows}
    return [
        {**episode, "actions": actions.get(episode["alert_id"], (0, "no action"))[1]}
        for episode in episodes
        if actions.get(episode["alert_id"], (0, ""))[0] == 0
    ]


def actions_section(data: ActionsMonth, month: Month) -> str:
    rate = data.on_time_rate
    cards = [
        (f"{data.opened:,}", "actions opened", ""),
        (f"{data.completed:,}", "actions completed", ""),
        (f"{data.overdue_at_end:,}", "overdue at the end of the month", "alert" if data.overdue_at_end else ""),
        ("—" if rate is None else f"{rate:.0%}", f"done by the first due date ({data.on_time:,} of {data.due:,} due)",
         "alert" if rate is not None and rate < 0.75 else ""),
    ]  # fmt: skip
    body = "".join(
        f'<div class="card {cls}"><div class="value">{value}</div><div class="label">{escape(label)}</div></div>'
        for value, label, cls in cards
    )
    rules = [
        [
            escape(rule),
            f"{opened:,}",
            f"{completed:,}",
            f"{due:,}",
            "—" if not due else f"{on_time / due:.0%}",
        ]
        for rule, opened, completed, due, on_time in data.by_rule
    ]
    hotspots = [
        [
            e["fired_at"].strftime("%d %b %H:%M") if e.get("fired_at") else "—",
            escape(e.get("description") or e.get("rule_id") or ""),
            escape(" / ".join(v for v in (e.get("provider"), e.get("ward")) if v) or "—"),
            escape(e["actions"]),
        ]
        for e in data.hotspots_open
    ]
    return (
        f"<section><h2>Follow-up: actions in {escape(month.label)}</h2>"
        f'<div class="cards">{body}</div>'
        + table(["Rule", "Opened", "Completed", "First due this month", "On time"], rules, {1, 2, 3, 4},
                empty="No actions this month.")
        + "<h3>Hotspots with no completed action yet</h3>"
        + table(["Fired", "Hotspot", "Where", "Its actions now"], hotspots,
                empty="Every hotspot this month has a completed action.")
        + '<p class="note">On time means completed by the first due date: an extension is kept with its reason '
        "but does not make a late action timely. Overdue is as it stood at the end of the month.</p></section>"
    )  # fmt: skip
