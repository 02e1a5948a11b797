"""Ward wall screen: one ward, in a public corridor, read from three metres.

Large tiles in the domain colours, the open hotspots in large type (green "No open hotspots" when
there are none), a 28-day trend and the latest positive comments — redacted by the stream before
they reached ClickHouse. "Today" and "this week" follow the end of the time range, so a screen left
running on `now` shows today, and the queries can be tested at a fixed time.
"""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql, actions

UID = "pxstream-ward"
WARD_FILTER = f"{_sql.ORG} AND {_sql.ONE_PROVIDER} AND {_sql.ONE_WARD}"
WARD_ALERTS = f"{_sql.ALERT_ORG} AND {_sql.ONE_PROVIDER} AND {_sql.ONE_WARD}"


def variables() -> list[dict]:
    return [
        b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION),
        b.query_variable("provider", "Provider", _sql.VAR_PROVIDER),
        b.query_variable("ward", "Ward", _sql.VAR_WARD_OF_PROVIDER),
    ]


def _domain_tiles(title: str, pos: dict, day_condition: str) -> dict:
    sql = f"""
SELECT
  {_sql.domain_columns("sumIf", "events")}
FROM feedback_daily
WHERE {WARD_FILTER}
  AND {day_condition}
"""
    return b.stat(
        title,
        pos,
        b.sql_target(sql),
        value_size=style.WALL_VALUE_SIZE,
        title_size=style.WALL_TITLE_SIZE,
        overrides=style.domain_overrides(),
        orientation="horizontal" if pos["w"] >= 20 else "vertical",
    )


def today_by_domain(pos: dict) -> dict:
    return _domain_tiles("Today", pos, "day = toDate($__toTime)")


def this_week_by_domain(pos: dict) -> dict:
    return _domain_tiles(
        "This week (from Monday)", pos, "day >= toMonday(toDate($__toTime)) AND day <= toDate($__toTime)"
    )


def open_hotspots(pos: dict) -> dict:
    sql = f"""
SELECT
  concat(description, if(domain = '', '', concat(' — ', {_sql.domain_label()}))) AS hotspot,
  `count` AS events
FROM hotspot_alerts FINAL
WHERE {WARD_ALERTS}
  AND status = 'firing'
ORDER BY fired_at DESC
LIMIT 4
"""
    return b.stat(
        "Open hotspots",
        pos,
        b.sql_target(sql),
        every_row=True,
        steps=style.HOTSPOT_STEPS,
        value_size=style.WALL_VALUE_SIZE,
        title_size=style.WALL_TITLE_SIZE,
        no_value="No open hotspots",
        description="Hotspot alerts for this ward that have fired and not yet resolved.",
    )


def trend_28_days(pos: dict) -> dict:
    sql = f"""
SELECT
  day AS time,
  {_sql.domain_columns("sumIf", "events")}
FROM feedback_daily
WHERE {WARD_FILTER}
  AND day > toDate($__toTime) - 28 AND day <= toDate($__toTime)
GROUP BY time
ORDER BY time WITH FILL FROM toDate($__toTime) - 27 TO toDate($__toTime) + 1
"""
    return b.timeseries(
        "Last 28 days by domain",
        pos,
        [b.sql_target(sql, time_series=True)],
        overrides=style.domain_overrides(),
        line_width=4,
    )


def positive_comments(pos: dict) -> dict:
    sql = f"""
SELECT
  occurred_at AS time,
  text AS comment
FROM feedback_events FINAL
WHERE {WARD_FILTER}
  AND {_sql.POSITIVE_EVENT}
  AND occurred_at > $__toTime - INTERVAL 28 DAY AND occurred_at <= $__toTime
ORDER BY occurred_at DESC
LIMIT 5
"""
    return b.table(
        "What patients said (latest positive comments)",
        pos,
        b.sql_target(sql),
        cell_height="lg",
        no_value="No comments yet",
        overrides=[b.wrap_override("comment"), b.width_override("time", 180)],
    )


def you_said_we_did(pos: dict) -> dict:
    """The ward's latest completed hotspot reviews and manual actions, with what changed.

    Acknowledgements of single complaints and incidents are case work about one person, so they
    stay off a screen in a public corridor; "you said" is the hotspot a review answered (its
    description), or the action's title. Outcomes are redacted by the actions stage.
    """
    sql = f"""
SELECT
  a.completed_at AS completed,
  if(h.description != '', h.description, a.title) AS `you said`,
  a.outcome AS `we did`
FROM actions AS a FINAL
LEFT JOIN (SELECT alert_id, any(description) AS description FROM hotspot_alerts GROUP BY alert_id) AS h
  ON a.trigger_alert_id = h.alert_id
WHERE {actions.ORG} AND a.provider = ${{provider:singlequote}} AND a.ward = ${{ward:singlequote}}
  AND a.status = 'completed' AND a.trigger_kind IN ('alert', 'command')
  AND a.completed_at > $__toTime - INTERVAL 90 DAY AND a.completed_at <= $__toTime
ORDER BY a.completed_at DESC
LIMIT 5
"""
    return b.table(
        "You said, we did",
        pos,
        b.sql_target(sql),
        cell_height="lg",
        no_value="Nothing completed yet",
        overrides=[
            b.wrap_override("you said"),
            b.wrap_override("we did"),
            b.width_override("completed", 180),
        ],
    )


def build() -> dict:
    panels = [
        today_by_domain(b.grid(0, 0, 12, 7)),
        this_week_by_domain(b.grid(12, 0, 12, 7)),
        open_hotspots(b.grid(0, 7, 24, 6)),
        trend_28_days(b.grid(0, 13, 12, 9)),
        positive_comments(b.grid(12, 13, 12, 9)),
        you_said_we_did(b.grid(0, 22, 24, 8)),
    ]
    return b.dashboard(
        uid=UID,
        title="Ward wall screen",
        description="Kiosk view of one ward: today's and this week's feedback, open hotspots, trend, praise, "
        "and what changed because of it.",
        panels=panels,
        variables=variables(),
        refresh=style.REFRESH_WALL,
        time_from="now-28d",
        tags=["wall-screen"],
        hide_time_picker=True,
    )
