"""The import ledger: what this machine has already sent from which file.

Idempotence has two layers. Event ids are deterministic (the export's own reference, or a
hash of chosen columns), so even a full re-send only produces duplicates that every later stage
collapses on `event_id`. On top of that this ledger, one SQLite file per source name under
`PXSTREAM_DATA_DIR/connectors/file-imports/`, makes re-imports cheap and quiet:

- a file whose bytes and mapping are unchanged since a completed import sends nothing;
- a changed file (rows appended, a row corrected) sends only rows that are new or whose
  content changed (a digest per event id, ignoring `received_at`).

Rows are recorded only after Kafka acknowledged them, so a crash mid-import re-sends at most
the unacknowledged batch on the next run.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import orjson

from connectors.exceptions import ConnectorConfigError
from schemas.feedback_event import FeedbackEvent


def content_digest(event: FeedbackEvent) -> bytes:
    content = {key: value for key, value in event.items() if key != "received_at"}
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=12).digest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class ImportLedger:
    def __init__(self, data_dir: Path, source_name: str) -> None:
        self.path = Path(data_dir) / "connectors" / "file-imports" / f"{source_name}.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path)
            self._db.executescript(
                """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=NORMAL;
                CREATE TABLE IF NOT EXISTS sent (
                    event_id TEXT PRIMARY KEY, digest BLOB NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS imports (
                    file_sha256 TEXT NOT NULL, mapping_sha256 TEXT NOT NULL, file_name TEXT NOT NULL,
                    rows INTEGER NOT NULL, sent INTEGER NOT NULL, rejected INTEGER NOT NULL,
                    finished_at TEXT NOT NULL, PRIMARY KEY (file_sha256, mapping_sha256));
                """
            )
        except sqlite3.DatabaseError as exc:
            raise ConnectorConfigError(
                f"import ledger {self.path} is unusable ({exc}); move it aside to re-import from scratch"
            ) from exc

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ImportLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def completed(self, file_sha256: str, mapping_sha256: str) -> tuple[str, str] | None:
        """(file name, finished_at) of an earlier completed import of these exact bytes and mapping."""
        row = self._db.execute(
            "SELECT file_name, finished_at FROM imports WHERE file_sha256 = ? AND mapping_sha256 = ?",
            (file_sha256, mapping_sha256),
        ).fetchone()
        return (row[0], row[1]) if row else None

    def unsent(self, events: Sequence[FeedbackEvent]) -> list[tuple[FeedbackEvent, bytes]]:
        """The events (with their digests) that are new or changed since they were last sent."""
        digests = [content_digest(event) for event in events]
        known: dict[str, bytes] = {}
        ids = [event["event_id"] for event in events]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            known.update(
                self._db.execute(f"SELECT event_id, digest FROM sent WHERE event_id IN ({marks})", chunk)
            )
        return [
            (event, digest)
            for event, digest in zip(events, digests, strict=True)
            if known.get(event["event_id"]) != digest
        ]

    def record(self, sent: Iterable[tuple[FeedbackEvent, bytes]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO sent (event_id, digest) VALUES (?, ?)",
                ((event["event_id"], digest) for event, digest in sent),
            )

    def finish(
        self, file_sha256: str, mapping_sha256: str, file_name: str, rows: int, sent: int, rejected: int
    ) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    file_sha256,
                    mapping_sha256,
                    file_name,
                    rows,
                    sent,
                    rejected,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                ),
            )
