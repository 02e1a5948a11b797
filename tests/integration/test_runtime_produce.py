"""`runtime.produce.send_batched` on the real broker: every record lands once, on the partition
`producer.send` would have chosen for its key, in the order given, once its batches' futures
resolve — the tagging stage commits its input on exactly that promise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import orjson
import pytest

from runtime.produce import new_producer, send_all, send_batched
from tests.support.kafka import read_all

pytestmark = pytest.mark.integration


def test_send_batched_partitions_like_send_and_delivers_every_record_once(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    by_send, by_batch = new_topic(partitions=4), new_topic(partitions=4)
    records: list[tuple[bytes | None, bytes]] = [
        (f"R{index % 37}".encode(), orjson.dumps({"i": index, "pad": "x" * 200})) for index in range(3000)
    ]
    records += [(None, orjson.dumps({"i": 3000})), (None, orjson.dumps({"i": 3001}))]

    async def run() -> int:
        # A small batch size, so one partition's records need several batches.
        producer = new_producer(kafka_bootstrap, max_batch_size=16_384)
        await producer.start()
        try:
            await send_all(producer, by_send, records)
            futures = await send_batched(producer, by_batch, records)
            await asyncio.gather(*futures)
            return len(futures)
        finally:
            await producer.stop()

    batches = asyncio.run(run())
    assert batches > 4, "records beyond one batch's size went in further batches"
    sent = read_all(kafka_bootstrap, by_send)
    batched = read_all(kafka_bootstrap, by_batch)
    assert sorted(value["i"] for *_, value in batched) == list(range(len(records))), "each once"
    partition_of = {key: partition for partition, _, key, _ in sent if key is not None}
    assert len(set(partition_of.values())) == 4, "the keys spread over every partition"
    by_key: dict[bytes, list[int]] = {}
    for partition, _, key, value in sorted(batched, key=lambda r: (r[0], r[1])):
        if key is not None:
            assert partition == partition_of[key], f"{key!r} on {partition}, send chose {partition_of[key]}"
            by_key.setdefault(key, []).append(value["i"])
    assert all(seen == sorted(seen) for seen in by_key.values()), "per key, in the order given"


def test_a_batch_built_whole_leaves_without_waiting_for_the_producers_linger(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    """`linger_ms` is for records sent one at a time; a batch the stage built whole has nothing more
    to wait for. With a linger of 3 s, the record batches are acknowledged long before it ends
    (an open batch would be held for all of it: the stages paid 5 ms per write this way)."""
    topic = new_topic(partitions=2)
    linger_s = 3.0
    records = [(f"R{index}".encode(), b"{}") for index in range(10)]

    async def acknowledged_after() -> list[float]:
        producer = new_producer(kafka_bootstrap, linger_ms=int(linger_s * 1000))
        await producer.start()
        try:
            await send_batched(producer, topic, records[:1])  # metadata and connection: not timed
            seconds = []
            for _ in range(3):
                started = time.monotonic()
                await asyncio.gather(*await send_batched(producer, topic, records))
                seconds.append(time.monotonic() - started)
            return seconds
        finally:
            await producer.stop()

    seconds = asyncio.run(acknowledged_after())
    assert max(seconds) < linger_s / 2, seconds
    assert len(read_all(kafka_bootstrap, topic)) == 1 + 3 * len(records)
