# ruff: noqa: E501 — comments beside the expected rows read best on one line
"""The hotspot, themes and actions dashboards' panels on the real engine, seeded with the known data
set of tests/support/panels.py (the ward, provider and commissioner screens: test_panels.py).
"""

from __future__ import annotations

import pytest

from tests.support.panels import (
    ACK,
    DASHBOARDS,
    DOMAIN_COLUMNS,
    ENV,
    HOTSPOT_VARS,
    REVIEW,
    THEME_VARS,
    run,
    seeded_clickhouse,
    substitute,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    return seeded_clickhouse(tmp_path_factory.mktemp("panels-ch"))


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
