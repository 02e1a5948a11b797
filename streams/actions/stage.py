"""The actions stage's Kafka wiring: feedback.tagged, hotspots.alerts, actions.commands → actions.

Thin on purpose, so it can move onto the shared Kafka runtime: decisions are the engine's
(engine.py), notifications the notifier's (notifications.py); this module only reads, writes
and commits, in an order that makes the stage exactly-once by construction (docs/actions.md):

1. At start the whole state is read from the compacted `actions` topic to its end, before any
   input is consumed, so whatever was written before a crash is known.
2. A batch of inputs is applied to that state; each changed action's whole new state is produced
   to `actions` (key `action_id`), and only when Kafka has acknowledged all of them does the
   state take them and are the inputs' offsets committed.
3. A crash anywhere re-reads the uncommitted inputs, which find their actions already made (ids
   come from `action_id_for`) and their commands already in the history (`command_id`): no
   second action, no second change, no second notification for a level.

Clock ticks (reminders, overdue, escalation) run in the same loop between batches, never at
the same time as one, so a tick and a command never race on one action. One stage instance
per deployment: the state is global, not partitioned (docs/actions.md, "Scaling").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import ChainMap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from schemas import action as contract
from streams.actions.engine import ActionEngine
from streams.actions.metrics import action_metrics
from streams.actions.notifications import ActionNotifier
from streams.actions.store import read_actions

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

log = logging.getLogger(__name__)

RETRY_BACKOFF_S: Final = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True)
class StageTopics:
    tagged: str
    alerts: str
    commands: str
    actions: str


def _now() -> datetime:
    return datetime.now(UTC)


class ActionsStage:
    """One consumer over the three inputs, one producer to `actions`, the state in memory."""

    def __init__(
        self,
        *,
        bootstrap: str,
        topics: StageTopics,
        group_id: str,
        engine: ActionEngine,
        notifier: ActionNotifier | None = None,
        tick_interval_s: float = 5.0,
        batch_size: int = 500,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.group_id = group_id
        self.engine = engine
        self.notifier = notifier
        self.tick_interval_s = tick_interval_s
        self.batch_size = batch_size
        self.clock = clock
        self.state: dict[str, dict[str, Any]] = {}
        # Open or acknowledged actions → the earliest time a tick could change each (None: only a
        # command can): what a tick looks at.
        self.next_tick: dict[str, float | None] = {}
        self.consumer: AIOKafkaConsumer | None = None
        self.producer: AIOKafkaProducer | None = None
        self.ready = asyncio.Event()
        self.written = 0
        self.refused = 0
        self.committed_inputs = 0  # input records whose offsets are committed (for the bench)
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
        """Reminders, overdue marks and escalations that `now` brings."""
        changed = {}
        moment = now.timestamp()
        for action_id, at in self.next_tick.items():
            if at is not None and at <= moment:
                new = self.engine.tick(self.state[action_id], now)
                if new is not None:
                    changed[action_id] = new
        return changed

    def _schedule(self, action_id: str, action: Mapping[str, Any]) -> None:
        if action.get("status") in contract.ACTIVE_STATUSES:
            at = self.engine.next_tick_at(action)
            self.next_tick[action_id] = None if at is None else at.timestamp()
        else:
            self.next_tick.pop(action_id, None)

    # -- Kafka -------------------------------------------------------------------------------------
    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.group_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
        )
        await self.producer.start()
        self.state = await read_actions(self.bootstrap, self.topics.actions)
        for action_id, action in self.state.items():
            self._schedule(action_id, action)
        log.info("actions stage: %d actions known (%d active)", len(self.state), len(self.next_tick))
        if self.notifier is not None:
            self.notifier.track(self.state.values())
        # Every input partition assigned to this one instance (no group membership): a restart after
        # kill -9 resumes at once instead of waiting a session timeout for the dead member to leave.
        # Offsets are still committed under the group id, and read back here.
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            client_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_interval_ms=300_000,
        )
        await self.consumer.start()
        await self._assign_inputs()
        self.ready.set()

    async def _assign_inputs(self) -> None:
        from aiokafka import TopicPartition

        from runtime.admin import partitions

        consumer = self.consumer
        assert consumer is not None
        tps = [
            TopicPartition(topic, partition)
            for topic in (self.topics.tagged, self.topics.alerts, self.topics.commands)
            for partition in await partitions(self.bootstrap, topic)
        ]
        consumer.assign(tps)
        for tp in tps:
            committed = await consumer.committed(tp)
            if committed is None or committed < 0:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)

    async def stop(self) -> None:
        if self.consumer is not None:
            with contextlib.suppress(Exception):
                await self.consumer.stop()
        if self.producer is not None:
            with contextlib.suppress(Exception):
                await self.producer.stop()

    async def run(self) -> None:
        await self.start()
        notifying = asyncio.ensure_future(self.notifier.run()) if self.notifier is not None else None
        try:
            last_tick = 0.0
            while True:
                if notifying is not None and notifying.done():
                    notifying.result()  # the notifier failed: stop with its error
                batches = await self.consumer.getmany(  # type: ignore[union-attr]
                    timeout_ms=int(min(self.tick_interval_s, 1.0) * 1000), max_records=self.batch_size
                )
                if batches:
                    handling = asyncio.ensure_future(self._handle(batches))
                    try:
                        await asyncio.shield(handling)
                    except asyncio.CancelledError:
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(handling, 30)
                        raise
                if time.monotonic() - last_tick >= self.tick_interval_s:
                    last_tick = time.monotonic()
                    await self._publish(self.due_ticks(self.clock()))
                    self.metrics.totals(self.state)
        finally:
            if notifying is not None:
                await self.notifier.stop()  # type: ignore[union-attr]
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(notifying, 10)
            await self.stop()

    async def _handle(self, batches: Mapping[Any, list[Any]]) -> None:
        records = [(r.topic, r.value) for messages in batches.values() for r in messages]
        await self._publish(self.process(records, self.clock()))
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batches.items()}
        await self.consumer.commit(offsets)  # type: ignore[union-attr]
        self.committed_inputs += len(records)

    async def _publish(self, changed: Mapping[str, dict[str, Any]]) -> None:
        """Write every changed action and wait for Kafka to have all of them; then take them."""
        if not changed:
            return
        producer = self.producer
        assert producer is not None
        for attempt, pause in enumerate((*RETRY_BACKOFF_S, None)):
            try:
                pending = [
                    await producer.send(self.topics.actions, orjson.dumps(action), key=action_id.encode())
                    for action_id, action in changed.items()
                ]
                await asyncio.gather(*pending)
                break
            except Exception as exc:
                if pause is None:
                    raise
                log.error(
                    "could not write %d actions to Kafka (attempt %d: %s); retrying in %.1f s",
                    len(changed),
                    attempt + 1,
                    type(exc).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
        self.written += len(changed)
        for action_id, action in changed.items():
            self.state[action_id] = action
            self._schedule(action_id, action)
        if self.notifier is not None:
            self.notifier.track(changed.values())
        self.metrics.observe(changed.values())
