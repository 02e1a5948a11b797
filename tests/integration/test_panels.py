# ruff: noqa: E501 — the seed data reads best as one row per line
"""Every panel's SQL, with Grafana's macros and variables substituted as the ClickHouse plugin does,
runs on the real ClickHouse engine (chDB) seeded through the sink's own migrations, and returns the
columns and values a person would read off the screen.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from grafana.dashboards import build_all
from sinks.client import connect
from sinks.schema import ensure_schema
from sinks.sql import run_query

pytestmark = pytest.mark.integration

T = datetime(2026, 3, 18, 15, 0, tzinfo=UTC)  # a Wednesday
FROM = T - timedelta(days=28)
INTERVAL_S = 86400
DASHBOARDS = build_all()
SAFE, REL, INFO, ACCESS, ENV = (
    "safe_high_quality_care",
    "building_better_relationships",
    "better_information_more_choice",
    "access_and_waiting",
    "clean_comfortable_place",
)
ALL_DOMAINS = [SAFE, REL, INFO, ACCESS, ENV]


# --- the ClickHouse plugin's macros and Grafana's variable formats -----------------------------------


def substitute(
    sql: str, variables: dict[str, str | list[str]], *, start=FROM, end=T, interval_s=INTERVAL_S
) -> str:
    """Expand the macros we use the way grafana-clickhouse-datasource v4 does (pkg/macros)."""
    from_ms, to_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    from_time = f"toDateTime(intDiv({from_ms},1000))"
    to_time = f"toDateTime(intDiv({to_ms},1000))"
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m[1].strip()} >= {from_time} AND {m[1].strip()} <= {to_time}",
        sql,
    )
    sql = re.sub(
        r"\$__timeInterval\(([^)]+)\)",
        lambda m: f"toStartOfInterval(toDateTime({m[1].strip()}), INTERVAL {interval_s} second)",
        sql,
    )
    sql = sql.replace("$__fromTime", from_time).replace("$__toTime", to_time)
    sql = sql.replace("$__interval_s", str(interval_s))

    def value(name: str, fmt: str | None) -> str:
        raw = variables[name]
        values = raw if isinstance(raw, list) else [raw]
        if fmt == "singlequote":
            return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
        if fmt is None:
            return ",".join(values)
        raise AssertionError(f"format {fmt} not handled by the test helper")

    sql = re.sub(r"\$\{(\w+)(?::(\w+))?\}", lambda m: value(m[1], m[2]), sql)
    sql = re.sub(r"\$(?!__)(\w+)", lambda m: value(m[1], None), sql)
    assert "$" not in sql, f"unsubstituted macro or variable in:\n{sql}"
    return sql


def test_substitute_expands_like_the_plugin():
    out = substitute(
        "WHERE $__timeFilter(occurred_at) AND p IN (${p:singlequote}) AND w = $w GROUP BY $__timeInterval(t)",
        {"p": ["A", "B's"], "w": "7"},
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 2, tzinfo=UTC),
        interval_s=60,
    )
    assert out == (
        "WHERE occurred_at >= toDateTime(intDiv(1767225600000,1000)) AND occurred_at <= "
        "toDateTime(intDiv(1767312000000,1000)) AND p IN ('A','B\\'s') AND w = 7 "
        "GROUP BY toStartOfInterval(toDateTime(t), INTERVAL 60 second)"
    )


# --- a known data set ---------------------------------------------------------------------------------

EVENT_COLUMNS = [
    "event_id", "source", "organisation", "provider", "site", "ward", "occurred_at", "received_at",
    "text", "domains", "themes", "sentiment", "rating", "version",
]  # fmt: skip


def _event(eid, when, ward, source, domains, sentiment, themes, text="[redacted]", *, org="QWE", provider="RX1",
           rating=None, version=1):  # fmt: skip
    return [
        eid,
        source,
        org,
        provider,
        "RX101",
        ward,
        when,
        when,
        text,
        domains,
        themes,
        sentiment,
        rating,
        version,
    ]


TODAY = T.replace(hour=0)
EVENTS = [
    _event("e1", TODAY.replace(hour=9), "Ward 7", "incident", [SAFE], -0.8, ["medication"]),
    _event(
        "e2",
        TODAY.replace(hour=10),
        "Ward 7",
        "complaint",
        [SAFE, REL],
        -0.5,
        ["medication", "staff_attitude"],
    ),
    _event(
        "e3",
        TODAY.replace(hour=11),
        "Ward 7",
        "fft",
        [REL],
        0.9,
        ["staff_attitude"],
        "The nurses were lovely",
        rating=1,
    ),
    _event("e4", datetime(2026, 3, 16, 12, tzinfo=UTC), "Ward 7", "pals", [ACCESS], -0.4, ["waiting"]),
    _event(
        "e5",
        datetime(2026, 3, 10, 8, tzinfo=UTC),
        "Ward 7",
        "fft",
        [ENV],
        0.6,
        ["cleanliness"],
        "Spotless ward",
    ),
    _event("e6", datetime(2026, 2, 25, 8, tzinfo=UTC), "Ward 7", "web_form", [], 0.0, []),
    _event(
        "e7", datetime(2026, 1, 1, 8, tzinfo=UTC), "Ward 7", "incident", [SAFE], -0.9, ["falls"]
    ),  # out of range
    _event("e8", TODAY.replace(hour=12), "Ward 9", "incident", [SAFE], -0.3, ["falls"]),
    _event(
        "e9", TODAY.replace(hour=12), "Ward 7", "incident", [SAFE], -0.9, ["falls"], org="ZZZ", provider="RY2"
    ),
]

ALERT_COLUMNS = [
    "alert_id", "rule_id", "status", "organisation", "provider", "site", "ward", "source", "domain",
    "window_start", "window_end", "count", "threshold", "severity", "description", "fired_at", "resolved_at",
    "version",
]  # fmt: skip
A1_DESCRIPTION = "Five or more incidents on one ward within 24 hours"
ALERTS = [
    ["a1", "ward-incidents-24h", "firing", "QWE", "RX1", "", "Ward 7", "", "", datetime(2026, 3, 17, 11, tzinfo=UTC),
     datetime(2026, 3, 18, 11, tzinfo=UTC), 5, 5.0, "warning", A1_DESCRIPTION, TODAY.replace(hour=10, minute=30),
     None, 1],
    ["a2", "provider-domain-spc", "firing", "QWE", "RX1", "", "", "", SAFE, datetime(2026, 3, 1, tzinfo=UTC),
     datetime(2026, 3, 2, tzinfo=UTC), 9, 4.0, "info", "Unusual day", datetime(2026, 3, 2, 1, tzinfo=UTC), None, 1],
    ["a2", "provider-domain-spc", "resolved", "QWE", "RX1", "", "", "", SAFE, datetime(2026, 3, 1, tzinfo=UTC),
     datetime(2026, 3, 2, tzinfo=UTC), 9, 4.0, "info", "Unusual day", datetime(2026, 3, 2, 1, tzinfo=UTC),
     datetime(2026, 3, 3, tzinfo=UTC), 2],
    ["a3", "ward-incidents-24h", "firing", "ZZZ", "RY2", "", "Ward 7", "", "", datetime(2026, 3, 17, 11, tzinfo=UTC),
     datetime(2026, 3, 18, 11, tzinfo=UTC), 7, 5.0, "warning", A1_DESCRIPTION, TODAY.replace(hour=10), None, 1],
]  # fmt: skip


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    client = connect(f"chdb://{tmp_path_factory.mktemp('panels-ch')}")
    ensure_schema(client)
    # Like the sink: each event_id inserted once (it filters ids already stored), so the rollup views
    # count each event once; hotspot_alerts gets two states of a2 and FINAL must keep the latest.
    client.insert("feedback_events", EVENTS, column_names=EVENT_COLUMNS)
    client.insert("hotspot_alerts", ALERTS, column_names=ALERT_COLUMNS)
    return client


WARD_VARS = {"organisation": "QWE", "provider": "RX1", "ward": "Ward 7"}
PROVIDER_VARS = {"organisation": "QWE", "provider": "RX1", "ward": ["Ward 7", "Ward 9"]}
ORG_VARS = {"organisation": "QWE"}
HOTSPOT_VARS = {"organisation": "QWE", "provider": ["RX1"], "alert": "a1"}
THEME_VARS = {"organisation": "QWE", "provider": ["RX1"], "domain": ALL_DOMAINS}
VARS = {
    "pxstream-ward": WARD_VARS,
    "pxstream-provider": PROVIDER_VARS,
    "pxstream-commissioner": ORG_VARS,
    "pxstream-hotspots": HOTSPOT_VARS,
    "pxstream-themes": THEME_VARS,
}
DOMAIN_COLUMNS = ["Safe care", "Relationships", "Information", "Access & waiting", "Environment"]


def run(client, uid: str, title: str):
    [panel] = [p for p in DASHBOARDS[uid]["panels"] if p["title"] == title]
    result = client.query(substitute(panel["targets"][0]["rawSql"], VARS[uid]))
    return list(result.column_names), [list(row) for row in result.result_rows]


CLICKHOUSE_PANELS = [
    (uid, panel["title"])
    for uid, dashboard in DASHBOARDS.items()
    for panel in dashboard["panels"]
    if panel["targets"] and "rawSql" in panel["targets"][0]
]


@pytest.mark.parametrize(("uid", "title"), CLICKHOUSE_PANELS)
def test_every_panel_query_runs(clickhouse, uid, title):
    columns, _rows = run(clickhouse, uid, title)
    assert columns


@pytest.mark.parametrize(("uid", "title"), CLICKHOUSE_PANELS)
def test_every_panel_query_passes_the_read_only_allow_list(clickhouse, uid, title):
    """A person can paste any panel's SQL into `pxstream sql` and get the panel's rows."""
    [panel] = [p for p in DASHBOARDS[uid]["panels"] if p["title"] == title]
    columns, rows = run_query(clickhouse, substitute(panel["targets"][0]["rawSql"], VARS[uid]))
    assert (columns, [list(row) for row in rows]) == run(clickhouse, uid, title)


@pytest.mark.parametrize("uid", sorted(VARS))
def test_variable_queries(clickhouse, uid):
    expected = {
        "organisation": ["QWE", "ZZZ"],
        "provider": ["RX1"],
        "ward": ["Ward 7", "Ward 9"],
    }
    for variable in DASHBOARDS[uid]["templating"]["list"]:
        if variable["type"] != "query":
            continue
        result = clickhouse.query(substitute(variable["query"]["rawSql"], VARS[uid]))
        assert [row[0] for row in result.result_rows] == expected[variable["name"]], (uid, variable["name"])


# --- ward wall screen ------------------------------------------------------------------------------


def test_ward_today_tiles(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "Today")
    assert columns == DOMAIN_COLUMNS
    assert rows == [[2, 2, 0, 0, 0]]  # e1 and e2; e2 and e3; Ward 9 and ZZZ excluded


def test_ward_this_week_tiles(clickhouse):
    _, rows = run(clickhouse, "pxstream-ward", "This week (from Monday)")
    assert rows == [[2, 2, 0, 1, 0]]  # plus e4 on Monday; e5 was last week


def test_ward_open_hotspots(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "Open hotspots")
    assert columns == ["hotspot", "events"]
    assert rows == [[A1_DESCRIPTION, 5]]  # a2 resolved (FINAL keeps the latest), a3 another organisation


def test_ward_28_day_trend_has_every_day(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "Last 28 days by domain")
    assert columns == ["time", *DOMAIN_COLUMNS]
    assert len(rows) == 28
    assert rows[0][0] == date(2026, 2, 19) and rows[-1][0] == date(2026, 3, 18)
    by_day = {row[0]: row[1:] for row in rows}
    assert by_day[date(2026, 3, 18)] == [2, 2, 0, 0, 0]
    assert by_day[date(2026, 3, 16)] == [0, 0, 0, 1, 0]
    assert by_day[date(2026, 3, 10)] == [0, 0, 0, 0, 1]
    assert sum(sum(v) for v in by_day.values()) == 2 + 2 + 1 + 1


def test_ward_positive_comments(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "What patients said (latest positive comments)")
    assert columns == ["time", "comment"]
    assert [r[1] for r in rows] == ["The nurses were lovely", "Spotless ward"]


# --- provider and commissioner ------------------------------------------------------------------------


def test_provider_headlines(clickhouse):
    assert run(clickhouse, "pxstream-provider", "Feedback received")[1] == [[7]]
    [[share]] = run(clickhouse, "pxstream-provider", "Negative share")[1]
    assert share == pytest.approx(4 / 7)
    assert run(clickhouse, "pxstream-provider", "Open hotspots")[1] == [[1]]


def test_provider_sources(clickhouse):
    _, rows = run(clickhouse, "pxstream-provider", "Feedback by source")
    assert rows == [["fft", 2], ["incident", 2], ["complaint", 1], ["pals", 1], ["web_form", 1]]


def test_provider_ward_domain_heat(clickhouse):
    columns, rows = run(clickhouse, "pxstream-provider", "Negative feedback: ward × domain")
    assert columns == ["ward", *DOMAIN_COLUMNS, "total"]
    assert rows == [["Ward 7", 2, 1, 0, 1, 0, 4], ["Ward 9", 1, 0, 0, 0, 0, 1]]


def test_provider_recent_negative(clickhouse):
    columns, rows = run(clickhouse, "pxstream-provider", "Latest negative feedback (redacted)")
    assert columns == ["time", "ward", "source", "domains", "feedback"]
    assert [r[1:4] for r in rows] == [
        ["Ward 9", "incident", "Safe care"],
        ["Ward 7", "complaint", "Safe care, Relationships"],
        ["Ward 7", "incident", "Safe care"],
        ["Ward 7", "pals", "Access & waiting"],
    ]


def test_commissioner_providers_table(clickhouse):
    columns, rows = run(clickhouse, "pxstream-commissioner", "Providers")
    assert columns == ["provider", "events", "negative", "negative_share", "open_hotspots"]
    assert rows == [["RX1", 7, 4, pytest.approx(0.571), 1]]
    assert run(clickhouse, "pxstream-commissioner", "Providers with feedback")[1] == [[1]]


def test_commissioner_domain_bars(clickhouse):
    columns, rows = run(clickhouse, "pxstream-commissioner", "Negative feedback by provider and domain")
    assert columns == ["provider", *DOMAIN_COLUMNS]
    assert rows == [["RX1", 3, 1, 0, 1, 0]]


# --- hotspots -----------------------------------------------------------------------------------------------


def test_hotspot_counts(clickhouse):
    assert run(clickhouse, "pxstream-hotspots", "Firing now")[1] == [[1]]
    assert run(clickhouse, "pxstream-hotspots", "Episodes in range")[1] == [[2]]


def test_hotspot_provider_domain_heatmap(clickhouse):
    columns, rows = run(clickhouse, "pxstream-hotspots", "Episodes: provider × domain")
    assert columns == ["provider", *DOMAIN_COLUMNS, "Any domain"]
    assert rows == [["RX1", 1, 0, 0, 0, 0, 1]]


def test_hotspot_episodes_firing_first(clickhouse):
    columns, rows = run(clickhouse, "pxstream-hotspots", "Episodes")
    assert columns[:2] == ["alert_id", "status"]
    assert [(r[0], r[1]) for r in rows] == [("a1", "firing"), ("a2", "resolved")]
    assert rows[1][columns.index("domain")] == "Safe care"


def test_hotspot_contributing_events(clickhouse):
    columns, rows = run(clickhouse, "pxstream-hotspots", "Contributing events for alert ${alert}")
    assert columns == ["time", "event_id", "source", "provider", "ward", "domains", "feedback"]
    assert [r[1] for r in rows] == ["e1", "e2"]  # e3 at 11:00 is at window_end (exclusive); e8 is Ward 9


def test_hotspot_timeline_totals(clickhouse):
    columns, rows = run(clickhouse, "pxstream-hotspots", "Hotspot episodes fired")
    assert columns == ["time", "critical", "warning", "info"]
    assert sum(r[2] for r in rows) == 1 and sum(r[3] for r in rows) == 1


# --- themes ----------------------------------------------------------------------------------------------


def test_top_themes(clickhouse):
    columns, rows = run(clickhouse, "pxstream-themes", "Top themes")
    assert columns[:3] == ["theme", "events", "negative"]
    assert [r[:3] for r in rows] == [
        ["medication", 2, 2],
        ["staff_attitude", 2, 1],
        ["cleanliness", 1, 0],
        ["falls", 1, 1],
        ["waiting", 1, 1],
    ]


def test_domain_filter_narrows_themes(clickhouse):
    [panel] = [p for p in DASHBOARDS["pxstream-themes"]["panels"] if p["title"] == "Top themes"]
    sql = substitute(panel["targets"][0]["rawSql"], {**THEME_VARS, "domain": [ENV]})
    assert [r[0] for r in clickhouse.query(sql).result_rows] == ["cleanliness"]


def test_themes_domains_over_time_totals(clickhouse):
    columns, rows = run(clickhouse, "pxstream-themes", "Feedback by domain")
    assert columns == ["time", *DOMAIN_COLUMNS]
    assert [sum(r[i] for r in rows) for i in range(1, 6)] == [3, 2, 0, 1, 1]
