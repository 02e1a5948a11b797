"""Kafka records → ClickHouse columns, and the guard that keeps raw feedback out.

Rows are built column by column (one list per column) because clickhouse-connect then writes
each column straight into the Native format without pivoting. Timestamps become integer
milliseconds, which DateTime64(3) takes as-is.

Defence in depth: the stream redacts text before `feedback.tagged`, but a record that lacks
`tagger_version` or `redactions` was never through the redactor (a raw FeedbackEvent on the
wrong topic, a test producer, a bug), so it is refused here: counted and logged by position
only - never by content.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.alert import ALERT_FIELDS, GROUP_FIELDS

# Where each row came from and when it was written: lets a retried batch be recognised, and
# ReplacingMergeTree keep the latest version.
DELIVERY_COLUMNS: tuple[str, ...] = (
    "kafka_topic",
    "kafka_partition",
    "kafka_offset",
    "ingested_at",
    "version",
)

EVENT_COLUMNS: tuple[str, ...] = (
    "event_id",
    "source",
    "organisation",
    "provider",
    "site",
    "ward",
    "occurred_at",
    "received_at",
    "text",
    "domains",
    "themes",
    "sentiment",
    "severity",
    "rating",
    "reporter",
    "category_codes",
    "domain_scores",
    "redaction_count",
    "tagger_version",
    *DELIVERY_COLUMNS,
)

# Alert v1's fields as columns: the `group` object becomes one column per field a rule may group
# by, followed by the delivery columns.
ALERT_COLUMNS: tuple[str, ...] = (
    *(column for name in ALERT_FIELDS for column in (GROUP_FIELDS if name == "group" else (name,))),
    *DELIVERY_COLUMNS,
)

# What one row stands for (docs/tenancy.md): an event is (organisation, event_id) - two
# organisations may use the same id - and an alert its alert_id.
EVENT_IDENTITY: tuple[str, ...] = ("organisation", "event_id")
ALERT_IDENTITY: tuple[str, ...] = ("alert_id",)

_STATUS_RANK = {"firing": 0, "resolved": 1}
_OFFSET_BITS = 48


class RefusedRecord(ValueError):
    """A record the sink will not store; `reason` is a short code safe for logs and metrics."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Position:
    topic: str
    partition: int
    offset: int


