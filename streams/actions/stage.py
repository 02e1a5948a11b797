"""The actions stage as a tenant of the Kafka runtime's loop (docs/runtime.md, docs/actions.md).

feedback.tagged, hotspots.alerts, actions.commands → the compacted `actions` topic. Decisions are
the engine's (engine.py), notifications the notifier's (notifications.py); the consumer, the
commits, the pauses and the retries are the loop's (runtime/loop.py). This module holds the
state and the order that makes the stage exactly-once by construction:

1. When the inputs are assigned, the whole state is read from `actions` to its end before any
   input is applied or any tick runs, so whatever was written before a crash (or by the previous
   owner) is known.
2. A batch of inputs is applied to that state; each changed action's whole new state is produced
   to `actions` (key `action_id`), and only when Kafka has acknowledged all of them does the
   state take them and does `flush` return the inputs' offsets for the loop to commit.
3. A crash anywhere re-reads the uncommitted inputs, which find their actions already made (ids
   come from `action_id_for`) and their commands already in the history (`command_id`): no
   second action, no second change, no second notification for a level.

Clock ticks (reminders, overdue, escalation) run inside `flush`, before the batch, so never at
the same time as one: a tick and a command never race on one action. A tick is due when the
engine says an action can next change (`next_tick_at`), not on a fixed period.

The state is global, so one member of the group is active (runtime/single_owner.py): the others
hold no partition, keep no state, tick nothing and notify nobody until the inputs come to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from runtime.exceptions import BackpressureError
from runtime.produce import new_producer, send_all
from runtime.tenant import Batch, BatchingSink, Offsets
from schemas import action as contract
from streams.actions.engine import ActionEngine
from streams.actions.metrics import action_metrics
from streams.actions.notifications import ActionNotifier
from streams.actions.store import read_actions

log = logging.getLogger(__name__)

TOTALS_INTERVAL_S: Final = 5.0  # the open/overdue gauges: a pass over the state, not per batch


@dataclass(frozen=True)
class StageTopics:
    tagged: str
    alerts: str
    commands: str
    actions: str

    @property
    def inputs(self) -> tuple[str, str, str]:
        return (self.tagged, self.alerts, self.commands)


def _now() -> datetime:
    return datetime.now(UTC)


class ActionsStage(BatchingSink):
    """The tenant: the state in memory, one producer to `actions`, an optional notifier."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topics: StageTopics,
        engine: ActionEngine,
        notifier: ActionNotifier | None = None,
        batch_size: int = 500,
        client_id: str = "pxstream-actions",
        clock: Callable[[], datetime] = _now,
    ) -> None:
        super().__init__(batch_size=batch_size, linger_s=0.0)
        self.bootstrap = bootstrap
        self.topics = topics
        self.engine = engine
        self.notifier = notifier
        self.client_id = client_id
        self.clock = clock
        self.state: dict[str, dict[str, Any]] = {}
        # Open or acknowledged actions → the earliest time a tick could change each (None: only a
        # command can), and a heap of (time, id) over the same, stale entries skipped when popped.
        self.next_tick: dict[str, float | None] = {}
        self._due: list[tuple[float, str]] = []
        self.active = False  # holds the inputs and has rebuilt the state
        self._tenure = 0  # +1 each time the inputs are lost: a write that spans it is not taken
        self._rebuild = False  # inputs assigned: rebuild before anything else
        self._totals_at = 0.0
        self.producer: Any = None
        self._notifying: asyncio.Future[None] | None = None
        self.written = 0
        self.refused = 0
        self.committed_inputs = 0  # input records whose offsets `flush` returned (for the bench)
        self.metrics = action_metrics()

    # -- pure part: inputs → changed actions -----------------------------------------------------
    def process(
        self, records: Iterable[tuple[str, bytes | None]], now: datetime
    ) -> dict[str, dict[str, Any]]:
        """Apply a batch of (topic, value) inputs to the state; the changed actions, latest state each.

        Does not touch `self.state`: the caller commits the result only once Kafka has it.
        """
        changed: dict[str, dict[str, Any]] = {}
        view: ChainMap[str, dict[str, Any]] = ChainMap(changed, self.state)
        # Triggers before commands: a command in the same batch as the trigger that makes its
        # action finds the action (partitions come back from a fetch in no particular order).
        ordered = sorted(records, key=lambda record: record[0] == self.topics.commands)
        for topic, value in ordered:
            try:
                record = orjson.loads(value) if value is not None else None
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                log.error("skipping a record on %s that is not a JSON object", topic)
                continue
            if topic == self.topics.tagged:
                for action in self.engine.on_event(record, view.__contains__, now):
                    changed[action["action_id"]] = action
            elif topic == self.topics.alerts:
                for action in self.engine.on_alert(record, view.get, now):
                    changed[action["action_id"]] = action
            elif topic == self.topics.commands:
                action_id = record.get("action_id")
                current = view.get(action_id) if isinstance(action_id, str) else None
                applied = self.engine.on_command(record, current, now)
                if applied.action is not None:
                    changed[applied.action["action_id"]] = applied.action
                elif applied.refused:
                    self.refused += 1
                    self.metrics.refused.inc()
                    log.warning(
                        "refused command %.128s on action %.64s: %s",
                        record.get("command_id"),
                        action_id,
                        applied.refused,
                    )
        return changed

    def due_ticks(self, now: datetime) -> dict[str, dict[str, Any]]:
        """Reminders, overdue marks and escalations that `now` brings (from the heap's due head)."""
        changed = {}
        moment = now.timestamp()
        due: list[str] = []
        while self._due and self._due[0][0] <= moment:
            at, action_id = heapq.heappop(self._due)
            if self.next_tick.get(action_id) == at:  # else rescheduled or closed since
                due.append(action_id)
        for action_id in due:
            new = self.engine.tick(self.state[action_id], now)
            if new is not None:
                changed[action_id] = new
            else:  # nothing to do yet after all: ask again when the engine says
                self._schedule(action_id, self.state[action_id])
        return changed

    def _schedule(self, action_id: str, action: Mapping[str, Any]) -> None:
        if action.get("status") in contract.ACTIVE_STATUSES:
            at = self.engine.next_tick_at(action)
            moment = None if at is None else at.timestamp()
            self.next_tick[action_id] = moment
            if moment is not None:
                heapq.heappush(self._due, (moment, action_id))
                if len(self._due) > 2 * len(self.next_tick) + 1000:  # drop the stale entries
                    self._due = [(at, i) for i, at in self.next_tick.items() if at is not None]
                    heapq.heapify(self._due)
        else:
            self.next_tick.pop(action_id, None)

    def _tick_due(self) -> bool:
        return bool(self._due) and self._due[0][0] <= self.clock().timestamp()

    # -- the tenant ------------------------------------------------------------------------------
    async def setup(self) -> None:
        from aiokafka.errors import KafkaError

        if self.producer is None:
            producer = new_producer(self.bootstrap, client_id=self.client_id)
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise BackpressureError(f"Kafka at {self.bootstrap}: {type(exc).__name__}") from exc
            self.producer = producer
        if self.notifier is not None and self._notifying is None:
            self._notifying = asyncio.ensure_future(self.notifier.run())

    def on_assigned(self, partitions: Iterable[Any]) -> None:
        if list(partitions):
            self._rebuild = True
        else:
            log.info("actions stage: standing by (another member of the group holds the inputs)")

    def on_revoked(self, partitions: Iterable[Any]) -> None:
        super().on_revoked(partitions)
        if self.active:
            log.info("actions stage: inputs revoked; state dropped until they come back")
        self._stand_by()

    def _stand_by(self) -> None:
        """Forget everything: the next owner (maybe this one again) rebuilds it from `actions`."""
        self._tenure += 1
        self.active = False
        self._rebuild = False
        self.state = {}
        self.next_tick = {}
        self._due = []
        if self.notifier is not None:
            self.notifier.forget()

    def flush_due(self, now: float) -> bool:
        if self._notifying is not None and self._notifying.done():
            return True  # the notifier failed: `flush` raises its error
        if self._rebuild:
            return True
        if not self.active:
            return False
        return super().flush_due(now) or self._tick_due() or now - self._totals_at >= TOTALS_INTERVAL_S

    async def flush(self) -> Offsets:
        if self._notifying is not None and self._notifying.done():
            self._notifying.result()  # the notifier failed: stop with its error
        if self._rebuild:
            await self._rebuild_state()
        if not self.active:
            return {}
        ticks = self.due_ticks(self.clock())
        try:
            await self._publish(ticks)
        except BackpressureError:  # not taken: due again at the next attempt
            for action_id in ticks:
                self._schedule(action_id, self.state[action_id])
            raise
        offsets = await super().flush()
        now = time.monotonic()
        if now - self._totals_at >= TOTALS_INTERVAL_S:
            self._totals_at = now
            self.metrics.totals(self.state)
        return offsets

    async def _rebuild_state(self) -> None:
        from aiokafka.errors import KafkaError

        try:
            state = await read_actions(self.bootstrap, self.topics.actions)
        except (KafkaError, OSError) as exc:
            raise BackpressureError(
                f"reading {self.topics.actions} at {self.bootstrap}: {type(exc).__name__}"
            ) from exc
        self._stand_by()
        self.state = state
        for action_id, action in state.items():
            self._schedule(action_id, action)
        self.active = True
        log.info("actions stage: active, %d actions known (%d open)", len(state), len(self.next_tick))
        if self.notifier is not None:
            self.notifier.track(state.values())

    async def write(self, batch: Batch) -> None:
        records = [(record.topic, record.value) for record in batch]
        await self._publish(self.process(records, self.clock()))
        self.committed_inputs += len(records)

    async def _publish(self, changed: Mapping[str, dict[str, Any]]) -> None:
        """Write every changed action and wait for Kafka to have all of them; then take them."""
        if not changed:
            return
        from aiokafka.errors import KafkaError

        tenure = self._tenure
        try:
            await send_all(
                self.producer,
                self.topics.actions,
                ((action_id.encode(), orjson.dumps(action)) for action_id, action in changed.items()),
            )
        except (KafkaError, OSError) as exc:
            raise BackpressureError(
                f"writing {len(changed)} actions to {self.topics.actions}: {type(exc).__name__}"
            ) from exc
        self.written += len(changed)
        if tenure != self._tenure:
            # The inputs moved while Kafka acknowledged: whoever holds them now rebuilds from
            # `actions`; taking these here would make a standby track (and notify) them.
            return
        for action_id, action in changed.items():
            self.state[action_id] = action
            self._schedule(action_id, action)
        if self.notifier is not None:
            self.notifier.track(changed.values())
        self.metrics.observe(changed.values())

    async def close(self) -> None:
        if self._notifying is not None and self.notifier is not None:
            await self.notifier.stop()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._notifying, 10)
            self._notifying = None
        if self.producer is not None:
            producer, self.producer = self.producer, None
            with contextlib.suppress(Exception):
                await producer.stop()
