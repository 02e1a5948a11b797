"""Hotspots: what fired, where, and the events behind each episode.

The uid `pxstream-hotspots` is a contract: Alertmanager's `dashboard` annotation links here.
Click an alert id in the episodes table and the "Contributing events" table shows the events of that
episode's group inside its window — every alert can be explained.
"""

from __future__ import annotations

from grafana import builders as b
from grafana import style
from grafana.dashboards import _sql

UID = "pxstream-hotspots"
ALERTS = f"{_sql.ALERT_ORG} AND {_sql.PROVIDERS}"


def variables() -> list[dict]:
    provider_sql = (
        "SELECT DISTINCT provider FROM hotspot_alerts\n"
        f"WHERE {_sql.ALERT_ORG} AND provider != '' ORDER BY provider"
    )
    return [
        b.query_variable("organisation", "Organisation", _sql.VAR_ORGANISATION),
        b.query_variable("provider", "Provider", provider_sql, multi=True, include_all=True),
        b.textbox_variable("alert", "Alert id (click one below)"),
    ]


def firing_now(pos: dict) -> dict:
    sql = f"SELECT count() AS firing FROM hotspot_alerts FINAL WHERE {ALERTS} AND status = 'firing'"
    return b.stat("Firing now", pos, b.sql_target(sql), steps=style.HOTSPOT_STEPS, value_size=64)


def episodes_in_range(pos: dict) -> dict:
    sql = f"SELECT count() AS episodes FROM hotspot_alerts FINAL WHERE {ALERTS} AND $__timeFilter(fired_at)"
    return b.stat("Episodes in range", pos, b.sql_target(sql), value_size=64)


def timeline(pos: dict) -> dict:
    sql = f"""
SELECT
  $__timeInterval(fired_at) AS time,
  countIf(severity = 'critical') AS critical,
  countIf(severity = 'warning') AS warning,
  countIf(severity NOT IN ('critical', 'warning')) AS info
FROM hotspot_alerts FINAL
WHERE {ALERTS} AND $__timeFilter(fired_at)
GROUP BY time
ORDER BY time
"""
    overrides = [
        {
            "matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"fixedColor": colour, "mode": "fixed"}}],
        }
        for name, colour in (("critical", style.BAD), ("warning", style.WARN), ("info", style.NHS_BLUE))
    ]
    return b.timeseries(
        "Hotspot episodes fired",
        pos,
        [b.sql_target(sql, time_series=True)],
        bars=True,
        stacked=True,
        overrides=overrides,
    )


def provider_domain_heatmap(pos: dict) -> dict:
    sql = f"""
SELECT
  provider,
  {_sql.domain_columns("countIf", "")},
  countIf(domain = '') AS `Any domain`
FROM hotspot_alerts FINAL
WHERE {ALERTS} AND $__timeFilter(fired_at)
GROUP BY provider
ORDER BY count() DESC, provider
"""
    return b.table(
        "Episodes: provider × domain",
        pos,
        b.sql_target(sql),
        description="'Any domain' counts episodes of rules that do not group by domain.",
        overrides=[
            b.colour_cells_override(
                "^(?!provider$).*", [(None, "transparent"), (1, style.WARN), (3, style.BAD)]
            )
        ],
    )


def episodes(pos: dict) -> dict:
    sql = f"""
SELECT
  alert_id,
  status,
  fired_at,
  resolved_at,
  rule_id,
  provider,
  ward,
  source,
  {_sql.domain_label()} AS domain,
  window_start,
  window_end,
  `count` AS events,
  threshold,
  severity,
  description,
  arrayStringConcat(organisations, ', ') AS shared_by
FROM hotspot_alerts FINAL
WHERE {ALERTS} AND $__timeFilter(fired_at)
ORDER BY status = 'firing' DESC, fired_at DESC
LIMIT 500
"""
    link = (
        "/d/pxstream-hotspots?var-organisation=${organisation}&var-alert=${__value.raw}&${__url_time_range}"
    )
    return b.table(
        "Episodes",
        pos,
        b.sql_target(sql),
        overrides=[
            b.link_override("alert_id", "Show the contributing events", link),
            b.value_colour_override("status", {"firing": style.BAD, "resolved": style.GOOD}),
        ],
    )


def contributing_events(pos: dict) -> dict:
    """This organisation's events of the alert's group inside its window (group fields are '' when
    not grouped by). Another organisation's events in a shared episode are theirs to see."""
    sql = f"""
SELECT
  e.occurred_at AS time,
  e.event_id AS event_id,
  e.source AS source,
  e.provider AS provider,
  e.ward AS ward,
  arrayStringConcat(arrayMap(d -> {_sql.domain_label("d")}, e.domains), ', ') AS domains,
  e.text AS feedback
FROM feedback_events AS e FINAL
CROSS JOIN (
  SELECT provider, site, ward, source, domain, window_start, window_end
  FROM hotspot_alerts FINAL
  WHERE alert_id = ${{alert:singlequote}} AND {_sql.ALERT_ORG}
) AS a
WHERE e.{_sql.ORG}
  AND e.occurred_at >= a.window_start AND e.occurred_at < a.window_end
  AND (a.provider = '' OR e.provider = a.provider)
  AND (a.site = '' OR e.site = a.site)
  AND (a.ward = '' OR e.ward = a.ward)
  AND (a.source = '' OR e.source = a.source)
  AND (a.domain = '' OR has(e.domains, a.domain))
ORDER BY e.occurred_at
LIMIT 1000
"""
    return b.table(
        "Contributing events for alert ${alert}",
        pos,
        b.sql_target(sql),
        no_value="Click an alert id in the Episodes table",
        overrides=[b.wrap_override("feedback"), b.width_override("time", 170)],
    )


def build() -> dict:
    panels = [
        firing_now(b.grid(0, 0, 6, 5)),
        episodes_in_range(b.grid(0, 5, 6, 4)),
        timeline(b.grid(6, 0, 18, 9)),
        provider_domain_heatmap(b.grid(0, 9, 24, 8)),
        episodes(b.grid(0, 17, 24, 10)),
        contributing_events(b.grid(0, 27, 24, 10)),
    ]
    return b.dashboard(
        uid=UID,
        title="Hotspots",
        description="Hotspot episodes: timeline, provider × domain, and the events behind each alert.",
        panels=panels,
        variables=variables(),
        time_from="now-7d",
        refresh=style.REFRESH_WALL,
        tags=["wall-screen"],
    )