def to_millis(value: Any, field_name: str) -> int:
    if not isinstance(value, str):
        raise RefusedRecord("invalid_field", f"{field_name} is not a timestamp string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise RefusedRecord("invalid_field", f"{field_name} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _text(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def decode(value: bytes | None) -> dict[str, Any]:
    if value is None:
        raise RefusedRecord("empty_value")
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise RefusedRecord("bad_json") from None
    if not isinstance(record, dict):
        raise RefusedRecord("not_an_object")
    return record


def event_row(record: dict[str, Any], position: Position, ingested_ms: int) -> tuple[Any, ...]:
    """One `feedback_events` row, in EVENT_COLUMNS order; raises RefusedRecord."""
    redactions = record.get("redactions")
    tagger_version = record.get("tagger_version")
    if not isinstance(redactions, dict) or not isinstance(tagger_version, str) or not tagger_version:
        raise RefusedRecord("not_redacted", "no tagger_version/redactions: not through the redactor")
    event_id = record.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise RefusedRecord("invalid_field", "event_id missing")
    occurred = to_millis(record.get("occurred_at"), "occurred_at")
    received_raw = record.get("received_at")
    received = to_millis(received_raw, "received_at") if received_raw is not None else ingested_ms
    sentiment = record.get("sentiment", 0.0)
    if not isinstance(sentiment, int | float):
        raise RefusedRecord("invalid_field", "sentiment is not a number")
    rating = record.get("rating")
    scores = record.get("domain_scores")
    redaction_count = sum(v for v in redactions.values() if isinstance(v, int) and v > 0)
    return (
        event_id,
        _text(record, "source"),
        _text(record, "organisation"),
        _text(record, "provider"),
        _text(record, "site"),
        _text(record, "ward"),
        occurred,
        received,
        _text(record, "text"),
        _strings(record.get("domains")),
        _strings(record.get("themes")),
        float(sentiment),
        _text(record, "severity"),
        rating if isinstance(rating, int) and 0 <= rating <= 255 else None,
        _text(record, "reporter"),
        _strings(record.get("category_codes")),
        {str(k): float(v) for k, v in scores.items() if isinstance(v, int | float)}
        if isinstance(scores, dict)
        else {},
        min(redaction_count, 65535),
        tagger_version,
        position.topic,
        position.partition,
        position.offset,
        ingested_ms,
        ingested_ms,
    )


def alert_row(record: dict[str, Any], position: Position, ingested_ms: int) -> tuple[Any, ...]:
    """One `hotspot_alerts` row, in ALERT_COLUMNS order; raises RefusedRecord.

    `version` ranks resolved above firing, then later offsets above earlier ones, so FINAL keeps
    the episode's latest state whatever order its messages were stored in.
    """
    alert_id = record.get("alert_id")
    if not isinstance(alert_id, str) or not alert_id:
        raise RefusedRecord("invalid_field", "alert_id missing")
    status = record.get("status")
    if status not in _STATUS_RANK:
        raise RefusedRecord("invalid_field", "status is not firing/resolved")
    group = record.get("group") if isinstance(record.get("group"), dict) else {}
    resolved_raw = record.get("resolved_at")
    count = record.get("count", 0)
    threshold = record.get("threshold", 0.0)
    if not isinstance(count, int | float) or not isinstance(threshold, int | float):
        raise RefusedRecord("invalid_field", "count/threshold is not a number")
    fired = to_millis(record.get("fired_at"), "fired_at")
    # The group's organisation counted toward the episode too, whatever an older producer sent.
    organisations = {*_strings(record.get("organisations")), str(group.get("organisation") or "")}
    return (
        alert_id,
        _text(record, "rule_id"),
        status,
        *(str(group.get(name) or "") for name in GROUP_FIELDS),
        to_millis(record.get("window_start"), "window_start"),
        to_millis(record.get("window_end"), "window_end"),
        max(0, min(int(count), 2**32 - 1)),
        float(threshold),
        _text(record, "severity"),
        _text(record, "description"),
        fired,
        to_millis(resolved_raw, "resolved_at") if resolved_raw else None,
        _strings(record.get("sample_event_ids"))[:10],
        sorted(organisations - {""}),
        position.topic,
        position.partition,
        position.offset,
        ingested_ms,
        (_STATUS_RANK[status] << _OFFSET_BITS) | (position.offset & ((1 << _OFFSET_BITS) - 1)),
    )


@dataclass
class ColumnBatch:
    """Rows for one table from one topic-partition, covering offsets first..last inclusive.

    `first_offset`/`last_offset` are the Kafka offsets of the first and last record taken
    (stored or refused), so the range - and the de-duplication token made from it - is the
    same whenever the batch is rebuilt from the same records.
    """

    table: str
    columns: tuple[str, ...]
    topic: str
    partition: int
    first_offset: int = -1
    last_offset: int = -1
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, offset: int, row: tuple[Any, ...] | None) -> None:
        if self.first_offset < 0:
            self.first_offset = offset
        self.last_offset = offset
        if row is not None:
            self.rows.append(row)

    @property
    def records(self) -> int:
        return 0 if self.first_offset < 0 else self.last_offset - self.first_offset + 1

    def dedup_token(self, consumer_group: str) -> str:
        span = f"{self.first_offset}-{self.last_offset}"
        return f"pxstream-sink:{consumer_group}:{self.topic}:{self.partition}:{span}"

    def stamp(self, consumer_group: str) -> int:
        """The batch's identity as a UInt64 (stored in each row as `sink_batch`)."""
        digest = hashlib.blake2b(self.dedup_token(consumer_group).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    def __post_init__(self) -> None:
        if "event_id" in self.columns:
            names = EVENT_IDENTITY
        elif "alert_id" in self.columns:
            names = ALERT_IDENTITY
        else:
            names = self.columns[:1]  # other tables (action_history) lead with their row's id
        self._identity = tuple(self.columns.index(name) for name in names)

    def identity(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        """What the row stands for: (organisation, event_id) for an event, alert_id for an alert."""
        return tuple(row[index] for index in self._identity)

    def unique_rows(self) -> list[tuple[Any, ...]]:
        """One row per identity, the highest version (last column), later rows winning ties.

        An event is stored once even when it occurs twice within a batch (two organisations'
        events with the same id are two events), and an alert's resolved message beats its firing
        one even when they arrive out of order.
        """
        best: dict[Any, tuple[Any, ...]] = {}
        for row in self.rows:
            identity = self.identity(row)
            kept = best.get(identity)
            if kept is None or row[-1] >= kept[-1]:
                best[identity] = row
        return list(best.values())
