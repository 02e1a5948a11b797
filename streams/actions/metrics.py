"""Prometheus metrics of the actions stage, on the worker's `/metrics` (the default registry).

Label values come from closed sets (the change names of schemas/action.py), never from owners,
organisations or text, so no label carries personal data and cardinality stays fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from prometheus_client import Counter, Gauge

from schemas import action as contract


@dataclass(frozen=True)
class ActionMetrics:
    changes: Counter
    refused: Counter
    open: Gauge
    overdue: Gauge

    def observe(self, changed: Iterable[Mapping[str, Any]]) -> None:
        """Count what a batch or tick changed, once Kafka has it (the latest change of each)."""
        for action in changed:
            change = str(action["history"][-1]["change"]) if action.get("history") else "create"
            if change in _KNOWN:
                self.changes.labels(change=change).inc()

    def totals(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        """Open and overdue now (a pass over the state: called with the clock tick, not per batch)."""
        active = [a for a in state.values() if a.get("status") in contract.ACTIVE_STATUSES]
        self.open.set(len(active))
        self.overdue.set(sum(bool(a.get("overdue")) for a in active))


_KNOWN = frozenset((*contract.SYSTEM_CHANGES, *contract.CHANGES))


@cache
def action_metrics() -> ActionMetrics:
    return ActionMetrics(
        changes=Counter(
            "pxstream_actions_changes", "Changes written to the actions topic, by change", ["change"]
        ),
        refused=Counter("pxstream_action_commands_refused", "Commands on actions.commands the stage refused"),
        open=Gauge("pxstream_actions_open", "Actions open or acknowledged"),
        overdue=Gauge("pxstream_actions_overdue", "Actions overdue and still open or acknowledged"),
    )
