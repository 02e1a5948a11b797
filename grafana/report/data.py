"""Everything the monthly pack shows, read from ClickHouse in a handful of queries.

The one report-query layer: the queries read only the public tables (docs/contracts.md,
"ClickHouse tables") and the sink's rollups, and de-duplicate `feedback_events` and
`hotspot_alerts` with FINAL.

SPC period: weekly counts of negative feedback per domain, in 7-day periods that end on the last
day of the month (so every day of the month sits in a full period and no partial week at either
end drags a point down), over the 26 periods (six months) up to the month's end. Weekly rather
than daily because complaints and incidents follow the working week — daily points would show
weekday/weekend swings as special cause. Limits come from the first 12 points (Making Data
Count's baseline), so the recent months are judged against the earlier ones.

Only complete periods are plotted: for the current month, a period that ends today or later has
not happened yet (or only partly), and its zero or partial count would be drawn as a fall in
negative feedback - special-cause "improvement" that is only the calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from schemas.domains import DOMAIN_IDS
from schemas.month import Month

SPC_PERIODS = 26
SPC_PERIOD_DAYS = 7
TOP_THEMES = 12
TOP_CHANGES = 6


@dataclass
class MonthData:
    organisation: str
    month: Month
    events: int = 0
    events_previous: int = 0
    negative: int = 0
    negative_previous: int = 0
    by_domain: dict[str, tuple[int, int]] = field(default_factory=dict)  # domain → (this, previous)
    by_source: dict[str, tuple[int, int]] = field(default_factory=dict)
    themes: list[tuple[str, int, int, int]] = field(default_factory=list)  # theme, this, previous, negative
    period_ends: list[date] = field(default_factory=list)  # last day of each 7-day period
    weekly_negative: dict[str, list[int]] = field(default_factory=dict)  # domain → one count per period
    episodes: list[dict[str, Any]] = field(default_factory=list)
    providers_changed: list[tuple[str, int, int]] = field(default_factory=list)  # provider, this, previous
    wards_changed: list[tuple[str, str, int, int]] = field(default_factory=list)  # provider, ward, this, prev


def _params(organisation: str, month: Month) -> dict[str, Any]:
    spc_start = month.end - timedelta(days=SPC_PERIODS * SPC_PERIOD_DAYS)
    return {
        "org": organisation,
        "start": datetime.combine(month.start, datetime.min.time()),
        "end": datetime.combine(month.end, datetime.min.time()),
        "prev_start": datetime.combine(month.previous.start, datetime.min.time()),
        "start_day": month.start,
        "end_day": month.end,
        "prev_start_day": month.previous.start,
        "spc_start_day": spc_start,
    }


IN_MONTH = "occurred_at >= {start:DateTime64(3)} AND occurred_at < {end:DateTime64(3)}"
IN_PREVIOUS = "occurred_at >= {prev_start:DateTime64(3)} AND occurred_at < {start:DateTime64(3)}"
BOTH_MONTHS = "occurred_at >= {prev_start:DateTime64(3)} AND occurred_at < {end:DateTime64(3)}"
ORG = "organisation = {org:String}"


def load_month(client, organisation: str, month: Month, *, today: date | None = None) -> MonthData:
    """The month's figures; `today` (default: the UTC date now) bounds the SPC periods shown."""
    p = _params(organisation, month)
    data = MonthData(organisation, month)

    [row] = client.query(
        f"""SELECT countIf({IN_MONTH}), countIf({IN_PREVIOUS}),
                   countIf({IN_MONTH} AND sentiment < -0.2), countIf({IN_PREVIOUS} AND sentiment < -0.2)
            FROM feedback_events FINAL WHERE {ORG} AND {BOTH_MONTHS}""",
        parameters=p,
    ).result_rows
    data.events, data.events_previous, data.negative, data.negative_previous = (int(v) for v in row)

    rows = client.query(
        """SELECT domain, sumIf(events, day >= {start_day:Date}), sumIf(events, day < {start_day:Date})
           FROM feedback_daily
           WHERE organisation = {org:String} AND domain != ''
             AND day >= {prev_start_day:Date} AND day < {end_day:Date}
           GROUP BY domain""",
        parameters=p,
    ).result_rows
    found = {d: (int(a), int(b)) for d, a, b in rows}
    data.by_domain = {d: found.get(d, (0, 0)) for d in DOMAIN_IDS}

    rows = client.query(
        f"""SELECT source, countIf({IN_MONTH}) AS this, countIf({IN_PREVIOUS})
            FROM feedback_events FINAL WHERE {ORG} AND {BOTH_MONTHS}
            GROUP BY source ORDER BY this DESC, source""",
        parameters=p,
    ).result_rows
    data.by_source = {s: (int(a), int(b)) for s, a, b in rows}

    rows = client.query(
        f"""SELECT theme, countIf({IN_MONTH}) AS this, countIf({IN_PREVIOUS}),
                   countIf({IN_MONTH} AND sentiment < -0.2)
            FROM feedback_events FINAL ARRAY JOIN themes AS theme
            WHERE {ORG} AND {BOTH_MONTHS}
            GROUP BY theme HAVING this > 0 ORDER BY this DESC, theme LIMIT {TOP_THEMES}""",
        parameters=p,
    ).result_rows
    data.themes = [(t, int(a), int(b), int(n)) for t, a, b, n in rows]

    _load_weekly(client, p, month, data, today or datetime.now(UTC).date())

    result = client.query(
        """SELECT alert_id, rule_id, status, provider, ward, source, domain, window_start, window_end,
                  `count`, threshold, severity, description, fired_at, resolved_at, organisations
           FROM hotspot_alerts FINAL
           WHERE has(organisations, {org:String})
             AND fired_at >= {start:DateTime64(3)} AND fired_at < {end:DateTime64(3)}
           ORDER BY fired_at""",
        parameters=p,
    )
    data.episodes = [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    rows = client.query(
        f"""SELECT provider, countIf({IN_MONTH}) AS this, countIf({IN_PREVIOUS}) AS prev
            FROM feedback_events FINAL WHERE {ORG} AND {BOTH_MONTHS} AND provider != ''
            GROUP BY provider ORDER BY abs(this - prev) DESC, provider LIMIT {TOP_CHANGES}""",
        parameters=p,
    ).result_rows
    data.providers_changed = [(pr, int(a), int(b)) for pr, a, b in rows]

    rows = client.query(
        f"""SELECT provider, ward, countIf({IN_MONTH}) AS this, countIf({IN_PREVIOUS}) AS prev
            FROM feedback_events FINAL WHERE {ORG} AND {BOTH_MONTHS} AND ward != ''
            GROUP BY provider, ward ORDER BY abs(this - prev) DESC, provider, ward LIMIT {TOP_CHANGES}""",
        parameters=p,
    ).result_rows
    data.wards_changed = [(pr, w, int(a), int(b)) for pr, w, a, b in rows]
    return data


def _load_weekly(client, p: dict[str, Any], month: Month, data: MonthData, today: date) -> None:
    """Negative feedback per domain per 7-day period ending on the month's last day.

    Periods not over yet (ending today or later) are dropped: they are not zeros, they are unknown.

    Periods before the organisation's first feedback are dropped: a run of zeros from before
    pxstream was switched on is not a process, and would set a false baseline.
    """
    rows = client.query(
        """SELECT domain, intDiv(dateDiff('day', day, {end_day:Date}) - 1, 7) AS periods_back, sum(negative)
           FROM feedback_daily
           WHERE organisation = {org:String} AND domain != ''
             AND day >= {spc_start_day:Date} AND day < {end_day:Date}
           GROUP BY domain, periods_back""",
        parameters=p,
    ).result_rows
    [[first_day]] = client.query(
        "SELECT min(day) FROM feedback_daily WHERE organisation = {org:String} AND day < {end_day:Date}",
        parameters=p,
    ).result_rows
    counts = {d: [0] * SPC_PERIODS for d in DOMAIN_IDS}
    for domain, back, negative in rows:
        if domain in counts:
            counts[domain][SPC_PERIODS - 1 - int(back)] = int(negative)
    last_day = month.end - timedelta(days=1)
    ends = [last_day - timedelta(days=SPC_PERIOD_DAYS * (SPC_PERIODS - 1 - i)) for i in range(SPC_PERIODS)]
    keep = 0
    if first_day and first_day > date(1970, 1, 1):
        keep = next((i for i, end in enumerate(ends) if end >= first_day), SPC_PERIODS)
    stop = sum(1 for end in ends if end < today)  # ends ascend: the complete periods come first
    data.period_ends = ends[keep:stop]
    data.weekly_negative = {d: c[keep:stop] for d, c in counts.items()}
