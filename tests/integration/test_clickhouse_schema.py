"""Migrations on the real engine: names and types the dashboards rely on, idempotent start-up,
retention TTL, and the server-only row policies."""

from __future__ import annotations

import pytest

from sinks.client import connect
from sinks.schema import apply_migrations, apply_retention, ensure_schema, load_migrations

pytestmark = pytest.mark.integration


@pytest.fixture
def client(tmp_path):
    ch = connect(f"chdb://{tmp_path / 'clickhouse'}")
    yield ch
    ch.close()


def columns(client, table: str) -> dict[str, str]:
    rows = client.query(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = {t:String}",
        parameters={"t": table},
    ).result_rows
    return dict(rows)


def test_tables_have_the_contract_columns_and_types(client):
    ensure_schema(client)
    events = columns(client, "feedback_events")
    assert events["occurred_at"] == "DateTime64(3, 'UTC')"
    assert events["domains"] == "Array(LowCardinality(String))"
    assert events["domain_scores"] == "Map(String, Float32)"
    assert events["rating"] == "Nullable(UInt8)"
    assert events["redaction_count"] == "UInt16"
    assert events["sentiment"] == "Float32"
    for name in [
        "event_id", "source", "organisation", "provider", "site", "ward", "received_at", "text",
        "themes", "severity", "reporter", "category_codes", "tagger_version", "version", "ingested_at",
    ]:  # fmt: skip
        assert name in events, name
    alerts = columns(client, "hotspot_alerts")
    assert alerts["resolved_at"] == "Nullable(DateTime64(3, 'UTC'))"
    assert alerts["count"] == "UInt32"
    assert alerts["threshold"] == "Float64"
    assert alerts["sample_event_ids"] == "Array(String)"
    for name in [
        "alert_id", "rule_id", "status", "organisation", "provider", "site", "ward", "source",
        "domain", "window_start", "window_end", "severity", "description", "fired_at", "version",
    ]:  # fmt: skip
        assert name in alerts, name
    rollup_columns = ["organisation", "provider", "site", "ward", "domain", "source"]
    for table, bucket, bucket_type in [
        ("feedback_hourly", "hour", "DateTime('UTC')"),
        ("feedback_daily", "day", "Date"),
    ]:
        rollup = columns(client, table)
        assert rollup[bucket] == bucket_type
        assert all(name in rollup for name in rollup_columns)
        assert (rollup["events"], rollup["negative"], rollup["positive"]) == ("UInt64",) * 3
        assert rollup["sentiment_sum"] == "Float64"


def test_migrations_apply_once_and_restart_cleanly(client):
    first = ensure_schema(client)
    assert first[:4] == [
        "0001_feedback_events",
        "0002_hotspot_alerts",
        "0003_feedback_rollups",
        "0004_sink_batches",
    ]
    assert "0005_row_policies" not in first  # no access control in the embedded engine
    assert ensure_schema(client) == []
    recorded = client.query("SELECT version FROM schema_migrations ORDER BY version").result_rows
    assert [v for (v,) in recorded] == [m.version for m in load_migrations() if not m.requires]


def test_a_migration_interrupted_half_way_is_completed_on_the_next_start(client):
    rollups = next(m for m in load_migrations() if m.name == "feedback_rollups")
    apply_migrations(client)
    client.command(
        "DELETE FROM schema_migrations WHERE version = {v:UInt32}", parameters={"v": rollups.version}
    )
    client.command("DROP VIEW feedback_daily_mv")  # as if the process died before this statement
    apply_migrations(client)
    views = client.query("SELECT name FROM system.tables WHERE engine = 'MaterializedView'").result_rows
    assert {"feedback_hourly_mv", "feedback_daily_mv"} <= {v for (v,) in views}


def test_retention_ttl_is_configurable_and_only_altered_when_it_changes(client):
    ensure_schema(client)
    assert set(apply_retention(client, 400)) == {
        "feedback_events",
        "hotspot_alerts",
        "feedback_hourly",
        "feedback_daily",
    }
    engine = client.query("SELECT engine_full FROM system.tables WHERE name = 'feedback_events'").result_rows[
        0
    ][0]
    assert "TTL" in engine and "400" in engine
    assert apply_retention(client, 400) == []
    assert len(apply_retention(client, None)) == 4
    engine = client.query("SELECT engine_full FROM system.tables WHERE name = 'feedback_daily'").result_rows[
        0
    ][0]
    assert "TTL" not in engine


def test_row_policy_migration_is_valid_clickhouse_sql(client):
    """No server here to enforce it; the engine's parser at least checks every statement."""
    migrations = [m for m in load_migrations() if "access_management" in m.requires]
    assert migrations
    for policies in migrations:
        statements = policies.statements()
        assert any("ROW POLICY" in s and "getSetting('SQL_pxstream_organisation')" in s for s in statements)
        for statement in statements:
            client.query(f"EXPLAIN AST {statement}")
