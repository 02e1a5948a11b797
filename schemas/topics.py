"""Kafka topic names and their partition counts (docs/contracts.md, "Topics").

Partition counts are explicit because the broker has automatic topic creation off: a topic
that is not listed here does not exist. Feedback topics are keyed by provider, so one
provider's windows live in one partition (docs/architecture.md, "Scaling out").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

RAW: Final = "feedback.raw"
TAGGED: Final = "feedback.tagged"
DLQ: Final = "feedback.dlq"
ALERTS: Final = "hotspots.alerts"
ACTIONS: Final = "actions"
# Changes to actions asked for by people and systems (schemas/action.py); the actions stage is
# the only reader and the only writer of `actions`, so each action's history is one ordered log.
ACTION_COMMANDS: Final = "actions.commands"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    # Days to keep; None keeps the broker default. The DLQ keeps longer so an operator
    # has time to look at what was refused.
    retention_days: int | None = None
    # Compacted: Kafka keeps at least the latest record per key, forever (a state's log).
    # `actions` holds each action's whole state under its id, so the stage rebuilds every action
    # from it at start; runtime/admin.py creates topics with `configs`.
    compacted: bool = False

    @property
    def configs(self) -> dict[str, str]:
        """The topic-level configs to create it with."""
        configs: dict[str, str] = {}
        if self.retention_days:
            configs["retention.ms"] = str(self.retention_days * 86_400_000)
        if self.compacted:
            configs["cleanup.policy"] = "compact"
        return configs


TOPICS: Final[tuple[TopicSpec, ...]] = (
    TopicSpec(RAW, partitions=4),
    TopicSpec(TAGGED, partitions=4),
    TopicSpec(DLQ, partitions=1, retention_days=90),
    TopicSpec(ALERTS, partitions=1),
    TopicSpec(ACTIONS, partitions=1, compacted=True),
    TopicSpec(ACTION_COMMANDS, partitions=1),
)
