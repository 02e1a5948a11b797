-- One row per event_id after FINAL (ReplacingMergeTree keeps the highest `version`).
-- Every key column is a function of event_id (the tagger never changes provider, ward or
-- occurred_at), so duplicates always meet in the same partition and sort position and collapse.
-- Absent organisation/provider/site/ward/severity/reporter are '' (never NULL), so GROUP BY and
-- row policies need no NULL handling.
-- non_replicated_deduplication_window: the sink inserts with insert_deduplication_token derived
-- from the batch's Kafka offsets, so a retried batch is dropped by the engine itself.
CREATE TABLE IF NOT EXISTS feedback_events
(
    event_id String,
    source LowCardinality(String),
    organisation LowCardinality(String),
    provider LowCardinality(String),
    site LowCardinality(String),
    ward String,
    occurred_at DateTime64(3, 'UTC'),
    received_at DateTime64(3, 'UTC'),
    text String,
    domains Array(LowCardinality(String)),
    themes Array(LowCardinality(String)),
    sentiment Float32,
    severity LowCardinality(String),
    rating Nullable(UInt8),
    reporter LowCardinality(String),
    category_codes Array(String),
    domain_scores Map(String, Float32),
    redaction_count UInt16,
    tagger_version LowCardinality(String),
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC'),
    version UInt64,
    INDEX idx_event_id event_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (organisation, provider, ward, occurred_at, event_id)
SETTINGS non_replicated_deduplication_window = 10000;
