"""Migrations on the real engine: names and types the dashboards rely on, idempotent start-up,
retention TTL, and the server-only row policies."""

from __future__ import annotations

import re

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
    assert alerts["organisations"] == "Array(LowCardinality(String))"
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


def test_row_policy_migrations_are_valid_clickhouse_sql(client):
    """No server here to enforce them; the engine's parser at least checks every statement."""
    migrations = [m for m in load_migrations() if "access_management" in m.requires]
    assert [m.name for m in migrations] == [
        "row_policies",
        "alert_organisations_policy",
        "actions_row_policies",
    ]
    for policies in migrations:
        statements = policies.statements()
        assert any("ROW POLICY" in s and "getSetting('SQL_pxstream_organisation')" in s for s in statements)
        for statement in statements:
            client.query(f"EXPLAIN AST {statement}")


def alerts_policy() -> str:
    """The USING expression of the last migration that sets the alerts' organisation policy."""
    statements = [
        s
        for m in load_migrations()
        for s in m.statements()
        if re.search(r"ROW POLICY .*pxstream_org_alerts", s)
    ]
    return re.search(r"USING (.*) AS permissive", statements[-1], re.S).group(1)


def test_an_organisation_sees_every_alert_its_events_counted_toward(client):
    """The embedded engine has no users to log in as, so the policy's expression is evaluated as
    the server would for a dashboard user whose SQL_pxstream_organisation is each code."""
    ensure_schema(client)
    client.insert(
        "hotspot_alerts",
        [
            ["shared", "", ["QKK", "QWE"]],  # a provider-and-ward rule: no organisation in the group
            ["qkk-only", "", ["QKK"]],
            ["grouped", "QWE", ["QWE"]],  # a rule that groups by organisation
            ["nobody", "", []],
        ],
        column_names=["alert_id", "organisation", "organisations"],
    )
    expression = alerts_policy().replace("getSetting('SQL_pxstream_organisation')", "{org:String}")
    seen = {
        org: {
            a
            for (a,) in client.query(
                f"SELECT alert_id FROM hotspot_alerts FINAL WHERE {expression}", parameters={"org": org}
            ).result_rows
        }
        for org in ("QKK", "QWE", "QOP")
    }
    assert seen == {"QKK": {"shared", "qkk-only"}, "QWE": {"shared", "grouped"}, "QOP": set()}


def test_an_existing_database_gains_alert_organisations(client, tmp_path):
    """Upgrade in place: alerts stored before the column existed get the organisations of their
    sample events (matched by id, group and window, as ids repeat across organisations)."""
    old = tmp_path / "migrations-before"
    old.mkdir()
    for migration in load_migrations():
        if migration.version <= 7:
            (old / f"{migration.version:04d}_{migration.name}.sql").write_text(migration.sql)
    apply_migrations(client, old)
    t0 = 1_780_000_000_000
    hour = 3_600_000
    columns = ["alert_id", "rule_id", "status", "organisation", "provider", "ward", "window_start",
               "window_end", "fired_at", "sample_event_ids", "version"]  # fmt: skip
    client.insert(
        "hotspot_alerts",
        [
            ["ward", "r", "firing", "", "RX1", "Ward 7", t0, t0 + hour, t0, ["x1", "x2", "x3"], 1],
            ["grouped", "r", "resolved", "QOP", "RX1", "", t0, t0 + hour, t0, ["zz"], (1 << 48) | 2],
            ["expired", "r", "firing", "", "RX9", "", t0, t0 + hour, t0, ["gone"], 3],
        ],
        column_names=columns,
    )
    client.insert(
        "feedback_events",
        [
            ["x1", "QKK", "RX1", "Ward 7", t0 + 1],
            ["x2", "QWE", "RX1", "Ward 7", t0 + 2],
            ["x3", "QKK", "RX1", "Ward 7", t0 + 3],
            ["x3", "QZZ", "RX2", "Ward 7", t0 + 3],  # the same id at another provider: not this alert's
            ["x1", "QAA", "RX1", "Ward 7", t0 + 5 * hour],  # the same id outside the window
        ],
        column_names=["event_id", "organisation", "provider", "ward", "occurred_at"],
    )
    assert [m for m in apply_migrations(client) if m.startswith("0008")] == ["0008_alert_organisations"]
    expected = [
        ("expired", "firing", []),
        ("grouped", "resolved", ["QOP"]),
        ("ward", "firing", ["QKK", "QWE"]),
    ]
    query = "SELECT alert_id, status, organisations FROM hotspot_alerts FINAL ORDER BY alert_id"
    assert client.query(query).result_rows == expected
    # Run again (a crash before it was recorded): the same rows, collapsed.
    (migration,) = [m for m in load_migrations() if m.version == 8]
    for statement in migration.statements():
        client.command(statement)
    assert client.query(query).result_rows == expected
    assert client.query("SELECT count() FROM hotspot_alerts FINAL").result_rows == [(3,)]
