"""Actions: who is following up what, what is overdue, and whether deadlines are met.

Reads `actions` (latest state per action) and `action_history` (every version), written by the
sink from the actions stage's `actions` topic (docs/actions-api.md). An action is visible to each
organisation in its `organisations`, so every query filters with `has(organisations, …)` besides
the row policies (sinks/migrations/0011_actions_row_policies.sql).

On time means done by the *first* due date: an extension needs a reason and is kept, but it does
not turn a late acknowledgement into a timely one (the complaint regulations' 3 working days run
from receipt). The cohort is the actions whose first due date falls in the time range, cancelled
ones left out; one still open past that date counts as late.
"""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql

UID = "pxstream-actions"
ORG = "has(organisations, ${organisation:singlequote})"
ACTIVE = "status IN ('open', 'acknowledged')"
# Every action whose first due date is in the range (not cancelled), with that date and whether
# it was completed by then: the on-time cohort, shared by the headline and the per-rule table.
DUE_IN_RANGE = f"""
SELECT
  a.rule_id AS rule_id,
  a.status = 'completed' AND a.completed_at <= f.first_due_at AS on_time
FROM actions AS a FINAL
INNER JOIN (
  SELECT action_id, argMin(due_at, version) AS first_due_at
  FROM action_history FINAL
  WHERE {ORG}
  GROUP BY action_id
) AS f ON a.action_id = f.action_id
WHERE {ORG} AND a.status != 'cancelled'
  AND f.first_due_at >= $__fromTime AND f.first_due_at <= $__toTime
"""
DAYS_TO_COMPLETE = "dateDiff('second', created_at, completed_at) / 86400"
ON_TIME_STEPS = [(None, style.BAD), (0.75, style.WARN), (0.95, style.GOOD)]
OVERDUE_STEPS = [(None, style.GOOD), (1, style.BAD)]


def variables() -> list[dict]:
    return [b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION)]


def open_now(pos: dict) -> dict:
    sql = f"SELECT countIf({ACTIVE}) AS open FROM actions FINAL WHERE {ORG}"
    return b.stat("Open now", pos, b.sql_target(sql), value_size=64)


def overdue_now(pos: dict) -> dict:
    sql = f"SELECT countIf(overdue AND {ACTIVE}) AS overdue FROM actions FINAL WHERE {ORG}"
    return b.stat("Overdue now", pos, b.sql_target(sql), steps=OVERDUE_STEPS, value_size=64)


def on_time_rate(pos: dict) -> dict:
    sql = f"SELECT if(count() = 0, NULL, countIf(on_time) / count()) AS on_time_rate FROM ({DUE_IN_RANGE})"
    return b.stat(
        "Done by the first due date",
        pos,
        b.sql_target(sql),
        unit=style.UNIT_RATIO,
        steps=ON_TIME_STEPS,
        no_value="Nothing due",
        value_size=64,
        description="Actions first due in the time range (not cancelled) that were completed by that date.",
    )


def median_days(pos: dict) -> dict:
    sql = f"""
SELECT if(count() = 0, NULL, round(median({DAYS_TO_COMPLETE}), 1)) AS median_days
FROM actions FINAL
WHERE {ORG} AND status = 'completed' AND $__timeFilter(completed_at)
"""
    return b.stat(
        "Median days to complete",
        pos,
        b.sql_target(sql),
        unit="d",
        no_value="None completed",
        value_size=64,
        description="From creation to completion, for actions completed in the time range.",
    )


def _open_by(title: str, pos: dict, columns: list[str]) -> dict:
    keys = ", ".join(columns)
    sql = f"""
SELECT
  {keys},
  count() AS open,
  countIf(overdue) AS overdue,
  max(escalation_level) AS highest_escalation
FROM actions FINAL
WHERE {ORG} AND {ACTIVE}
GROUP BY {keys}
ORDER BY overdue DESC, open DESC, {keys}
"""
    return b.table(
        title,
        pos,
        b.sql_target(sql),
        no_value="Nothing open",
        overrides=[b.colour_cells_override("^overdue$", OVERDUE_STEPS)],
    )


def open_by_owner(pos: dict) -> dict:
    return _open_by("Open and overdue by owner", pos, ["owner"])


def open_by_place(pos: dict) -> dict:
    return _open_by("Open and overdue by provider and ward", pos, ["provider", "ward"])


def on_time_by_rule(pos: dict) -> dict:
    sql = f"""
SELECT
  d.rule_id AS rule,
  d.due AS due,
  d.on_time AS on_time,
  d.due - d.on_time AS late,
  round(d.on_time / d.due, 3) AS on_time_rate,
  c.median_days AS median_days_to_complete
FROM (
  SELECT rule_id, count() AS due, countIf(on_time) AS on_time
  FROM ({DUE_IN_RANGE})
  GROUP BY rule_id
) AS d
LEFT JOIN (
  SELECT rule_id, round(median({DAYS_TO_COMPLETE}), 1) AS median_days
  FROM actions FINAL
  WHERE {ORG} AND status = 'completed' AND $__timeFilter(completed_at)
  GROUP BY rule_id
) AS c ON d.rule_id = c.rule_id
ORDER BY on_time_rate, rule
"""
    return b.table(
        "On time per rule (first due in range)",
        pos,
        b.sql_target(sql),
        no_value="Nothing due in this range",
        description="e.g. complaint-acknowledgement: complaints acknowledged within 3 working days.",
        overrides=[b.colour_cells_override("^on_time_rate$", ON_TIME_STEPS)],
    )


def open_actions(pos: dict) -> dict:
    sql = f"""
SELECT
  due_at,
  title,
  owner,
  notify AS chasing,
  escalation_level,
  status,
  overdue,
  provider,
  ward,
  rule_id AS rule,
  action_id
FROM actions FINAL
WHERE {ORG} AND {ACTIVE}
ORDER BY overdue DESC, due_at, action_id
LIMIT 500
"""
    return b.table(
        "Open actions (overdue first)",
        pos,
        b.sql_target(sql),
        no_value="Nothing open",
        overrides=[b.value_colour_override("overdue", {"true": style.BAD, "false": style.GOOD})],
    )


def build() -> dict:
    panels = [
        open_now(b.grid(0, 0, 6, 5)),
        overdue_now(b.grid(6, 0, 6, 5)),
        on_time_rate(b.grid(12, 0, 6, 5)),
        median_days(b.grid(18, 0, 6, 5)),
        open_by_owner(b.grid(0, 5, 12, 9)),
        open_by_place(b.grid(12, 5, 12, 9)),
        on_time_by_rule(b.grid(0, 14, 24, 7)),
        open_actions(b.grid(0, 21, 24, 10)),
    ]
    return b.dashboard(
        uid=UID,
        title="Actions",
        description="Follow-up actions: open and overdue by owner and ward, deadlines met per rule.",
        panels=panels,
        variables=variables(),
        time_from="now-30d",
    )
