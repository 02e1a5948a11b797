"""Producing: one producer configuration, and "send these records and wait for Kafka's ack".

Every stage's output is an effect the loop must see acknowledged before it commits the input, so
the producer waits for every in-sync replica (`acks="all"`) and is idempotent (a retried send
inside the client never duplicates a record).

`send_batched` is the hot path's way to produce: one record batch per partition (aiokafka's
`create_batch` / `send_batch`) and one future per batch, rather than `send`'s awaited call, record
accumulator lookup and future per record — which profiled as the largest share of the tagging
stage's framework cost (docs/stateless-speed.md). Records are partitioned exactly as `send` would
(the Java client's murmur2 of the key; a random partition for no key).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Iterable
from functools import lru_cache
from typing import Any

Record = tuple[bytes | None, bytes | None]  # (key, value)


def new_producer(bootstrap: str, *, client_id: str | None = None, **options: Any) -> Any:
    """An aiokafka producer with the project's delivery settings; `options` override them."""
    from aiokafka import AIOKafkaProducer

    settings: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 1 << 20,
        **options,
    }
    if client_id:
        settings["client_id"] = client_id
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **settings)


async def send_all(producer: Any, topic: str, records: Iterable[Record]) -> int:
    """Send every (key, value) to `topic` and wait until Kafka acknowledged all of them."""
    pending = [await producer.send(topic, value, key=key) for key, value in records]
    await asyncio.gather(*pending)
    return len(pending)


@lru_cache(maxsize=4096)
def _keyed_partition(key: bytes, count: int) -> int:
    """The partition aiokafka's DefaultPartitioner gives `key` among `count` (ids 0..count-1);
    cached because its murmur2 is pure Python and a stage sees few distinct keys (providers)."""
    from aiokafka.partitioner import murmur2

    return (murmur2(key) & 0x7FFFFFFF) % count


async def send_batched(producer: Any, topic: str, records: Iterable[Record]) -> list[Awaitable[Any]]:
    """Queue every (key, value) for `topic` in record batches, one per partition (more only when
    one exceeds the producer's batch size); return one future per batch. Awaiting them all means
    Kafka acknowledged every record; a failed batch fails its future."""
    partitions = sorted(await producer.partitions_for(topic))
    if not partitions:
        raise ValueError(f"topic {topic!r} has no partitions")
    count = len(partitions)
    by_partition: dict[int, list[Record]] = {}
    for record in records:
        key = record[0]
        index = _keyed_partition(key, count) if key is not None else random.randrange(count)
        by_partition.setdefault(partitions[index], []).append(record)
    futures: list[Awaitable[Any]] = []
    for partition, items in by_partition.items():
        futures += await send_to_partition(producer, topic, partition, items)
    return futures


async def send_to_partition(
    producer: Any, topic: str, partition: int, records: Iterable[Record]
) -> list[Awaitable[Any]]:
    """Queue every (key, value) for one named partition of `topic` in as few record batches as
    the producer's batch size allows (one, usually: Kafka appends a record batch whole); return
    one future per batch. For a log whose partition is not its key's, such as a state changelog
    that lives beside its input partition."""
    futures: list[Awaitable[Any]] = []
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send, start anew
            futures.append(await _send_closed(producer, batch, topic, partition))
            batch = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                raise ValueError(f"a record for {topic!r} is larger than the producer's batch size")
    if batch.record_count():
        futures.append(await _send_closed(producer, batch, topic, partition))
    return futures


async def _send_closed(producer: Any, batch: Any, topic: str, partition: int) -> Awaitable[Any]:
    """Queue a finished batch. Closed first: aiokafka lets an open batch linger (`linger_ms`)
    waiting for more records, which a batch built whole never gets, so every write waited the
    linger out before its request left (docs/stateless-speed.md, "Lingering")."""
    batch.close()
    return await producer.send_batch(batch, topic, partition=partition)


async def produce(bootstrap: str, topic: str, records: Iterable[Record], **options: Any) -> int:
    """Open a producer, send every record, wait for every ack, close: for tools and tests."""
    producer = new_producer(bootstrap, **options)
    await producer.start()
    try:
        return await send_all(producer, topic, records)
    finally:
        await producer.stop()
