"""SQL fragments every ClickHouse panel shares.

Every query filters by the organisation variable even though ClickHouse row policies already limit
each organisation's Grafana data source to its own rows: two independent fences, so a mis-set policy
does not show one commissioner another's feedback.
"""

from __future__ import annotations

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
