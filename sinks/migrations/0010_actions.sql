-- Follow-up actions (docs/actions-api.md). The actions stage writes each action's whole new state
-- to the `actions` topic after every change; the sink stores every version it reads in
-- `action_history`, and a materialized view keeps the latest state per action in `actions`.
--
-- action_history: one row per (action_id, version) after FINAL. `history_id` is action_id@version,
-- the sink's key for collapsing a version delivered twice within a batch; ReplacingMergeTree on the
-- Kafka offset keeps the latest delivery of a version the stage wrote again after a restart.
-- `change`, `changed_at`, `changed_by` and `note` are the history entry that made this version
-- (note, outcome and changed_by are redacted by the stage before they reach the topic).
-- Not partitioned: actions are few, and an action's versions must meet in one part to collapse.
CREATE TABLE IF NOT EXISTS action_history
(
    history_id String,
    action_id String,
    version UInt32,
    rule_id LowCardinality(String),
    title String,
    status LowCardinality(String),
    overdue Bool,
    escalation_level UInt8,
    owner LowCardinality(String),
    notify LowCardinality(String),
    organisations Array(LowCardinality(String)),
    provider LowCardinality(String),
    site LowCardinality(String),
    ward String,
    source LowCardinality(String),
    domains Array(LowCardinality(String)),
    trigger_kind LowCardinality(String),
    trigger_event_id String,
    trigger_alert_id String,
    created_at DateTime64(3, 'UTC'),
    due_at DateTime64(3, 'UTC'),
    completed_at Nullable(DateTime64(3, 'UTC')),
    outcome String,
    change LowCardinality(String),
    changed_at DateTime64(3, 'UTC'),
    changed_by String,
    note String,
    kafka_topic LowCardinality(String),
    kafka_partition UInt32,
    ingested_at DateTime64(3, 'UTC'),
    kafka_offset UInt64
)
ENGINE = ReplacingMergeTree(kafka_offset)
ORDER BY (action_id, version)
SETTINGS non_replicated_deduplication_window = 10000;

-- actions: one row per action_id after FINAL, the highest version (Action v1's own counter, so a
-- replayed older version never wins). Fed only by the view below; a retried batch carries its
-- insert_deduplication_token into the view (deduplicate_blocks_in_dependent_materialized_views),
-- and a version stored twice collapses anyway.
CREATE TABLE IF NOT EXISTS actions
(
    action_id String,
    version UInt32,
    rule_id LowCardinality(String),
    title String,
    status LowCardinality(String),
    overdue Bool,
    escalation_level UInt8,
    owner LowCardinality(String),
    notify LowCardinality(String),
    organisations Array(LowCardinality(String)),
    provider LowCardinality(String),
    site LowCardinality(String),
    ward String,
    source LowCardinality(String),
    domains Array(LowCardinality(String)),
    trigger_kind LowCardinality(String),
    trigger_event_id String,
    trigger_alert_id String,
    created_at DateTime64(3, 'UTC'),
    due_at DateTime64(3, 'UTC'),
    completed_at Nullable(DateTime64(3, 'UTC')),
    outcome String,
    last_change LowCardinality(String),
    last_changed_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY action_id
SETTINGS non_replicated_deduplication_window = 10000;

CREATE MATERIALIZED VIEW IF NOT EXISTS actions_latest_mv TO actions AS
SELECT
    action_id,
    version,
    rule_id,
    title,
    status,
    overdue,
    escalation_level,
    owner,
    notify,
    organisations,
    provider,
    site,
    ward,
    source,
    domains,
    trigger_kind,
    trigger_event_id,
    trigger_alert_id,
    created_at,
    due_at,
    completed_at,
    outcome,
    change AS last_change,
    changed_at AS last_changed_at
FROM action_history;
