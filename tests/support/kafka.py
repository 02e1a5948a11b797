"""Synchronous Kafka helpers for tests, over the runtime's one set of plumbing (runtime/).

Tests drive real brokers from plain (non-async) test functions; each helper runs one coroutine
of `runtime.admin`, `runtime.produce` or `runtime.tail` to completion. `read_topic` is the one
asynchronous reader, for tests that read while a source is still writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from runtime import admin, produce, tail
from runtime.admin import GroupState
from schemas.topics import TopicSpec


def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Create topics (name → partition count) that do not exist yet."""
    specs = [TopicSpec(name, partitions=count) for name, count in partitions.items()]
    asyncio.run(admin.create_topics(bootstrap, specs))


def topic_names(bootstrap: str) -> set[str]:
    """Every topic the broker has."""
    return set(asyncio.run(admin.topic_names(bootstrap)))


def provider_key(record: dict[str, Any]) -> bytes:
    """Keyed by provider, as the tagger keys `feedback.tagged`."""
    return (record.get("provider") or "").encode()


def produce_json(
    bootstrap: str,
    topic: str,
    records: Iterable[dict[str, Any]],
    key: Callable[[dict[str, Any]], bytes] = provider_key,
) -> int:
    """Send JSON records and wait until Kafka acknowledged every one."""
    return asyncio.run(produce.produce(bootstrap, topic, [(key(r), orjson.dumps(r)) for r in records]))


class SteadyProducer(threading.Thread):
    """Produces ``records`` to ``topic`` in chunks from a thread of its own, so a test can kill a
    worker while the feed is still arriving; ``done`` is set once the last chunk is acknowledged."""

    def __init__(self, bootstrap: str, topic: str, records: list[dict[str, Any]], chunk: int = 50) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.records, self.chunk = bootstrap, topic, records, chunk
        self.done = threading.Event()

    def run(self) -> None:
        for start in range(0, len(self.records), self.chunk):
            produce_json(self.bootstrap, self.topic, self.records[start : start + self.chunk])
        self.done.set()


def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of a topic up to its current end: (partition, offset, key, decoded value)."""

    async def run() -> list[Any]:
        out = []
        async for records in tail.read_to_end(bootstrap, topic, max_records=5000):
            for r in records:
                out.append((r.partition, r.offset, r.key, None if r.value is None else orjson.loads(r.value)))
        return out

    return asyncio.run(run())


def committed(bootstrap: str, group: str, topic: str) -> int:
    """Offsets the consumer group has committed on ``topic``, summed over its partitions."""
    offsets = asyncio.run(admin.committed_offsets(bootstrap, group))
    return sum(offset for (name, _), offset in offsets.items() if name == topic and offset > 0)


def end_offsets(bootstrap: str, topic: str) -> int:
    """Records ever written to ``topic`` (its end offsets), summed over its partitions."""
    ends = asyncio.run(tail.end_offsets(bootstrap, topic))
    assert ends, f"{topic} has no partitions"
    return sum(ends.values())


FAILOVER_SESSION_TIMEOUT_S = 3.0


@functools.cache
def failover_session_timeout(bootstrap: str) -> float:
    """The consumer session timeout the kill -9 tests give their workers: 3 s, the time a killed
    member holds its partitions before the group moves them (production's default is 60 s).

    3 s is three heartbeats (one a second), which a live worker sends on time even with both of a
    CI machine's cores busy (docs/test-speed.md). The project's broker accepts it (its
    `group.min.session.timeout.ms` is 1 s); a broker started from an older template, or another
    one, may refuse anything under its own floor, and then its floor is the answer.
    """
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    name = "group.min.session.timeout.ms"

    async def floor_ms() -> int:
        async with admin.admin_client(bootstrap) as client:
            node = min(broker["node_id"] for broker in (await client.describe_cluster())["brokers"])
            resource = ConfigResource(ConfigResourceType.BROKER, str(node), configs={name: None})
            (response,) = await client.describe_configs([resource])
        (entry,) = [e for resource in response.resources for e in resource[4] if e[0] == name]
        return int(entry[1])

    return max(FAILOVER_SESSION_TIMEOUT_S, asyncio.run(floor_ms()) / 1000)


def group_state(bootstrap: str, group: str) -> GroupState:
    """The group's state and member ids, as its coordinator reports them."""
    return asyncio.run(admin.group_state(bootstrap, group))


@contextlib.contextmanager
def worker_topics(settings: Any, kind: str) -> Iterator[Any]:
    """A WorkerConfig with a unique app id and topic prefix, its declared topics created, and
    deleted again afterwards."""
    from bench.harness import unique_prefix
    from streams.worker_config import WorkerConfig, ensure_topics

    prefix = unique_prefix(kind)
    config = WorkerConfig(app_id=f"{prefix}app", topic_prefix=prefix)
    asyncio.run(ensure_topics(settings, config))
    try:
        yield config
    finally:
        asyncio.run(admin.delete_topics_under(settings.kafka_bootstrap, prefix))


async def read_topic(
    bootstrap: str, topic: str, expected: int, timeout_s: float = 30.0
) -> list[dict[str, Any]]:
    """Every value on `topic` (from the beginning) once at least `expected` arrived, then a short
    quiet period so that extra (duplicate) messages would be seen too."""
    found = await tail.read_until(bootstrap, [topic], expected=expected, timeout_s=timeout_s, settle_s=1.5)
    return [orjson.loads(record.value) for record in found[topic]]
