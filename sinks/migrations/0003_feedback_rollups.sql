-- Pre-aggregated counts for dashboards: read with sum(events), sum(negative), ... GROUP BY.
-- An event with two domains counts once under each; an event with none counts under domain ''.
-- The views count at insert time, so the sink never inserts an event_id twice (it filters ids
-- already stored) and retried batches carry the same insert_deduplication_token, which
-- deduplicate_blocks_in_dependent_materialized_views carries into these tables.
CREATE TABLE IF NOT EXISTS feedback_hourly
(
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (organisation, provider, ward, domain, source, site, hour)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS feedback_daily
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
PARTITION BY toYear(day)
ORDER BY (organisation, provider, ward, domain, source, site, day)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_hourly_mv TO feedback_hourly AS
SELECT
    toStartOfHour(occurred_at) AS hour,
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
GROUP BY hour, organisation, provider, site, ward, domain, source;

CREATE MATERIALIZED VIEW IF NOT EXISTS feedback_daily_mv TO feedback_daily AS
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
