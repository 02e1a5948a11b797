# ruff: noqa: E501 — the seed data reads best as one row per line
"""`pxstream report` end to end on the real ClickHouse engine: seven months of synthetic feedback with
a surge of safe-care concerns in the reporting month, seeded through the sink's migrations."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from grafana.report.actions import load_actions_month
from grafana.report.build import write_report
from grafana.report.data import Month, load_month
from grafana.report.spc import DEFAULT_BASELINE, xmr
from pxstream.cli import main
from sinks.client import connect
from sinks.schema import ensure_schema

pytestmark = pytest.mark.integration

DOMAINS = {
    "safe_high_quality_care": ["medication", "falls"],
    "building_better_relationships": ["staff_attitude"],
    "better_information_more_choice": ["communication"],
    "access_and_waiting": ["waiting", "appointments"],
    "clean_comfortable_place": ["cleanliness", "food"],
}
SOURCES = ["complaint", "pals", "incident", "fft", "gp_comment_card"]
PLACES = [("RX1", "Ward 7"), ("RX1", "Ward 9"), ("RX2", "Outpatients")]
MONTH = Month.parse("2026-03")
COLUMNS = ["event_id", "source", "organisation", "provider", "ward", "occurred_at", "received_at", "text",
           "domains", "themes", "sentiment", "version"]  # fmt: skip


def seed_events() -> list[list]:
    rng = random.Random(7)
    rows = []
    day = date(2025, 9, 1)
    while day < MONTH.end:
        surge = day >= date(2026, 3, 1)
        for n in range(rng.randint(3, 7) + (6 if surge else 0)):
            domain = "safe_high_quality_care" if surge and n < 6 else rng.choice(list(DOMAINS))
            provider, ward = ("RX1", "Ward 7") if surge and n < 6 else rng.choice(PLACES)
            negative = (surge and n < 6) or rng.random() < 0.45
            when = datetime(day.year, day.month, day.day, 8 + n % 10, tzinfo=UTC)
            rows.append(
                [f"{day}-{n}", rng.choice(SOURCES), "QWE", provider, ward, when, when, "[redacted]", [domain],
                 [rng.choice(DOMAINS[domain])], -0.6 if negative else 0.6, 1]
            )  # fmt: skip
        day += timedelta(days=1)
    rows.append(["other-org", "complaint", "ZZZ", "RY9", "W", datetime(2026, 3, 3, tzinfo=UTC),
                 datetime(2026, 3, 3, tzinfo=UTC), "x", ["safe_high_quality_care"], ["falls"], -0.9, 1])  # fmt: skip
    return rows


ALERT_COLUMNS = ["alert_id", "rule_id", "status", "organisation", "provider", "ward", "domain", "window_start",
                 "window_end", "count", "threshold", "severity", "description", "fired_at", "resolved_at", "version",
                 "organisations"]  # fmt: skip
ALERTS = [
    ["m1", "ward-incidents-24h", "firing", "QWE", "RX1", "Ward 7", "", datetime(2026, 3, 9, tzinfo=UTC),
     datetime(2026, 3, 10, tzinfo=UTC), 7, 5, "warning", "Five or more incidents on one ward within 24 hours",
     datetime(2026, 3, 9, 14, tzinfo=UTC), None, 1],
    ["m2", "provider-domain-spc", "resolved", "QWE", "RX2", "", "access_and_waiting", datetime(2026, 3, 20, tzinfo=UTC),
     datetime(2026, 3, 21, tzinfo=UTC), 9, 4.2, "info", "Unusual day for a provider and domain",
     datetime(2026, 3, 20, 18, tzinfo=UTC), datetime(2026, 3, 21, 2, tzinfo=UTC), 2],
    ["f1", "ward-incidents-24h", "resolved", "QWE", "RX1", "Ward 9", "", datetime(2026, 2, 9, tzinfo=UTC),
     datetime(2026, 2, 10, tzinfo=UTC), 5, 5, "warning", "February episode", datetime(2026, 2, 9, 14, tzinfo=UTC),
     datetime(2026, 2, 10, tzinfo=UTC), 2],
    # No shipped rule groups by organisation: an episode on a ward two commissioners' events counted toward.
    ["s1", "ward-incidents-24h", "resolved", "", "RX1", "Ward 7", "", datetime(2026, 3, 12, tzinfo=UTC),
     datetime(2026, 3, 13, tzinfo=UTC), 6, 5, "warning", "Shared ward episode", datetime(2026, 3, 12, 9, tzinfo=UTC),
     datetime(2026, 3, 13, 1, tzinfo=UTC), 2],
    # Another organisation's episode on the same ward: not this organisation's.
    ["z1", "ward-incidents-24h", "firing", "", "RX1", "Ward 7", "", datetime(2026, 3, 15, tzinfo=UTC),
     datetime(2026, 3, 16, tzinfo=UTC), 5, 5, "warning", "Not QWE's episode", datetime(2026, 3, 15, 9, tzinfo=UTC),
     None, 1],
]  # fmt: skip
ALERT_ORGANISATIONS = {"m1": ["QWE"], "m2": ["QWE"], "f1": ["QWE"], "s1": ["QKK", "QWE"], "z1": ["ZZZ"]}
for alert in ALERTS:
    alert.append(ALERT_ORGANISATIONS[alert[0]])
EVENTS = seed_events()


def _on(day: str, hour: int = 9) -> datetime:
    return datetime.fromisoformat(f"2026-{day}T{hour:02d}:00:00+00:00")


HISTORY_COLUMNS = ["history_id", "action_id", "version", "rule_id", "status", "overdue", "organisations", "provider",
                   "ward", "trigger_kind", "trigger_alert_id", "created_at", "due_at", "completed_at", "change",
                   "changed_at", "kafka_offset"]  # fmt: skip


def _v(action_id, version, rule, status, created, due, change, changed, *, completed=None, alert="", overdue=False,
       orgs=("QWE",)):  # fmt: skip
    kind = "alert" if alert else "event"
    return [f"{action_id}@{version}", action_id, version, rule, status, overdue, list(orgs), "RX1", "Ward 7", kind,
            alert, _on(created), _on(due, 23), completed and _on(completed), change, _on(changed), version]  # fmt: skip


ACK, REVIEW = "complaint-acknowledgement", "hotspot-review"
# fmt: off
ACTION_VERSIONS = [
    _v("r1", 1, REVIEW, "open", "03-09", "03-16", "create", "03-09", alert="m1"),
    _v("r1", 2, REVIEW, "completed", "03-09", "03-16", "complete", "03-12", completed="03-12", alert="m1"),  # on time
    _v("r2", 1, REVIEW, "open", "03-21", "03-28", "create", "03-21", alert="m2"),
    _v("r2", 2, REVIEW, "open", "03-21", "03-28", "overdue", "03-29", alert="m2", overdue=True),  # m2 unanswered
    _v("k1", 1, ACK, "open", "03-02", "03-05", "create", "03-02"),
    _v("k1", 2, ACK, "completed", "03-02", "03-05", "complete", "03-05", completed="03-05"),  # on the due day
    _v("k2", 1, ACK, "open", "03-25", "03-28", "create", "03-25"),  # still open: overdue at the end
    _v("k3", 1, ACK, "open", "02-25", "03-02", "create", "02-25"),  # opened in February
    _v("k3", 2, ACK, "completed", "02-25", "03-02", "complete", "03-03", completed="03-03"),  # late
    _v("k4", 1, ACK, "open", "03-30", "04-02", "create", "03-30"),  # due next month
    _v("k5", 1, ACK, "open", "03-10", "03-13", "create", "03-10"),
    _v("k5", 2, ACK, "cancelled", "03-10", "03-13", "cancel", "03-11"),  # cancelled: in no rate
    _v("k6", 1, ACK, "open", "03-04", "03-09", "create", "03-04"),
    _v("k6", 2, ACK, "completed", "03-04", "03-09", "complete", "03-06", completed="03-06"),
    _v("k6", 3, ACK, "open", "03-04", "03-09", "reopen", "03-08"),  # completed in March, then reopened
    _v("z1", 1, ACK, "open", "03-02", "03-05", "create", "03-02", orgs=("ZZZ",)),  # another organisation's
]
# fmt: on


@pytest.fixture(scope="module")
def ch_url(tmp_path_factory):
    url = f"chdb://{tmp_path_factory.mktemp('report-ch')}"
    client = connect(url)
    ensure_schema(client)
    client.insert("feedback_events", EVENTS, column_names=COLUMNS)
    client.insert("hotspot_alerts", ALERTS, column_names=ALERT_COLUMNS)
    client.insert("action_history", ACTION_VERSIONS, column_names=HISTORY_COLUMNS)
    return url, client


def in_month(row, month: Month) -> bool:
    return row[2] == "QWE" and month.start <= row[5].date() < month.end


def test_month_figures_match_the_seed(ch_url):
    _url, client = ch_url
    data = load_month(client, "QWE", MONTH)
    march = [r for r in EVENTS if in_month(r, MONTH)]
    feb = [r for r in EVENTS if in_month(r, MONTH.previous)]
    assert (data.events, data.events_previous) == (len(march), len(feb))
    assert data.negative == sum(1 for r in march if r[10] < 0)
    by_domain = Counter(r[8][0] for r in march)
    assert {d: v[0] for d, v in data.by_domain.items()} == {d: by_domain[d] for d in DOMAINS}
    assert data.by_source == {
        s: (sum(1 for r in march if r[1] == s), sum(1 for r in feb if r[1] == s)) for s in data.by_source
    }
    assert sum(v[0] for v in data.by_source.values()) == len(march)
    themes = Counter(r[9][0] for r in march)
    assert data.themes[0][:2] == max(themes.items(), key=lambda kv: (kv[1], [-ord(c) for c in kv[0]]))
    assert [e["alert_id"] for e in data.episodes] == ["m1", "s1", "m2"]
    assert data.providers_changed[0][0] == "RX1"  # the surge
    assert data.wards_changed[0][:2] == ("RX1", "Ward 7")


def test_weekly_series_end_on_the_last_day_of_the_month(ch_url):
    _url, client = ch_url
    data = load_month(client, "QWE", MONTH)
    assert data.period_ends[-1] == date(2026, 3, 31)
    assert len(data.period_ends) == 26
    last_week = [r for r in EVENTS if r[2] == "QWE" and date(2026, 3, 25) <= r[5].date() <= date(2026, 3, 31)]
    expected = sum(1 for r in last_week if r[10] < 0 and r[8] == ["safe_high_quality_care"])
    assert data.weekly_negative["safe_high_quality_care"][-1] == expected


def test_weeks_not_over_yet_are_not_plotted_as_zeros(ch_url):
    """Mid-month, the periods ending today or later are unknown, not zero "improvement"."""
    _url, client = ch_url
    whole = load_month(client, "QWE", MONTH, today=date(2026, 4, 2))
    mid = load_month(client, "QWE", MONTH, today=date(2026, 3, 18))
    assert mid.period_ends == [end for end in whole.period_ends if end < date(2026, 3, 18)]
    assert mid.period_ends[-1] == date(2026, 3, 17) and len(mid.period_ends) == len(whole.period_ends) - 2
    for domain, counts in mid.weekly_negative.items():
        assert counts == whole.weekly_negative[domain][: len(mid.period_ends)]
    charts = {
        d: xmr(c, baseline=DEFAULT_BASELINE, improvement="decrease") for d, c in mid.weekly_negative.items()
    }
    assert all(len(chart.points) == len(mid.period_ends) for chart in charts.values())
    # The whole month later still has every period, the last ending on the month's last day.
    assert whole.period_ends[-1] == date(2026, 3, 31)


def test_report_pack(ch_url, tmp_path):
    _url, client = ch_url
    out = tmp_path / "pack"
    path = write_report(load_month(client, "QWE", MONTH), out)
    html = path.read_text()
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(["domains.png", "sources.png", "themes.png", *(f"spc-{d}.png" for d in DOMAINS)])
    assert all((out / p).read_bytes().startswith(b"\x89PNG") for p in pngs)
    assert html.count("data:image/png;base64,") == len(pngs)  # works without the PNG files
    assert "Patient experience — March 2026" in html
    assert "special cause — concern" in html  # the safe-care surge
    assert "Five or more incidents on one ward within 24 hours" in html
    assert "Shared ward episode" in html and "shared with QKK" in html
    assert "February episode" not in html and "Not QWE&#x27;s episode" not in html and "Not QWE" not in html
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    assert "RY9" not in text  # another organisation's provider


def test_cli_report(ch_url, tmp_path, monkeypatch, capsys):
    url, _client = ch_url
    monkeypatch.setenv("PXSTREAM_CLICKHOUSE_URL", url)
    assert main(["report", "--organisation", "QWE", "--month", "2026-03", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "index.html").exists()
    assert main(["report", "--organisation", "NOPE", "--month", "2026-03", "--out", str(tmp_path / "x")]) == 1
    assert "no feedback for organisation 'NOPE'" in capsys.readouterr().err
    assert main(["report", "--organisation", "QWE", "--month", "2026-13", "--out", str(tmp_path)]) == 2


def test_two_organisations_events_with_one_id_are_each_in_their_own_report(ch_url):
    """Source systems number their events independently: QKK's incident INC-1 is not QWE's."""
    _url, client = ch_url
    month = Month.parse("2025-08")  # before the seeded months
    when = datetime(2025, 8, 4, 10, tzinfo=UTC)
    rows = [
        ["INC-1", "incident", org, "RX1", "Ward 7", when, when, "[redacted]", ["safe_high_quality_care"], [], -0.7, 1]
        for org in ("QKK", "QWE")
    ]  # fmt: skip
    client.insert("feedback_events", rows, column_names=COLUMNS)
    for organisation in ("QKK", "QWE"):
        data = load_month(client, organisation, month)
        assert (data.events, data.negative) == (1, 1), organisation
        assert data.by_domain["safe_high_quality_care"][0] == 1


def test_actions_of_the_month(ch_url):
    _url, client = ch_url
    month = load_month(client, "QWE", MONTH)
    actions = load_actions_month(client, "QWE", MONTH, month.episodes)
    assert actions.opened == 7  # r1 r2 k1 k2 k4 k5 k6; k3 was February's, z1 another organisation's
    assert actions.completed == 4  # r1 k1 k3 k6 (k6 reopened later still completed once in March)
    assert actions.overdue_at_end == 3  # r2 k2 k6
    assert (actions.on_time, actions.due) == (2, 6)  # r1 k1 on time; r2 k2 k3 k6 late; k5 cancelled
    assert actions.by_rule == [(ACK, 5, 3, 4, 1), (REVIEW, 2, 1, 2, 1)]
    # s1 is shared with QKK (its events counted too) and has no action: QWE must see it as well.
    assert [(e["alert_id"], e["actions"]) for e in actions.hotspots_open] == [
        ("s1", "no action"),
        ("m2", "overdue"),
    ]


def test_report_pack_has_the_actions_section(ch_url, tmp_path):
    url, _client = ch_url
    from grafana.report.build import build_report

    html = build_report(url, "QWE", "2026-03", tmp_path / "pack").read_text()
    assert "Follow-up: actions in March 2026" in html
    assert "done by the first due date (2 of 6 due)" in html
    assert "Unusual day for a provider and domain" in html.split("Hotspots with no completed action yet")[1]
