-- The sink's batch journal: written just before a batch's insert, so that after a crash the
-- sink replays exactly the same offset ranges with exactly the same insert_deduplication_token
-- (deterministic batch boundaries), and the engine drops every part that already landed - in
-- the base table and in the materialized views alike.
CREATE TABLE IF NOT EXISTS sink_batches
(
    consumer_group LowCardinality(String),
    topic LowCardinality(String),
    partition UInt32,
    first_offset UInt64,
    last_offset UInt64,
    rows UInt32,
    planned_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (consumer_group, topic, partition, first_offset)
TTL toDateTime(planned_at) + INTERVAL 30 DAY;
