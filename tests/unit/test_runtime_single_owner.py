"""The single-owner assignor (runtime/single_owner.py): every partition to one member, sticky."""

from __future__ import annotations

from typing import Any

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from runtime.single_owner import SingleOwnerAssignor, choose_owner

TOPICS = ["t.tagged", "t.alerts", "t.commands"]


class Cluster:
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(self.counts[topic])) if topic in self.counts else None


CLUSTER = Cluster({"t.tagged": 6, "t.alerts": 3, "t.commands": 3})


def members(*assignors: SingleOwnerAssignor) -> dict[str, Any]:
    return {f"member-{i}": a.metadata(TOPICS) for i, a in enumerate(assignors)}


def owned(result: dict[str, ConsumerProtocolMemberAssignment]) -> dict[str, int]:
    return {member: len(assignment.partitions()) for member, assignment in result.items()}


def test_every_partition_goes_to_one_member_and_the_rest_get_nothing() -> None:
    first, second, third = SingleOwnerAssignor(100.0), SingleOwnerAssignor(200.0), SingleOwnerAssignor(300.0)
    result = first.assign(CLUSTER, members(second, first, third))
    assert owned(result) == {"member-0": 0, "member-1": 12, "member-2": 0}  # the earliest start
    (winner,) = [a for a in result.values() if a.partitions()]
    assert sorted((tp.topic, tp.partition) for tp in winner.partitions()) == sorted(
        (topic, p) for topic, count in CLUSTER.counts.items() for p in range(count)
    )


def test_the_current_owner_keeps_the_partitions_when_an_older_member_joins() -> None:
    owner, newcomer = SingleOwnerAssignor(500.0), SingleOwnerAssignor(100.0)
    owner.on_assignment(owner.assign(CLUSTER, {"a": owner.metadata(TOPICS)})["a"])
    assert owner.owning
    result = newcomer.assign(CLUSTER, {"a": owner.metadata(TOPICS), "b": newcomer.metadata(TOPICS)})
    assert owned(result) == {"a": 12, "b": 0}
    newcomer.on_assignment(result["b"])
    assert not newcomer.owning


def test_ties_and_foreign_members_decide_the_same_way_on_every_leader() -> None:
    a, b = SingleOwnerAssignor(100.0), SingleOwnerAssignor(100.0)
    group = {"m-2": a.metadata(TOPICS), "m-1": b.metadata(TOPICS)}
    assert choose_owner(group) == "m-1"  # same start: the lowest member id
    group["m-0"] = type(group["m-1"])(0, TOPICS, b"")  # a member without our user data ranks last
    assert choose_owner(group) == "m-1"
    # both claim to own (one was evicted and has not heard yet): the earlier start wins
    a.owning = b.owning = True
    c = SingleOwnerAssignor(50.0)
    c.owning = True
    assert choose_owner({"x": a.metadata(TOPICS), "y": c.metadata(TOPICS)}) == "y"
