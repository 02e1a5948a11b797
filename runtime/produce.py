"""Producing: one producer configuration, and "send these records and wait for Kafka's ack".

Every stage's output is an effect the loop must see acknowledged before it commits the input, so
the producer waits for every in-sync replica (`acks="all"`) and is idempotent (a retried send
inside the client never duplicates a record).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
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


async def produce(bootstrap: str, topic: str, records: Iterable[Record], **options: Any) -> int:
    """Open a producer, send every record, wait for every ack, close: for tools and tests."""
    producer = new_producer(bootstrap, **options)
    await producer.start()
    try:
        return await send_all(producer, topic, records)
    finally:
        await producer.stop()
