"""The hotspot state's durable copy: a compacted changelog topic, one partition per input partition.

The stage keeps each partition's state in memory as the bytes it stores (key → JSON value) and
writes every key a batch touched to the changelog, once, before the batch's input offsets may be
committed (docs/hotspot-speed.md). Recovery reads the partition's changelog to its end.

The topic, its keys and its values are the ones Faust's table wrote when the stage was a Faust
agent (``<app id>-hotspot-state-changelog``; a bytes → bytes table's raw key and value, a
tombstone for a delete, written to the partition of the input): a worker on this code reads the
state an older worker left, with no migration step (docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Iterator
from typing import Any, Final

from runtime.admin import create_topics
from runtime.produce import send_to_partition
from runtime.tail import read_to_end
from schemas.topics import TopicSpec

TABLE_NAME: Final = "hotspot-state"
Store = dict[bytes, bytes]  # one partition's state: key → stored JSON value


def changelog_topic(app_id: str, table_name: str = TABLE_NAME) -> str:
    """The name Faust gave the table's changelog, kept so existing state carries over."""
    return f"{app_id}-{table_name}-changelog"


class PendingWrites:
    """A partition's store seen through the writes a batch has made and not yet stored.

    The table a :class:`~streams.hotspots.table_state.TableState` wraps: reads see the pending
    writes first; writes and deletes (None) are only recorded, for the changelog. The store takes
    them once Kafka has acknowledged them (:meth:`apply`).
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: dict[bytes, bytes | None] = {}

    def get(self, key: bytes, default: Any = None) -> Any:
        if key in self.writes:
            value = self.writes[key]
            return default if value is None else value
        return self.store.get(key, default)

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.writes[key] = value

    def __delitem__(self, key: bytes) -> None:
        if self.get(key) is None:
            raise KeyError(key)
        self.writes[key] = None

    def keys(self) -> Iterator[bytes]:
        yield from (key for key, value in self.writes.items() if value is not None)
        yield from (key for key in self.store if key not in self.writes)

    def __len__(self) -> int:
        return sum(1 for _ in self.keys())

    def apply(self) -> None:
        """Take the writes into the store (after the changelog has them)."""
        for key, value in self.writes.items():
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = value
        self.writes.clear()


class Changelog:
    """Reading and writing the changelog topic; the caller owns the producer."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, replication_factor: int = 1) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions
        self.replication_factor = replication_factor

    async def ensure(self) -> None:
        """Create the topic (compacted, one partition per input partition) when it is missing."""
        spec = TopicSpec(self.topic, partitions=self.partitions, compacted=True)
        await create_topics(self.bootstrap, [spec], replication_factor=self.replication_factor)

    async def read(self, partitions: Collection[int]) -> dict[int, Store]:
        """Each partition's state as its changelog holds it: the latest value per key."""
        stores: dict[int, Store] = {partition: {} for partition in partitions}
        async for records in read_to_end(
            self.bootstrap, self.topic, only=set(partitions), max_records=10_000
        ):
            store = stores[records[0].partition]
            for record in records:
                if record.value is None:
                    store.pop(record.key, None)
                else:
                    store[record.key] = record.value
        return stores

    async def write(self, producer: Any, partition: int, pending: PendingWrites) -> list[Awaitable[Any]]:
        """Queue a batch's writes for ``partition`` (usually one record batch: appended whole)."""
        return await send_to_partition(producer, self.topic, partition, pending.writes.items())
