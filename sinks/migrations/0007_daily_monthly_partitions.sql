-- feedback_daily was partitioned by year, the base table by month. With insert
-- de-duplication that matters: a retried batch whose first attempt died after its January part
-- landed produces a yearly rollup part with the same de-duplication id as the January-only
-- one, and the engine dropped the February and March counts with it. Every rollup table is now
-- partitioned by the same month as feedback_events, so each base part maps to exactly one
-- rollup part and a retry completes what is missing. Rebuilt from the base table (FINAL), so
-- re-running this file after a crash gives the same result.
DROP VIEW IF EXISTS feedback_daily_mv;
DROP TABLE IF EXISTS feedback_daily;
CREATE TABLE feedback_daily
(
    day Date,
    organisation LowCardinality(String),
    provider LowCardinality(String),
    site LowCardinality(String),
    ward String,
    domain LowCardinality(String),
    source LowCardinality(String),
    events UInt64,
    negative UInt64,
    positive UInt64,
    sentiment_sum Float64
)
ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (organisation, provider, ward, domain, source, site, day)
SETTINGS non_replicated_deduplication_window = 10000;
CREATE MATERIALIZED VIEW feedback_daily_mv TO feedback_daily AS
SELECT
    toDate(occurred_at) AS day,
    organisation,
    provider,
    site,
    ward,
    arrayJoin(if(empty(domains), [''], CAST(domains, 'Array(String)'))) AS domain,
    source,
    count() AS events,
    countIf(sentiment < -0.2) AS negative,
    countIf(sentiment > 0.2) AS positive,
    sum(toFloat64(sentiment)) AS sentiment_sum
FROM feedback_events
GROUP BY day, organisation, provider, site, ward, domain, source;
INSERT INTO feedback_daily
SELECT
    toDate(occurred_at) AS day,
    organisation,
    provider,
    site,
    ward,
    arrayJoin(if(empty(domains), [''], CAST(domains, 'Array(String)'))) AS domain,
    source,
    count() AS events,
    countIf(sentiment < -0.2) AS negative,
    countIf(sentiment > 0.2) AS positive,
    sum(toFloat64(sentiment)) AS sentiment_sum
FROM feedback_events FINAL
GROUP BY day, organisation, provider, site, ward, domain, source;
