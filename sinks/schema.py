"""Versioned migrations (`sinks/migrations/NNNN_name.sql`), applied idempotently at start.

Each file runs once and is recorded in `schema_migrations`; every statement is also written
with IF NOT EXISTS, so a process killed half-way through a file simply runs it again. A file
whose first line is `-- pxstream: requires=access_management` (users, roles, row policies) is
skipped when its first statement is refused for want of privileges - always on the embedded
engine, which has no access control - and tried again at every start.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sinks.exceptions import MigrationError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_REQUIRES = re.compile(r"^--\s*pxstream:\s*requires=([a-z_,]+)", re.MULTILINE)

SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""

RETENTION_TABLES: dict[str, str] = {
    "feedback_events": "toDateTime(occurred_at)",
    "hotspot_alerts": "toDateTime(fired_at)",
    "feedback_hourly": "hour",
    "feedback_daily": "day",
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    requires: frozenset[str]

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]

    def statements(self) -> list[str]:
        """Split on `;` at a line end; comments are dropped so each statement is plain SQL."""
        body = "\n".join(line for line in self.sql.splitlines() if not line.lstrip().startswith("--"))
        return [stmt.strip() for stmt in re.split(r";\s*(?:\n|$)", body) if stmt.strip()]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        sql = path.read_text(encoding="utf-8")
        requires = _REQUIRES.search(sql)
        migrations.append(
            Migration(
                version=int(match.group(1)),
                name=match.group(2),
                sql=sql,
                requires=frozenset(requires.group(1).split(",")) if requires else frozenset(),
            )
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{directory}: two migration files share a version number")
    return migrations


def applied_versions(client: Client) -> set[int]:
    client.command(SCHEMA_MIGRATIONS_DDL)
    return {row[0] for row in client.query("SELECT DISTINCT version FROM schema_migrations").result_rows}


def _access_denied(exc: BaseException) -> bool:
    text = str(exc)
    return "ACCESS_DENIED" in text or "Code: 497" in text or "Not enough privileges" in text


def apply_migrations(client: Client, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is missing, in order; return the names applied now."""
    done = applied_versions(client)
    applied = []
    for migration in load_migrations(directory):
        if migration.version in done:
            continue
        for index, statement in enumerate(migration.statements(), start=1):
            try:
                client.command(statement)
            except Exception as exc:
                if "access_management" in migration.requires and index == 1 and _access_denied(exc):
                    # The embedded engine has no access control, and a server's writer user may
                    # lack it: the sink still runs, and an admin applies this file by hand.
                    log.info(
                        "migration %04d_%s skipped: needs a user with access management",
                        migration.version,
                        migration.name,
                    )
                    break
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql statement {index} failed: "
                    f"{str(exc).strip().splitlines()[0][:300]}"
                ) from exc
        else:
            client.insert(
                "schema_migrations",
                [[migration.version, migration.name, migration.checksum]],
                column_names=["version", "name", "checksum"],
            )
            applied.append(f"{migration.version:04d}_{migration.name}")
            log.info("migration %04d_%s applied", migration.version, migration.name)
    return applied


def apply_retention(client: Client, days: int | None) -> list[str]:
    """Set (or, with None/0, remove) the retention TTL; only tables whose TTL differs are altered.

    Altering the TTL rewrites parts, so it is skipped when the table already has this TTL.
    """
    changed = []
    for table, time_expr in RETENTION_TABLES.items():
        rows = client.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            parameters={"t": table},
        ).result_rows
        if not rows:
            continue
        engine_full = rows[0][0]
        current = re.search(r"TTL .*? \+ (?:toIntervalDay\((\d+)\)|INTERVAL (\d+) DAY)", engine_full)
        current_days = int(current.group(1) or current.group(2)) if current else None
        wanted = days or None
        if current_days == wanted:
            continue
        if wanted is None:
            client.command(f"ALTER TABLE {table} REMOVE TTL")
        else:
            client.command(f"ALTER TABLE {table} MODIFY TTL {time_expr} + INTERVAL {int(wanted)} DAY")
        changed.append(table)
    return changed


def ensure_schema(client: Client, retention_days: int | None = None) -> list[str]:
    applied = apply_migrations(client)
    apply_retention(client, retention_days)
    return applied
