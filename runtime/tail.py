"""Reading a topic up to the end it had when reading began (no consumer group, nothing committed).

Used to rebuild in-memory state at start-up (alerts still firing, alert transitions already
published) and by tests that recount what a topic holds. `read_until` is the other reader tools
and tests need: from the start while something is still writing, until a count has arrived.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

from runtime.admin import partitions


async def read_to_end(
    bootstrap: str,
    topic: str,
    *,
    last: int | None = None,
    max_records: int = 2000,
    only: Collection[int] | None = None,
) -> AsyncIterator[list[Any]]:
    """Yield batches of ConsumerRecords from each partition's start (or its `last` records) up to
    the end offset it had when the read began; `only` limits it to those partition numbers. A
    missing topic yields nothing."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tps = [TopicPartition(topic, p) for p in await partitions(bootstrap, topic) if only is None or p in only]
    if not tps:
        return
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await reader.start()
    try:
        reader.assign(tps)
        firsts = await reader.beginning_offsets(tps)
        ends = await reader.end_offsets(tps)
        pending = set()
        for tp in tps:
            start = firsts[tp] if last is None else max(firsts[tp], ends[tp] - last)
            if start < ends[tp]:
                reader.seek(tp, start)
                pending.add(tp)
        while pending:
            fetched = await reader.getmany(*pending, timeout_ms=1000, max_records=max_records)
            for tp, records in fetched.items():
                records = [r for r in records if r.offset < ends[tp]]
                if records:
                    yield records
            for tp in list(pending):
                if await reader.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await reader.stop()


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """Each partition's end offset (records ever written), partition → offset."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tps = [TopicPartition(topic, p) for p in await partitions(bootstrap, topic)]
    if not tps:
        return {}
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await reader.start()
    try:
        return {tp.partition: offset for tp, offset in (await reader.end_offsets(tps)).items()}
    finally:
        await reader.stop()


async def read_until(
    bootstrap: str, topics: Sequence[str], *, expected: int, timeout_s: float, settle_s: float = 0.0
) -> dict[str, list[Any]]:
    """Every ConsumerRecord of `topics` from their start, read until `expected` records in total
    arrived and then `settle_s` more (so extra ones, e.g. duplicates, are seen too), or until
    `timeout_s`; topic → records in partition order. No consumer group, nothing committed."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,  # a topic created a moment ago is found within a second
    )
    await consumer.start()
    found: dict[str, list[Any]] = {name: [] for name in topics}
    try:
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            for tp, records in batches.items():
                found[tp.topic].extend(records)
            if sum(map(len, found.values())) >= expected:
                if settle_until is None:
                    settle_until = time.monotonic() + settle_s
                if time.monotonic() >= settle_until:
                    break
    finally:
        await consumer.stop()
    return found
