"""Named, parametrised queries for the monthly report (and anyone else downstream of sinks).

Each returns plain Python rows: a list of dicts keyed by column name, with datetimes in UTC.
Counts come from the rollup tables (`feedback_daily`, read with sum()), which hold each event
once per domain; anything per event reads `feedback_events FINAL` and alerts read
`hotspot_alerts FINAL`, so a duplicate that has not been merged away yet never counts twice.

`month` is a `date` (any day in the month) or "YYYY-MM"; `organisation` narrows to one tenant
(None = all the caller may see - on a server, row policies narrow further).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from schemas.month import Month
from sinks.exceptions import ConfigError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

# A month as the queries take it: the Month itself, any day in it, or "YYYY-MM".
MonthLike = Month | date | str

_ORG_FILTER = "({org:String} = '' OR organisation = {org:String})"
# An organisation's alerts are those its events counted toward, whatever the rule groups by.
_ALERT_ORG_FILTER = "({org:String} = '' OR has(organisations, {org:String}))"


def month_start(month: MonthLike) -> date:
    if isinstance(month, Month):
        return month.start
    if isinstance(month, date):
        return Month.containing(month).start
    return Month.parse(month).start


def _rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    names = result.column_names
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


def monthly_counts_by_domain_and_source(
    client: Client, month: MonthLike, organisation: str | None = None
) -> list[dict[str, Any]]:
    """Events per (domain, source) in the month; an event with two domains counts under each."""
    first = month_start(month)
    return _rows(
        client,
        "SELECT domain, source, sum(events) AS events, sum(negative) AS negative,"
        " sum(positive) AS positive, if(events = 0, 0, sum(sentiment_sum) / events) AS mean_sentiment"
        " FROM feedback_daily"
        f" WHERE day >= {{start:Date}} AND day < {{end:Date}} AND {_ORG_FILTER}"
        " GROUP BY domain, source ORDER BY events DESC, domain, source",
        {"start": first, "end": Month.containing(first).end, "org": organisation or ""},
    )


def top_themes(
    client: Client, month: MonthLike, organisation: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """The month's most frequent themes, with how negative the feedback behind them was."""
    first = month_start(month)
    return _rows(
        client,
        "SELECT theme, count() AS events, countIf(sentiment < -0.2) AS negative,"
        " avg(sentiment) AS mean_sentiment"
        " FROM feedback_events FINAL ARRAY JOIN themes AS theme"
        " WHERE occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
        f" AND {_ORG_FILTER}"
        " GROUP BY theme ORDER BY events DESC, theme LIMIT {limit:UInt32}",
        {"start": first, "end": Month.containing(first).end, "org": organisation or "", "limit": limit},
    )


def daily_series_by_domain(
    client: Client, first_month: MonthLike, last_month: MonthLike, organisation: str | None = None
) -> list[dict[str, Any]]:
    """One row per (day, domain) from the first day of `first_month` to the end of `last_month`."""
    start = month_start(first_month)
    end = Month.containing(month_start(last_month)).end
    return _rows(
        client,
        "SELECT day, domain, sum(events) AS events, sum(negative) AS negative, sum(positive) AS positive"
        " FROM feedback_daily"
        f" WHERE day >= {{start:Date}} AND day < {{end:Date}} AND {_ORG_FILTER}"
        " GROUP BY day, domain ORDER BY day, domain",
        {"start": start, "end": end, "org": organisation or ""},
    )


def hotspot_episodes(
    client: Client, month: MonthLike, organisation: str | None = None
) -> list[dict[str, Any]]:
    """Every alert episode that fired in the month, in its latest state (resolved beats firing)."""
    first = month_start(month)
    return _rows(
        client,
        "SELECT alert_id, rule_id, status, organisation, provider, site, ward, source, domain,"
        " window_start, window_end, count, threshold, severity, description, fired_at, resolved_at,"
        " sample_event_ids, organisations"
        " FROM hotspot_alerts FINAL"
        " WHERE fired_at >= {start:DateTime64(3, 'UTC')} AND fired_at < {end:DateTime64(3, 'UTC')}"
        f" AND {_ALERT_ORG_FILTER}"
        " ORDER BY fired_at, alert_id",
        {"start": first, "end": Month.containing(first).end, "org": organisation or ""},
    )


def biggest_changes(
    client: Client,
    month: MonthLike,
    level: Literal["provider", "ward"] = "provider",
    organisation: str | None = None,
    limit: int = 10,
) -> list[dict[str, Any]]:
    """Providers (or provider wards) whose event count changed most against the previous month.

    Counts are distinct events (the domain '' rows would miss multi-domain events, so this reads
    `feedback_events FINAL`); ordered by the absolute change, largest first.
    """
    if level not in ("provider", "ward"):
        raise ConfigError(f"level {level!r}: expected provider or ward")
    first = month_start(month)
    previous = Month.containing(first).previous.start
    keys = "provider" if level == "provider" else "provider, ward"
    return _rows(
        client,
        f"SELECT {keys},"
        " countIf(occurred_at >= {start:DateTime64(3, 'UTC')}) AS events,"
        " countIf(occurred_at < {start:DateTime64(3, 'UTC')}) AS previous_events,"
        " toInt64(events) - toInt64(previous_events) AS change,"
        " if(previous_events = 0, NULL, change / previous_events) AS change_ratio"
        " FROM feedback_events FINAL"
        " WHERE occurred_at >= {previous:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
        f" AND {_ORG_FILTER}"
        f" GROUP BY {keys} ORDER BY abs(change) DESC, {keys} LIMIT {{limit:UInt32}}",
        {
            "start": first,
            "previous": previous,
            "end": Month.containing(first).end,
            "org": organisation or "",
            "limit": limit,
        },
    )
