"""Exactly one active member of a consumer group: every partition goes to one member.

For a stage whose state is global rather than partitioned (the actions stage, docs/actions.md),
two members each holding some partitions would each keep half a state and make their own
decisions about the same thing. With this assignor the group's leader gives every partition of
every subscribed topic to one member; the others get nothing and stand by as live members. When
the owner dies (kill -9, a lost host) the coordinator drops it after the session timeout, the
group rebalances and a standby receives everything; when it leaves cleanly the hand-over is
immediate. Kafka's group protocol thus decides who is active: there is no lease to renew and no
clock to trust, and offsets committed by the previous owner (the loop commits on revoke) are
where the next one starts.

The choice is sticky, so a standby joining (or a restart of a standby) never moves the inputs:
the member that owns the partitions now keeps them; failing that, the member that started first
(then the lowest member id, so every leader decides the same way).

Usage: ``LoopConfig(..., consumer_options={"partition_assignment_strategy": (SingleOwnerAssignor(),)})``.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

_USER_DATA: Final = struct.Struct(">?d")  # (owns the partitions now, started at: epoch seconds)


class SingleOwnerAssignor(AbstractPartitionAssignor):
    """Every partition to one member; one instance per consumer (it remembers what it owns)."""

    name = "pxstream-single-owner"
    version = 0

    def __init__(self, started_at: float | None = None) -> None:
        self.started_at = time.time() if started_at is None else started_at
        self.owning = False

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:  # type: ignore[override]
        user_data = _USER_DATA.pack(self.owning, self.started_at)
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), user_data)

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:  # type: ignore[override]
        self.owning = bool(assignment.partitions())

    def assign(  # type: ignore[override]
        self, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        owner = choose_owner(members)
        topics = sorted({topic for metadata in members.values() for topic in metadata.subscription})
        everything = [
            (topic, sorted(cluster.partitions_for_topic(topic) or ()))
            for topic in topics
            if cluster.partitions_for_topic(topic)
        ]
        return {
            member_id: ConsumerProtocolMemberAssignment(
                self.version, everything if member_id == owner else [], b""
            )
            for member_id in members
        }


def choose_owner(members: Mapping[str, ConsumerProtocolMemberMetadata]) -> str:
    """The current owner if one says so, else the member that started first (then the lowest id).

    Two members can both claim to own (one was evicted and has not heard yet): the earlier start
    wins, and either way the loser is revoked and re-reads nothing it should not.
    """

    def rank(member_id: str) -> tuple[bool, float, str]:
        owning, started_at = decode(members[member_id].user_data)
        return (not owning, started_at, member_id)

    return min(members, key=rank)


def decode(user_data: bytes | None) -> tuple[bool, float]:
    """(owning, started_at) from a member's user data; a foreign or empty one ranks last."""
    if user_data and len(user_data) == _USER_DATA.size:
        owning, started_at = _USER_DATA.unpack(user_data)
        return bool(owning), float(started_at)
    return False, float("inf")
