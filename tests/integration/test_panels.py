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
    # ZZZ's own incident on QWE's ward, with the id one of QWE's events has: it counted toward a1 too
    # (a1 names both organisations), but only ZZZ sees it.
    _event("e1", TODAY.replace(hour=9, minute=30), "Ward 7", "incident", [SAFE], -0.9, ["falls"], org="ZZZ"),
]

ALERT_COLUMNS = [
    "alert_id", "rule_id", "status", "organisation", "provider", "site", "ward", "source", "domain",
    "window_start", "window_end", "count", "threshold", "severity", "description", "fired_at", "resolved_at",
    "version", "organisations",
]  # fmt: skip
A1_DESCRIPTION = "Five or more incidents on one ward within 24 hours"
ALERTS = [
    ["a1", "ward-incidents-24h", "firing", "", "RX1", "", "Ward 7", "", "", datetime(2026, 3, 17, 11, tzinfo=UTC),
     datetime(2026, 3, 18, 11, tzinfo=UTC), 5, 5.0, "warning", A1_DESCRIPTION, TODAY.replace(hour=10, minute=30),
     None, 1, ["QWE", "ZZZ"]],
    ["a2", "provider-domain-spc", "firing", "", "RX1", "", "", "", SAFE, datetime(2026, 3, 1, tzinfo=UTC),
     datetime(2026, 3, 2, tzinfo=UTC), 9, 4.0, "info", "Unusual day", datetime(2026, 3, 2, 1, tzinfo=UTC), None, 1, ["QWE"]],
    ["a2", "provider-domain-spc", "resolved", "", "RX1", "", "", "", SAFE, datetime(2026, 3, 1, tzinfo=UTC),
     datetime(2026, 3, 2, tzinfo=UTC), 9, 4.0, "info", "Unusual day", datetime(2026, 3, 2, 1, tzinfo=UTC),
     datetime(2026, 3, 3, tzinfo=UTC), 2, ["QWE"]],
    ["a3", "ward-incidents-24h", "firing", "", "RY2", "", "Ward 7", "", "", datetime(2026, 3, 17, 11, tzinfo=UTC),
     datetime(2026, 3, 18, 11, tzinfo=UTC), 7, 5.0, "warning", A1_DESCRIPTION, TODAY.replace(hour=10), None, 1, ["ZZZ"]],
]  # fmt: skip


HISTORY_COLUMNS = [
    "history_id", "action_id", "version", "rule_id", "title", "status", "overdue", "escalation_level", "owner",
    "notify", "organisations", "provider", "ward", "trigger_kind", "trigger_alert_id", "created_at", "due_at",
    "completed_at", "outcome", "change", "changed_at", "kafka_offset",
]  # fmt: skip
ACK = "complaint-acknowledgement"
REVIEW = "hotspot-review"


def _at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def _version(action_id, version, rule, status, *, created, due, ward="Ward 7", owner="ward-7-manager", completed=None,
             outcome="", overdue=False, level=0, notify=None, kind="event", alert="", orgs=("QWE",),
             provider="RX1", title="Acknowledge the complaint", change="create"):  # fmt: skip
    return [
        f"{action_id}@{version}", action_id, version, rule, title, status, overdue, level, owner, notify or owner,
        list(orgs), provider, ward, kind, alert, created, due, completed, outcome, change, completed or created,
        version,
    ]  # fmt: skip


# Follow-up actions, every version as the sink stores them (the view keeps the latest in `actions`).
# fmt: off
ACTION_VERSIONS = [
    # c1: acknowledged on time (due 5 March, done 4 March, 2 days after creation).
    _version("c1", 1, ACK, "open", created=_at(2), due=_at(5, 23)),
    _version("c1", 2, ACK, "completed", created=_at(2), due=_at(5, 23), completed=_at(4), outcome="Letter sent", change="complete"),
    # c2: done late (due 12 March, done 13 March, 4 days).
    _version("c2", 1, ACK, "open", created=_at(9), due=_at(12, 23)),
    _version("c2", 2, ACK, "completed", created=_at(9), due=_at(12, 23), completed=_at(13), outcome="Called back", change="complete"),
    # c3: first due 16 March, extended to 20 March and still open: late against its first due date.
    _version("c3", 1, ACK, "open", created=_at(13), due=_at(16, 23), ward="Ward 9", owner="ward-9-manager"),
    _version("c3", 2, ACK, "acknowledged", created=_at(13), due=_at(20, 23), ward="Ward 9", owner="ward-9-manager", change="extend"),
    # c4: due after the end of the range: not in the on-time cohort.
    _version("c4", 1, ACK, "open", created=_at(16), due=_at(19, 23)),
    # c5: cancelled: never counted as on time or late.
    _version("c5", 1, ACK, "cancelled", created=_at(5), due=_at(10, 23), change="cancel"),
    # h1: hotspot review, overdue and escalated to the matron.
    _version("h1", 1, REVIEW, "open", created=_at(10), due=_at(17, 23), kind="alert", alert="a1", title="Review the hotspot"),
    _version("h1", 2, REVIEW, "open", created=_at(10), due=_at(17, 23), kind="alert", alert="a1", overdue=True, level=1,
             notify="matron", title="Review the hotspot", change="escalate"),
    # h2: a hotspot review done on time, shown on the wall as "you said" (a2's description), "we did".
    _version("h2", 1, REVIEW, "completed", created=_at(2), due=_at(9, 23), completed=_at(3), kind="alert", alert="a2",
             outcome="Deep clean and a new cleaning rota", title="Review the hotspot", change="complete"),
    # m1: a manual action from the review meeting, done in 14 days, due later than the range.
    _version("m1", 1, "manual", "completed", created=_at(1), due=_at(29, 23), completed=_at(15), kind="command",
             outcome="Call bells now answered within two minutes", title="Review call-bell response times", change="complete"),
    # s1: shared by two organisations (a hotspot across both), open on Ward 9.
    _version("s1", 1, REVIEW, "open", created=_at(11), due=_at(25, 23), ward="Ward 9", owner="icb-quality-team",
             orgs=("ZZZ", "QWE"), kind="alert"),
    # x1, x2: another organisation's actions on a ward of the same name.
    _version("x1", 1, REVIEW, "completed", created=_at(2), due=_at(4), completed=_at(3), orgs=("ZZZ",), provider="RY2",
             kind="alert", outcome="Not ours", change="complete"),
    _version("x2", 1, ACK, "open", created=_at(2), due=_at(4), orgs=("ZZZ",), provider="RY2", overdue=True),
]
# fmt: on


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    client = connect(f"chdb://{tmp_path_factory.mktemp('panels-ch')}")
    ensure_schema(client)
    # Like the sink: each event_id inserted once (it filters ids already stored), so the rollup views
    # count each event once; hotspot_alerts gets two states of a2 and FINAL must keep the latest.
    client.insert("feedback_events", EVENTS, column_names=EVENT_COLUMNS)
    client.insert("hotspot_alerts", ALERTS, column_names=ALERT_COLUMNS)
    client.insert("action_history", ACTION_VERSIONS, column_names=HISTORY_COLUMNS)
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
    "pxstream-actions": ORG_VARS,
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
    assert rows[0][0].hour == 9 and rows[0][0].minute == 0  # QWE's e1, not ZZZ's e1 of 09:30
    zzz = {**HOTSPOT_VARS, "organisation": "ZZZ"}
    [panel] = [p for p in DASHBOARDS["pxstream-hotspots"]["panels"] if p["title"].startswith("Contributing")]
    result = clickhouse.query(substitute(panel["targets"][0]["rawSql"], zzz))
    assert [(r[1], r[0].minute) for r in result.result_rows] == [("e1", 30)]  # its own event only


