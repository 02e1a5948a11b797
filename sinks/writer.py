"""Idempotent batch writes into ClickHouse: journal, duplicate check, de-duplicated insert.

Why three steps. The materialized views (`feedback_hourly`, `feedback_daily`) count at insert
time, so a row inserted twice is counted twice even after ReplacingMergeTree collapses the base
table. Two kinds of repeat can happen:

1. The same batch again (the sink died after the insert, before the Kafka commit). The batch's
   offset range is written to `sink_batches` *before* the insert, so the next owner of the
   partition rebuilds exactly the same range and inserts it with the same
   `insert_deduplication_token`; the engine drops every part that already landed, in the base
   table and - with `deduplicate_blocks_in_dependent_materialized_views` - in the views too,
   and writes only what is missing (an insert killed half-way is completed, not doubled).
2. The same event at another offset (the stream re-published it after its own restart). The
   writer asks which events of the batch - (organisation, event_id) pairs, since two
   organisations may use the same id (docs/tenancy.md) - are already stored from *other* offsets
   and leaves them out. A partition has one writer at a time (the consumer group), and a
   provider's events stay in one partition, so this check-then-insert is not racing anyone.

Alerts need only (1) and ReplacingMergeTree: they have no views.

Blocking by nature (clickhouse-connect and chDB are synchronous); the runner calls it from one
dedicated thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sinks import metrics
from sinks.action_rows import ACTION_HISTORY_COLUMNS
from sinks.rows import ALERT_COLUMNS, EVENT_COLUMNS, ColumnBatch

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client
    from clickhouse_connect.driver.insert import InsertContext

log = logging.getLogger(__name__)

EVENTS_TABLE = "feedback_events"
ALERTS_TABLE = "hotspot_alerts"
ACTION_HISTORY_TABLE = "action_history"  # its view keeps `actions` (latest state) in step
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    EVENTS_TABLE: (*EVENT_COLUMNS, "sink_batch"),
    ALERTS_TABLE: ALERT_COLUMNS,
    ACTION_HISTORY_TABLE: ACTION_HISTORY_COLUMNS,
}
# Tables that record which batch wrote each row (a 64-bit digest of its token).
BATCH_STAMPED_TABLES = frozenset({EVENTS_TABLE})
# Tables whose inserts feed materialized views: ids already stored elsewhere are left out.
CHECKED_TABLES = frozenset({EVENTS_TABLE})

INSERT_SETTINGS: dict[str, Any] = {
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # One part per batch and partition: a batch never straddles several insert blocks.
    "max_insert_block_size": 1_048_576,
    "min_insert_block_size_rows": 0,
    "min_insert_block_size_bytes": 0,
}


def _yyyymm(epoch_ms: int) -> int:
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.year * 100 + moment.month


@dataclass(frozen=True)
class PlannedRange:
    first_offset: int
    last_offset: int


class ClickHouseWriter:
    """Writes ColumnBatches; one reusable insert context per table."""

    def __init__(self, client: Client, consumer_group: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.consumer_group = consumer_group
        self._clock = clock
        self._contexts: dict[str, InsertContext] = {}
        # Observer of a batch's progress: called with "journaled" and "inserted" (a crash test
        # holds the process there to kill -9 it: tests/support/held_sink.py).
        self.on_stage: Callable[[str], None] | None = None

    def _context(self, table: str) -> InsertContext:
        context = self._contexts.get(table)
        if context is None:
            context = self.client.create_insert_context(
                table,
                column_names=list(TABLE_COLUMNS[table]),
                column_oriented=True,
                settings=dict(INSERT_SETTINGS),
            )
            self._contexts[table] = context
        return context

    # -- journal --------------------------------------------------------------------------
    def plan(self, batches: Iterable[ColumnBatch]) -> None:
        """Record the offset ranges about to be inserted, so a retry rebuilds the same batches."""
        now_ms = int(self._clock() * 1000)
        rows = [
            [self.consumer_group, b.topic, b.partition, b.first_offset, b.last_offset, len(b.rows), now_ms]
            for b in batches
            if b.records
        ]
        if rows:
            self.client.insert(
                "sink_batches",
                rows,
                column_names=[
                    "consumer_group",
                    "topic",
                    "partition",
                    "first_offset",
                    "last_offset",
                    "rows",
                    "planned_at",
                ],
            )

    def planned_ranges(self, topic: str, partition: int, from_offset: int) -> list[PlannedRange]:
        """Ranges journaled but maybe not committed: the batches a restart must rebuild exactly."""
        result = self.client.query(
            "SELECT first_offset, last_offset FROM sink_batches FINAL"
            " WHERE consumer_group = {g:String} AND topic = {t:String} AND partition = {p:UInt32}"
            " AND last_offset >= {o:UInt64} ORDER BY first_offset",
            parameters={"g": self.consumer_group, "t": topic, "p": partition, "o": max(from_offset, 0)},
        )
        return [PlannedRange(int(a), int(b)) for a, b in result.result_rows]

    # -- data -----------------------------------------------------------------------------
    def already_stored(self, batch: ColumnBatch, rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
        """(organisation, event_id) of these rows already stored by another batch (not by an attempt
        of this one). Looked up by id (the bloom-filter index), then matched as pairs here.

        Looked up only in the months the rows occurred in: a repeat of an event has the same
        occurred_at (which is also why ReplacingMergeTree can collapse it), so the check reads
        a few partitions instead of the whole table.
        """
        if not rows:
            return set()
        occurred = EVENT_COLUMNS.index("occurred_at")
        months = sorted({_yyyymm(row[occurred]) for row in rows})
        result = self.client.query(
            f"SELECT DISTINCT organisation, event_id FROM {batch.table}"
            " WHERE toYYYYMM(occurred_at) IN {months:Array(UInt32)}"
            " AND event_id IN {ids:Array(String)}"
            " AND NOT (kafka_topic = {t:String} AND kafka_partition = {p:UInt32}"
            " AND sink_batch = {b:UInt64})",
            parameters={
                "months": months,
                "ids": sorted({row[EVENT_COLUMNS.index("event_id")] for row in rows}),
                "t": batch.topic,
                "p": batch.partition,
                "b": batch.stamp(self.consumer_group),
            },
        )
        wanted = {batch.identity(row) for row in rows}
        return {(organisation, event_id) for organisation, event_id in result.result_rows} & wanted

    def write(self, batch: ColumnBatch) -> int:
        """Insert one batch idempotently; return the number of rows sent to the engine."""
        rows = batch.unique_rows()
        if batch.table in CHECKED_TABLES and rows:
            stored = self.already_stored(batch, rows)
            if stored:
                metrics.DUPLICATES.labels(batch.table).inc(len(stored))
                rows = [row for row in rows if batch.identity(row) not in stored]
        if not rows:
            return 0
        context = self._context(batch.table)
        context.settings["insert_deduplication_token"] = batch.dedup_token(self.consumer_group)
        try:
            columns = [list(column) for column in zip(*rows, strict=True)]
            if batch.table in BATCH_STAMPED_TABLES:
                columns.append([batch.stamp(self.consumer_group)] * len(rows))
            self.client.insert(data=columns, context=context)
        finally:
            context.data = None
        return len(rows)

    def write_all(self, batches: list[ColumnBatch]) -> dict[str, int]:
        """Journal then insert every batch of one flush; return rows written per table."""
        self.plan(batches)
        if self.on_stage:
            self.on_stage("journaled")
        written: dict[str, int] = {}
        for batch in batches:
            count = self.write(batch)
            written[batch.table] = written.get(batch.table, 0) + count
            metrics.ROWS.labels(batch.table).inc(count)
        if self.on_stage:
            self.on_stage("inserted")
        return written

    def close(self) -> None:
        self._contexts.clear()
        try:
            self.client.close()
        except Exception:  # closing a broken connection must not hide the original failure
            log.debug("closing the ClickHouse client failed", exc_info=True)
