"""Topic admin and consumer-group look-ups: one admin client, used by every floor.

Topics are declared in `schemas.topics` (name, partitions, retention, compaction); here they are
created with exactly those settings, because the broker has automatic topic creation off and a
consumer subscribed to a missing topic only notices it at its next metadata refresh, minutes
later. Creating is idempotent: a topic that exists is left alone (another worker may have won).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Final

from runtime.exceptions import TopicAdminError
from schemas.topics import TopicSpec

TOPIC_ALREADY_EXISTS: Final = 36
REQUEST_TIMEOUT_MS: Final = 15_000


@contextlib.asynccontextmanager
async def admin_client(bootstrap: str, timeout_ms: int = REQUEST_TIMEOUT_MS) -> AsyncIterator[Any]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topics(
    bootstrap: str, specs: Iterable[TopicSpec], *, replication_factor: int = 1, wait_for_leaders: bool = True
) -> list[str]:
    """Create the declared topics that do not exist yet; returns the names created.

    Waits until every partition of a new topic has a leader: a client that looks earlier misses it.
    """
    from aiokafka.admin import NewTopic

    specs = list(specs)
    async with admin_client(bootstrap) as admin:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.configs)
                for spec in missing
            ],
            timeout_ms=REQUEST_TIMEOUT_MS,
        )
        failures = [
            f"{name}: error {code} {rest[0] if rest and rest[0] else ''}".strip()
            for name, code, *rest in response.topic_errors
            if code not in (0, TOPIC_ALREADY_EXISTS)
        ]
        if failures:
            raise TopicAdminError(f"Kafka {bootstrap}: creating topics failed: " + "; ".join(failures))
        if wait_for_leaders:
            await _wait_for_leaders(admin, bootstrap, [spec.name for spec in missing])
        return [spec.name for spec in missing]


async def _wait_for_leaders(admin: Any, bootstrap: str, names: list[str], timeout_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        pending = [
            topic["topic"]
            for topic in await admin.describe_topics(names)
            if topic["error_code"] != 0
            or not topic["partitions"]
            or any(p["error_code"] != 0 or p["leader"] < 0 for p in topic["partitions"])
        ]
        if not pending:
            return
        if loop.time() > deadline:
            raise TopicAdminError(
                f"Kafka {bootstrap}: topics {', '.join(pending)} have no leader after {timeout_s:.0f} s"
            )
        await asyncio.sleep(0.1)


async def delete_topics(bootstrap: str, names: Iterable[str]) -> None:
    names = list(names)
    if names:
        async with admin_client(bootstrap) as admin:
            await admin.delete_topics(names, timeout_ms=REQUEST_TIMEOUT_MS)


async def topic_names(bootstrap: str) -> list[str]:
    """Every topic the broker has, from its metadata (asking never creates one)."""
    async with admin_client(bootstrap) as admin:
        return list(await admin.list_topics())


async def delete_topics_under(bootstrap: str, prefix: str) -> list[str]:
    """Delete every topic whose name starts with `prefix`, and return their names: a run's
    declared topics and the ones Faust makes for its app (the table's changelog, the assignor's
    topic, the ticks topic), which carry the app id and so the prefix. Deleting only the declared
    ones left Faust's behind: a developer's broker had gathered 964 topics (2,100 partitions)
    from test and bench runs."""
    if not prefix:
        raise ValueError("an empty prefix would delete every topic")
    names = sorted(name for name in await topic_names(bootstrap) if name.startswith(prefix))
    await delete_topics(bootstrap, names)
    return names


async def partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition numbers of a topic (empty when it does not exist), from the broker's metadata."""
    async with admin_client(bootstrap) as admin:
        (description,) = await admin.describe_topics([topic])
    if description.get("error_code"):
        return []
    return sorted(p["partition"] for p in description["partitions"])


async def committed_offsets(bootstrap: str, group: str) -> dict[tuple[str, int], int]:
    """What a consumer group has committed: (topic, partition) → next offset to read."""
    async with admin_client(bootstrap) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


@dataclass(frozen=True)
class GroupState:
    """A consumer group as the coordinator sees it: its state and its members' ids.

    A member evicted from the group (session timeout, or a poll interval exceeded) re-joins with a
    new member id, so an unchanged set of ids across an outage proves nobody was evicted.
    """

    state: str
    members: tuple[str, ...]


async def group_state(bootstrap: str, group: str) -> GroupState:
    async with admin_client(bootstrap) as admin:
        (response,) = await admin.describe_consumer_groups([group])
    (described,) = response.groups
    # DescribeGroups v0+: (error_code, group_id, state, protocol_type, protocol, members, ...)
    state, members = described[2], described[5]
    return GroupState(state=state, members=tuple(sorted(member[0] for member in members)))


class CommittedOffsets:
    """A consumer group's committed offsets as the broker holds them, refreshed on demand and read
    without waiting.

    For a group whose consumer is not ours to ask (Faust's): the broker's committed offsets are
    public, and never ahead of what the group's own client believes it committed, so a reader
    that needs "where would a crash replay from" gets an answer that is at worst a little old,
    i.e. earlier: the safe side. One admin connection is kept for the refreshes.
    """

    def __init__(self, bootstrap: str, group: str) -> None:
        self.bootstrap = bootstrap
        self.group = group
        self._offsets: dict[tuple[str, int], int] = {}
        self._admin: Any = None

    def get(self, topic: str, partition: int) -> int | None:
        """The last refreshed committed offset (next to read), None when unknown."""
        return self._offsets.get((topic, partition))

    async def refresh(self) -> None:
        """Ask the broker again; on failure keep the previous (older, so still safe) view."""
        from aiokafka.admin import AIOKafkaAdminClient

        try:
            if self._admin is None:
                admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
                await admin.start()
                self._admin = admin
            offsets = await self._admin.list_consumer_group_offsets(self.group)
        except Exception:
            await self.close()
            return
        self._offsets = {
            (tp.topic, tp.partition): meta.offset for tp, meta in offsets.items() if meta.offset >= 0
        }

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
