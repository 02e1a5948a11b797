"""Reading a topic up to the end it had when reading began (no consumer group, nothing committed).

Used to rebuild in-memory state at start-up (alerts still firing, alert transitions already
published) and by tests that recount what a topic holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from runtime.admin import partitions


async def read_to_end(
    bootstrap: str, topic: str, *, last: int | None = None, max_records: int = 2000
) -> AsyncIterator[list[Any]]:
    """Yield batches of ConsumerRecords from each partition's start (or its `last` records) up to
    the end offset it had when the read began. A missing topic yields nothing."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tps = [TopicPartition(topic, p) for p in await partitions(bootstrap, topic)]
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
