"""Commissioner (CCG/ICB) overview: every provider of one organisation on one page."""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql

UID = "pxstream-commissioner"


def variables() -> list[dict]:
    return [b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION)]


def headline(title: str, pos: dict, sql: str, **kw) -> dict:
    return b.stat(title, pos, b.sql_target(sql), **kw)


def headlines(y: int) -> list[dict]:
    events = f"FROM feedback_events FINAL WHERE {_sql.ORG} AND $__timeFilter(occurred_at)"
    return [
        headline("Feedback received", b.grid(0, y, 6, 4), f"SELECT count() AS events {events}"),
        headline(
            "Negative share",
            b.grid(6, y, 6, 4),
            f"SELECT if(count() = 0, 0, countIf({_sql.NEGATIVE_EVENT}) / count()) AS negative_share {events}",
            unit=style.UNIT_RATIO,
            steps=style.NEGATIVE_SHARE_STEPS,
        ),
        headline(
            "Providers with feedback",
            b.grid(12, y, 6, 4),
            f"SELECT uniqExact(provider) AS providers {events}",
        ),
        headline(
            "Open hotspots",
            b.grid(18, y, 6, 4),
            "SELECT count() AS open_hotspots FROM hotspot_alerts FINAL\n"
            f"WHERE {_sql.ALERT_ORG} AND status = 'firing'",
            steps=style.HOTSPOT_STEPS,
        ),
    ]


def providers_table(pos: dict) -> dict:
    sql = f"""
SELECT
  e.provider AS provider,
  e.events AS events,
  e.negative AS negative,
  round(e.negative / e.events, 3) AS negative_share,
  ifNull(h.open_hotspots, 0) AS open_hotspots
FROM (
  SELECT provider, count() AS events, countIf({_sql.NEGATIVE_EVENT}) AS negative
  FROM feedback_events FINAL
  WHERE {_sql.ORG} AND $__timeFilter(occurred_at)
  GROUP BY provider
) AS e
LEFT JOIN (
  SELECT provider, count() AS open_hotspots
  FROM hotspot_alerts FINAL
  WHERE {_sql.ALERT_ORG} AND status = 'firing'
  GROUP BY provider
) AS h ON h.provider = e.provider
ORDER BY open_hotspots DESC, negative DESC, provider
SETTINGS join_use_nulls = 1
"""
    link = (
        "/d/pxstream-provider?var-organisation=${organisation}"
        "&var-provider=${__value.raw}&${__url_time_range}"
    )
    return b.table(
        "Providers",
        pos,
        b.sql_target(sql),
        overrides=[
            b.link_override("provider", "Open provider overview", link),
            b.colour_cells_override("^open_hotspots$", style.HOTSPOT_STEPS),
            b.colour_cells_override("^negative_share$", style.NEGATIVE_SHARE_STEPS),
            {
                "matcher": {"id": "byName", "options": "negative_share"},
                "properties": [{"id": "unit", "value": style.UNIT_RATIO}],
            },
        ],
    )


def provider_domain_bars(pos: dict) -> dict:
    sql = f"""
SELECT
  provider,
  {_sql.domain_columns("sumIf", "negative")}
FROM feedback_daily
WHERE {_sql.ORG} AND {_sql.DAYS_IN_RANGE} AND domain != ''
GROUP BY provider
ORDER BY sum(negative) DESC, provider
LIMIT 15
"""
    return b.bar_chart(
        "Negative feedback by provider and domain", pos, b.sql_target(sql), overrides=style.domain_overrides()
    )


def domain_trend(pos: dict) -> dict:
    sql = f"""
SELECT
  day AS time,
  {_sql.domain_columns("sumIf", "events")}
FROM feedback_daily
WHERE {_sql.ORG} AND {_sql.DAYS_IN_RANGE}
GROUP BY time
ORDER BY time
"""
    return b.timeseries(
        "Feedback by domain per day",
        pos,
        [b.sql_target(sql, time_series=True)],
        overrides=style.domain_overrides(),
    )


def build() -> dict:
    panels = [
        *headlines(0),
        providers_table(b.grid(0, 4, 12, 12)),
        provider_domain_bars(b.grid(12, 4, 12, 12)),
        domain_trend(b.grid(0, 16, 24, 9)),
    ]
    return b.dashboard(
        uid=UID,
        title="Commissioner overview",
        description="All providers of one commissioner: volume, negative share, open hotspots, domains.",
        panels=panels,
        variables=variables(),
    )
