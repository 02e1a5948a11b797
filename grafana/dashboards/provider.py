"""Provider overview: one trust or practice, its wards side by side, for the patient-experience lead."""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql

UID = "pxstream-provider"
EVENTS = f"{_sql.ORG} AND {_sql.ONE_PROVIDER} AND {_sql.WARDS}"


def variables() -> list[dict]:
    ward_sql = (
        f"SELECT DISTINCT ward FROM feedback_daily\nWHERE {_sql.ORG} AND {_sql.ONE_PROVIDER} ORDER BY ward"
    )
    return [
        b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION),
        b.query_variable("provider", "Provider", _sql.VAR_PROVIDER),
        b.query_variable("ward", "Ward", ward_sql, multi=True, include_all=True),
    ]


def total_events(pos: dict) -> dict:
    sql = f"SELECT count() AS events FROM feedback_events FINAL WHERE {EVENTS} AND $__timeFilter(occurred_at)"
    return b.stat("Feedback received", pos, b.sql_target(sql))


def negative_share(pos: dict) -> dict:
    sql = f"""
SELECT if(count() = 0, 0, countIf({_sql.NEGATIVE_EVENT}) / count()) AS negative_share
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at)
"""
    return b.stat(
        "Negative share", pos, b.sql_target(sql), unit=style.UNIT_RATIO, steps=style.NEGATIVE_SHARE_STEPS
    )


def open_hotspots(pos: dict) -> dict:
    sql = f"""
SELECT count() AS open_hotspots
FROM hotspot_alerts FINAL
WHERE {_sql.ALERT_ORG} AND {_sql.ONE_PROVIDER} AND status = 'firing'
"""
    return b.stat("Open hotspots", pos, b.sql_target(sql), steps=style.HOTSPOT_STEPS)


def by_domain_over_time(pos: dict) -> dict:
    sql = f"""
SELECT
  day AS time,
  {_sql.domain_columns("sumIf", "events")}
FROM feedback_daily
WHERE {EVENTS} AND {_sql.DAYS_IN_RANGE}
GROUP BY time
ORDER BY time
"""
    return b.timeseries(
        "Feedback by domain per day",
        pos,
        [b.sql_target(sql, time_series=True)],
        overrides=style.domain_overrides(),
    )


def by_source(pos: dict) -> dict:
    sql = f"""
SELECT source, count() AS events
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at)
GROUP BY source
ORDER BY events DESC, source
"""
    return b.bar_chart("Feedback by source", pos, b.sql_target(sql), stacked=False)


def ward_domain_heat(pos: dict) -> dict:
    sql = f"""
SELECT
  ward,
  {_sql.domain_columns("sumIf", "negative")},
  sum(negative) AS total
FROM feedback_daily
WHERE {EVENTS} AND {_sql.DAYS_IN_RANGE} AND domain != ''
GROUP BY ward
ORDER BY total DESC, ward
"""
    return b.table(
        "Negative feedback: ward × domain",
        pos,
        b.sql_target(sql),
        description="Negative feedback per ward and domain (an event with two domains counts in each).",
        overrides=[
            b.colour_cells_override(
                "^(?!ward$|total$).*", [(None, "transparent"), (1, style.WARN), (5, style.BAD)]
            )
        ],
    )


def recent_negative(pos: dict) -> dict:
    sql = f"""
SELECT
  occurred_at AS time,
  ward,
  source,
  arrayStringConcat(arrayMap(d -> {_sql.domain_label("d")}, domains), ', ') AS domains,
  text AS feedback
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at) AND {_sql.NEGATIVE_EVENT}
ORDER BY occurred_at DESC
LIMIT 50
"""
    return b.table(
        "Latest negative feedback (redacted)",
        pos,
        b.sql_target(sql),
        overrides=[b.wrap_override("feedback"), b.width_override("time", 170)],
    )


def build() -> dict:
    panels = [
        total_events(b.grid(0, 0, 8, 4)),
        negative_share(b.grid(8, 0, 8, 4)),
        open_hotspots(b.grid(16, 0, 8, 4)),
        by_domain_over_time(b.grid(0, 4, 16, 9)),
        by_source(b.grid(16, 4, 8, 9)),
        ward_domain_heat(b.grid(0, 13, 24, 8)),
        recent_negative(b.grid(0, 21, 24, 10)),
    ]
    return b.dashboard(
        uid=UID,
        title="Provider overview",
        description="One provider: volume, negative share, hotspots, wards by domain, latest concerns.",
        panels=panels,
        variables=variables(),
    )
