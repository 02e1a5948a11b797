"""SQL fragments every ClickHouse panel shares.

Every query filters by the organisation variable even though ClickHouse row policies already limit
each organisation's Grafana data source to its own rows: two independent fences, so a mis-set policy
does not show one commissioner another's feedback.
"""

from __future__ import annotations

from schemas.domains import DOMAIN_IDS, DOMAIN_SHORT_LABELS

ORG = "organisation = ${organisation:singlequote}"
# Alerts: every episode the organisation's events counted toward, whatever the rule groups by
# (docs/tenancy.md); the same test as the alerts' row policy.
ALERT_ORG = "has(organisations, ${organisation:singlequote})"
ONE_PROVIDER = "provider = ${provider:singlequote}"
PROVIDERS = "provider IN (${provider:singlequote})"
ONE_WARD = "ward = ${ward:singlequote}"
WARDS = "ward IN (${ward:singlequote})"
DOMAIN_ROWS = "domain IN (${domain:singlequote})"
DOMAIN_EVENTS = "hasAny(domains, [${domain:singlequote}])"

# Whole days of the dashboard's time range, for the day-grained rollup.
DAYS_IN_RANGE = "day >= toDate($__fromTime) AND day <= toDate($__toTime)"

# "Negative" and "positive" for event rows: the same thresholds the sink's rollup views use
# (sinks/migrations/0003_feedback_rollups.sql), so a count on an event table and on a rollup agree.
NEGATIVE_EVENT = "sentiment < -0.2"
POSITIVE_EVENT = "sentiment > 0.2"

VAR_ORGANISATION = (
    "SELECT DISTINCT organisation FROM feedback_daily WHERE organisation != '' ORDER BY organisation"
)
VAR_PROVIDER = (
    f"SELECT DISTINCT provider FROM feedback_daily\nWHERE {ORG} AND provider != '' ORDER BY provider"
)
VAR_WARD_OF_PROVIDER = (
    f"SELECT DISTINCT ward FROM feedback_daily\nWHERE {ORG} AND {ONE_PROVIDER} AND ward != '' ORDER BY ward"
)


def sql_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def domain_label(column: str = "domain") -> str:
    """SQL that turns a domain id into its short wall-screen label (unknown ids pass through)."""
    labels = [DOMAIN_SHORT_LABELS[d] for d in DOMAIN_IDS]
    return f"transform({column}, {sql_list(DOMAIN_IDS)}, {sql_list(labels)}, {column})"


def domain_columns(aggregate: str, argument: str, *, domain_column: str = "domain") -> str:
    """One column per domain named by its short label, e.g. ``sumIf(events, domain = '…') AS `Safe care```.

    Wide results need no long-to-wide conversion in Grafana, always carry all five domains (zeros
    included) and let every domain keep a fixed colour.
    """
    return ",\n  ".join(
        f"{aggregate}({_arg(argument)}{domain_column} = {_q(d)}) AS `{DOMAIN_SHORT_LABELS[d]}`"
        for d in DOMAIN_IDS
    )


def domain_has_columns(aggregate: str, argument: str, *, array_column: str = "domains") -> str:
    """As `domain_columns`, for event rows whose domains are an array: ``countIf(has(domains, '…'))``."""
    return ",\n  ".join(
        f"{aggregate}({_arg(argument)}has({array_column}, {_q(d)})) AS `{DOMAIN_SHORT_LABELS[d]}`"
        for d in DOMAIN_IDS
    )


def _arg(argument: str) -> str:
    return f"{argument}, " if argument else ""


def _q(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"
