"""The worker's local tables are a cache of their changelogs: a stale cache is discarded, not trusted.

Faust keeps each table partition in RocksDB under `PXSTREAM_DATA_DIR/worker/<app id>/` together
with the changelog offset it has applied, and at start-up it refuses to run (`ConsistencyError`
in `faust/tables/recovery.py`) when that offset is ahead of the changelog's end. That happens after
`pxstream infra down --purge`, against a new cluster, or when the changelog topics were deleted:
every worker then crashes at start, and restarting it changes nothing. Worse, when the new
changelog happens to be longer than the old one, Faust applies the new log on top of the old state
without complaint.

So before the worker starts, each local table partition is checked against Kafka:

- the cluster id is remembered next to the tables; when Kafka reports another one, every local
  partition belongs to a cluster that is gone;
- a partition whose applied offset is at or past the end of its changelog is ahead of it.

Such a partition's directory is deleted, with one warning naming the table and partition; Faust
then rebuilds it from the changelog as it does for a new worker, and the worker goes on. The
checks use Faust's own store objects (`table.data`, its `partition_path`, `rocksdb_options` and
`offset_key`), so the layout and the offset encoding are Faust's, not a copy. Faust offers no hook
between reading these offsets and raising, so this runs before `Worker.execute_from_commandline`;
a changelog deleted while a worker runs is caught at that worker's next start.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime.admin import admin_client

if TYPE_CHECKING:
    import faust

log = logging.getLogger(__name__)

CLUSTER_ID_FILE = "kafka-cluster-id"


@dataclass(frozen=True)
class DiscardedPartition:
    table: str
    partition: int
    reason: str


async def _kafka_view(
    bootstrap: str, topics: list[str], timeout_s: float
) -> tuple[str, dict[tuple[str, int], int]]:
    """The cluster id, and the end offset of every partition of those topics that exist."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async with admin_client(bootstrap, timeout_ms=int(timeout_s * 1000)) as admin:
        cluster_id = str((await admin.describe_cluster()).get("cluster_id") or "")
        existing = set(await admin.list_topics())
        # Partitions from the broker's own description: a consumer's metadata cache does not list a
        # topic it has not been asked about, and an empty answer would read as "purged".
        described = await admin.describe_topics([t for t in topics if t in existing]) if existing else []
    wanted = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        if not topic.get("error_code")
        for partition in topic.get("partitions") or ()
    ]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # the consumer's own metadata, as before: it stops cleanly after it
        ends = await consumer.end_offsets(wanted) if wanted else {}
    finally:
        await consumer.stop()
    return cluster_id, {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


def _applied_offset(store: Any, path: Path) -> int | None:
    """The changelog offset Faust recorded as applied in this partition's RocksDB, if any."""
    db = store.rocksdb_options.open(path)
    try:
        raw = db.get(store.offset_key)
    finally:
        db.close()
    return int(raw) if raw is not None else None


def reconcile_local_tables(
    app: faust.App, bootstrap: str, *, timeout_s: float = 15.0
) -> list[DiscardedPartition]:
    """Delete every local table partition that is ahead of, or from another cluster than, its changelog."""
    tables = [table for table in app.tables.values() if not getattr(table, "is_global", False)]
    if not tables:
        return []
    datadir = Path(app.conf.datadir)
    changelogs = {table.name: table.changelog_topic.get_topic_name() for table in tables}
    cluster_id, ends = asyncio.run(_kafka_view(bootstrap, sorted(changelogs.values()), timeout_s))
    marker = datadir / CLUSTER_ID_FILE
    remembered = marker.read_text().strip() if marker.exists() else ""
    cluster_changed = bool(remembered and cluster_id and remembered != cluster_id)
    discarded: list[DiscardedPartition] = []
    for table in tables:
        store = table.data
        partitions = table.partitions or app.conf.topic_partitions
        for partition in range(partitions):
            path = Path(store.partition_path(partition))
            if not path.exists():
                continue
            end = ends.get((changelogs[table.name], partition), 0)
            if cluster_changed:
                reason = f"the Kafka cluster changed (id {remembered} → {cluster_id})"
            else:
                try:
                    applied = _applied_offset(store, path)
                except Exception as exc:  # held by another live worker on this data dir: its business
                    log.warning("local table %s partition %d not checked: %s", table.name, partition, exc)
                    continue
                if applied is None or applied < end:
                    continue
                reason = (
                    f"it has applied changelog offset {applied:,} but {changelogs[table.name]} "
                    f"partition {partition} ends at {end:,} (purged, recreated or another cluster)"
                )
            shutil.rmtree(path)
            discarded.append(DiscardedPartition(table.name, partition, reason))
            log.warning(
                "local table %s partition %d discarded and rebuilt from its changelog: %s",
                table.name,
                partition,
                reason,
            )
    if cluster_id:
        datadir.mkdir(parents=True, exist_ok=True)
        marker.write_text(cluster_id + "\n")
    return discarded
