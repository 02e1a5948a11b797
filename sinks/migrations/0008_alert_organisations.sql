-- Alert v1 `organisations` (docs/tenancy.md): every organisation whose events counted toward an
-- episode, whatever the rule groups by. The row policies (0009) and the dashboards read it, so
-- each organisation sees the hotspots on its own wards.
--
-- On an existing database: rows stored before this column existed read it through the DEFAULT
-- (the group's organisation when the rule grouped by one, else empty). Those still empty are then
-- filled from their sample events - matched by id *and* by the alert's group and window, since
-- an id alone may belong to several organisations - and written again as a new row with the same
-- `version`, which ReplacingMergeTree resolves to the last inserted. An episode without samples
-- stored in `feedback_events` (expired, or never sunk) keeps an empty list: visible to operators,
-- not to a tenant. Re-running the file after a crash inserts the same rows again, which collapse.
--
-- feedback_events needs no key change: its sorting key, which ReplacingMergeTree collapses on,
-- already begins with `organisation` and ends with `event_id`; the sink's own duplicate check is
-- what matched ids across organisations, and it now matches (organisation, event_id).
ALTER TABLE hotspot_alerts
    ADD COLUMN IF NOT EXISTS organisations Array(LowCardinality(String))
    DEFAULT if(organisation = '', [], [organisation]) AFTER sample_event_ids;
INSERT INTO hotspot_alerts
(
    alert_id, rule_id, status, organisation, provider, site, ward, source, domain,
    window_start, window_end, count, threshold, severity, description, fired_at, resolved_at,
    sample_event_ids, organisations, kafka_topic, kafka_partition, kafka_offset, ingested_at, version
)
SELECT
    a.alert_id, a.rule_id, a.status, a.organisation, a.provider, a.site, a.ward, a.source, a.domain,
    a.window_start, a.window_end, a.count, a.threshold, a.severity, a.description, a.fired_at,
    a.resolved_at, a.sample_event_ids, found.organisations, a.kafka_topic, a.kafka_partition,
    a.kafka_offset, a.ingested_at, a.version
FROM hotspot_alerts AS a FINAL
INNER JOIN
(
    SELECT s.alert_id AS alert_id, arraySort(groupUniqArray(e.organisation)) AS organisations
    FROM
    (
        SELECT alert_id, provider, site, ward, source, domain, window_start, window_end,
               arrayJoin(sample_event_ids) AS event_id
        FROM hotspot_alerts FINAL
        WHERE empty(organisations)
    ) AS s
    INNER JOIN
    (
        SELECT event_id, organisation, provider, site, ward, source, domains, occurred_at
        FROM feedback_events FINAL
        WHERE organisation != ''
          AND event_id IN (SELECT arrayJoin(sample_event_ids) FROM hotspot_alerts WHERE empty(organisations))
    ) AS e ON e.event_id = s.event_id
    WHERE (s.provider = '' OR e.provider = s.provider)
      AND (s.site = '' OR e.site = s.site)
      AND (s.ward = '' OR e.ward = s.ward)
      AND (s.source = '' OR e.source = s.source)
      AND (s.domain = '' OR has(e.domains, s.domain))
      AND e.occurred_at >= s.window_start AND e.occurred_at < s.window_end
    GROUP BY s.alert_id
) AS found ON found.alert_id = a.alert_id
WHERE empty(a.organisations);
