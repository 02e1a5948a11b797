"""Every panel's SQL, with Grafana's macros and variables substituted as the ClickHouse plugin does,
runs on the real ClickHouse engine (chDB) seeded through the sink's own migrations, and returns the
columns and values a person would read off the screen: the read-only checks, the variables, and the
ward, provider and commissioner screens (hotspots, themes and actions: test_panels_follow_up.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sinks.sql import run_query
from tests.support.panels import (
    A1_DESCRIPTION,
    CLICKHOUSE_PANELS,
    DASHBOARDS,
    DOMAIN_COLUMNS,
    VARS,
    run,
    seeded_clickhouse,
    substitute,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory):
    return seeded_clickhouse(tmp_path_factory.mktemp("panels-ch"))


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


def test_ward_you_said_we_did(clickhouse):
    columns, rows = run(clickhouse, "pxstream-ward", "You said, we did")
    assert columns == ["completed", "you said", "we did"]
    assert [r[1:] for r in rows] == [
        ["Review call-bell response times", "Call bells now answered within two minutes"],
        ["Unusual day", "Deep clean and a new cleaning rota"],  # the hotspot it answered
    ]  # c1 and c2 (single complaints) stay off the wall; x1 is another organisation's
