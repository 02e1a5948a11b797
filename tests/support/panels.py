# ruff: noqa: E501 — the seed data reads best as one row per line
"""The dashboards' panels against a known data set: Grafana's macros and variables expanded the way
the ClickHouse plugin expands them, the seed rows, and `run` (one panel's rows).

Shared by the panel tests (tests/integration/test_panels*.py), which check every panel's SQL on the
real engine seeded through the sink's own migrations.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grafana.dashboards import build_all
from sinks.client import connect
from sinks.schema import ensure_schema

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


def seeded_clickhouse(path: Path) -> Any:
    """A fresh embedded engine at `path` holding the known data set."""
    return seed(connect(f"chdb://{path}"))


def seed(client: Any) -> Any:
    """Migrate a fresh engine and insert the known data set; returns the client."""
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
