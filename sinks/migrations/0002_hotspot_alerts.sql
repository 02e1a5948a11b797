-- One row per alert_id in its latest state after FINAL. `version` puts the status rank in the
-- high bits (resolved beats firing whatever order the messages arrive in) and the Kafka offset in
-- the low bits (a later message of the same status wins).
-- Not partitioned: alerts are few, and fired_at may move between an episode's messages, which
-- would put its rows in different partitions where FINAL could not collapse them.
CREATE TABLE IF NOT EXISTS hotspot_alerts
(
    alert_id String,
    rule_id LowCardinality(String),
    status LowCardinality(String),
    organisation LowCardinality(String),
    provider LowCardinality(String),
    site LowCardinality(String),
    ward String,
    source LowCardinality(String),
    domain LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_end DateTime64(3, 'UTC'),
    count UInt32,
    threshold Float64,
    severity LowCardinality(String),
    description String,
    fired_at DateTime64(3, 'UTC'),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    sample_event_ids Array(String),
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    ingested_at DateTime64(3, 'UTC'),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (organisation, rule_id, alert_id)
SETTINGS non_replicated_deduplication_window = 10000;