def test_a_shared_episode_is_on_each_organisations_screens(clickhouse):
    """a1's rule groups by provider and ward; both organisations whose events counted see it."""
    zzz = {**HOTSPOT_VARS, "organisation": "ZZZ", "provider": ["RX1", "RY2"]}
    [panel] = [p for p in DASHBOARDS["pxstream-hotspots"]["panels"] if p["title"] == "Episodes"]
    result = clickhouse.query(substitute(panel["targets"][0]["rawSql"], zzz))
    assert sorted(r[0] for r in result.result_rows) == ["a1", "a3"]
    columns, rows = run(clickhouse, "pxstream-hotspots", "Episodes")
    assert rows[0][columns.index("shared_by")] == "QWE, ZZZ"


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


# --- actions ------------------------------------------------------------------------------------------------


def test_actions_headlines(clickhouse):
    assert run(clickhouse, "pxstream-actions", "Open now")[1] == [[4]]  # c3, c4, h1, s1 (shared); x2 is ZZZ's
    assert run(clickhouse, "pxstream-actions", "Overdue now")[1] == [[1]]  # h1
    # First due in range, not cancelled: c1 and h2 on time; c2 late, c3 late (extension does not count), h1 late.
    [[rate]] = run(clickhouse, "pxstream-actions", "Done by the first due date")[1]
    assert rate == pytest.approx(2 / 5)
    [[median]] = run(clickhouse, "pxstream-actions", "Median days to complete")[1]
    assert median == pytest.approx(3.0)  # h2 1, c1 2, c2 4, m1 14 days


def test_actions_open_by_owner_and_place(clickhouse):
    columns, rows = run(clickhouse, "pxstream-actions", "Open and overdue by owner")
    assert columns == ["owner", "open", "overdue", "highest_escalation"]
    assert rows == [["ward-7-manager", 2, 1, 1], ["icb-quality-team", 1, 0, 0], ["ward-9-manager", 1, 0, 0]]
    columns, rows = run(clickhouse, "pxstream-actions", "Open and overdue by provider and ward")
    assert columns == ["provider", "ward", "open", "overdue", "highest_escalation"]
    assert rows == [["RX1", "Ward 7", 2, 1, 1], ["RX1", "Ward 9", 2, 0, 0]]


def test_actions_on_time_per_rule(clickhouse):
    columns, rows = run(clickhouse, "pxstream-actions", "On time per rule (first due in range)")
    assert columns == ["rule", "due", "on_time", "late", "on_time_rate", "median_days_to_complete"]
    assert rows == [
        [ACK, 3, 1, 2, pytest.approx(0.333), pytest.approx(3.0)],  # c1 2 days, c2 4 days
        [REVIEW, 2, 1, 1, 0.5, 1.0],
    ]


def test_actions_open_list_puts_overdue_first(clickhouse):
    columns, rows = run(clickhouse, "pxstream-actions", "Open actions (overdue first)")
    ids = [r[columns.index("action_id")] for r in rows]
    assert ids == ["h1", "c4", "c3", "s1"]  # h1 overdue; then by due date (c3 extended to 20 March)
    assert rows[0][columns.index("chasing")] == "matron"


def test_ward_you_said_we_did(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "You said, we did")
    assert columns == ["completed", "you said", "we did"]
    assert [r[1:] for r in rows] == [
        ["Review call-bell response times", "Call bells now answered within two minutes"],
        ["Unusual day", "Deep clean and a new cleaning rota"],  # the hotspot it answered
    ]  # c1 and c2 (single complaints) stay off the wall; x1 is another organisation's
