"""Themes and trends: the finer themes behind the domains, and how they move."""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql
from schemas.domains import DOMAIN_IDS, DOMAIN_SHORT_LABELS

UID = "pxstream-themes"
EVENTS = f"{_sql.ORG} AND {_sql.PROVIDERS} AND {_sql.DOMAIN_EVENTS}"


def variables() -> list[dict]:
    return [
        b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION),
        b.query_variable("provider", "Provider", _sql.VAR_PROVIDER, multi=True, include_all=True),
        b.custom_variable("domain", "Domain", {DOMAIN_SHORT_LABELS[d]: d for d in DOMAIN_IDS}),
    ]


def top_themes(pos: dict) -> dict:
    sql = f"""
SELECT
  theme,
  count() AS events,
  countIf({_sql.NEGATIVE_EVENT}) AS negative,
  round(avg(sentiment), 2) AS mean_sentiment,
  max(occurred_at) AS last_seen
FROM feedback_events FINAL
ARRAY JOIN themes AS theme
WHERE {EVENTS} AND $__timeFilter(occurred_at)
GROUP BY theme
ORDER BY events DESC, theme
LIMIT 25
"""
    return b.table(
        "Top themes",
        pos,
        b.sql_target(sql),
        overrides=[
            b.colour_cells_override("^negative$", [(None, "transparent"), (5, style.WARN), (20, style.BAD)])
        ],
    )


def themes_over_time(pos: dict) -> dict:
    sql = f"""
SELECT
  $__timeInterval(occurred_at) AS time,
  theme,
  count() AS events
FROM feedback_events FINAL
ARRAY JOIN themes AS theme
WHERE {EVENTS} AND $__timeFilter(occurred_at)
  AND theme IN (
    SELECT theme FROM feedback_events FINAL ARRAY JOIN themes AS theme
    WHERE {EVENTS} AND $__timeFilter(occurred_at)
    GROUP BY theme ORDER BY count() DESC, theme LIMIT 6
  )
GROUP BY time, theme
ORDER BY time, theme
"""
    return b.timeseries("Six largest themes over time", pos, [b.sql_target(sql, time_series=True)])


def domains_over_time(pos: dict) -> dict:
    sql = f"""
SELECT
  $__timeInterval(occurred_at) AS time,
  {_sql.domain_has_columns("countIf", "")}
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at)
GROUP BY time
ORDER BY time
"""
    return b.timeseries(
        "Feedback by domain", pos, [b.sql_target(sql, time_series=True)], overrides=style.domain_overrides()
    )


def sentiment_over_time(pos: dict) -> dict:
    sql = f"""
SELECT
  $__timeInterval(occurred_at) AS time,
  round(avg(sentiment), 3) AS mean_sentiment
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at)
GROUP BY time
ORDER BY time
"""
    return b.timeseries(
        "Mean sentiment (−1 … 1)", pos, [b.sql_target(sql, time_series=True)], unit=style.UNIT_SENTIMENT
    )


def sources_by_domain(pos: dict) -> dict:
    sql = f"""
SELECT
  source,
  {_sql.domain_has_columns("countIf", "")}
FROM feedback_events FINAL
WHERE {EVENTS} AND $__timeFilter(occurred_at)
GROUP BY source
ORDER BY count() DESC, source
"""
    return b.bar_chart("Sources by domain", pos, b.sql_target(sql), overrides=style.domain_overrides())


def build() -> dict:
    panels = [
        top_themes(b.grid(0, 0, 10, 12)),
        themes_over_time(b.grid(10, 0, 14, 12)),
        domains_over_time(b.grid(0, 12, 12, 9)),
        sentiment_over_time(b.grid(12, 12, 12, 9)),
        sources_by_domain(b.grid(0, 21, 24, 9)),
    ]
    return b.dashboard(
        uid=UID,
        title="Themes and trends",
        description="Themes behind the domains, their trend, sentiment and sources.",
        panels=panels,
        variables=variables(),
        time_from="now-90d",
    )
