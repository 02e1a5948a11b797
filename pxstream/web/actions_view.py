"""The HTTP server's view of every action: the latest Action v1 per `action_id`, read from `actions`.

The actions stage is the single writer of `actions` (docs/actions-api.md), so the server never
decides an action's state: it reads the topic back like any outside consumer (no consumer group,
nothing committed), rebuilding the whole view from the beginning at start and then following it.
Reads answer 503 until the rebuild has reached the end offsets taken at start, so a restarted
server never answers "no such action" for one it simply has not read yet.

Each action is kept at its highest `version` (a replay of an older version, e.g. after the stage
is restarted, never rolls it back), and indexed by organisation so a tenant's listing reads only
its own actions. `wait_for` lets the create route answer with the stage's own record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import orjson

from runtime.admin import partitions
from schemas import topics

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)


class ActionsView:
    """Latest state of every action on the topic, by id and by organisation."""

    def __init__(self, bootstrap: str, topic: str = topics.ACTIONS, *, retry_s: float = 2.0) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.retry_s = retry_s
        self.refused = 0  # records that are not an Action v1 (counted, logged by position only)
        self._actions: dict[str, dict[str, Any]] = {}
        self._by_organisation: dict[str, set[str]] = defaultdict(set)
        self._waiters: dict[str, list[asyncio.Future[dict[str, Any]]]] = defaultdict(list)
        self._positions: dict[TopicPartition, int] = {}
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- reading ---------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """True once everything on the topic at start-up has been read."""
        return self._ready.is_set()

    def get(self, action_id: str, organisation: str) -> dict[str, Any] | None:
        """The action, or None when it is unknown *or* not one of `organisation`'s."""
        action = self._actions.get(action_id)
        if action is None or organisation not in action["organisations"]:
            return None
        return action

    def find(self, action_id: str) -> dict[str, Any] | None:
        """The action whatever its organisations: only for checking a signed link, which names it."""
        return self._actions.get(action_id)

    def of_organisation(self, organisation: str) -> list[dict[str, Any]]:
        return [self._actions[action_id] for action_id in self._by_organisation.get(organisation, ())]

    def __len__(self) -> int:
        return len(self._actions)

    def ready_value(self) -> float:
        return 1.0 if self.ready else 0.0

    def refused_value(self) -> float:
        return float(self.refused)

    async def wait_for(self, action_id: str, timeout_s: float) -> dict[str, Any] | None:
        """The action once it is on the topic, or None if it has not appeared within `timeout_s`."""
        found = self._actions.get(action_id)
        if found is not None:
            return found
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[action_id].append(future)
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            waiting = self._waiters.get(action_id)
            if waiting is not None:
                with contextlib.suppress(ValueError):
                    waiting.remove(future)
                if not waiting:
                    del self._waiters[action_id]

    # -- folding records in ------------------------------------------------------------------------
    def apply(self, value: bytes | None, where: str = "") -> bool:
        """Fold one record in; False (and counted) when it is not an Action v1 with id and version."""
        record = _action_or_none(value)
        if record is None:
            self.refused += 1
            log.warning("actions view: skipped a record that is not an Action v1 at %s", where or "?")
            return False
        action_id = record["action_id"]
        kept = self._actions.get(action_id)
        if kept is not None and kept["version"] > record["version"]:
            return True  # an older state replayed: the view never moves backwards
        if kept is not None:
            for organisation in kept["organisations"]:
                self._by_organisation[organisation].discard(action_id)
        self._actions[action_id] = record
        for organisation in record["organisations"]:
            self._by_organisation[organisation].add(action_id)
        for future in self._waiters.pop(action_id, ()):
            if not future.done():
                future.set_result(record)
        return True

    # -- following the topic -------------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name="actions-view")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _follow(self) -> None:
        """Read the topic for ever; a failure (Kafka away, topic missing) is retried, not fatal."""
        while True:
            consumer = await self._connect()
            try:
                await self._read(consumer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Kafka trouble: keep what we have, reconnect and resume
                log.warning("actions view: reading %s failed (%s); retrying", self.topic, type(exc).__name__)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(self.retry_s)

    async def _connect(self) -> AIOKafkaConsumer:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        warned = False
        while True:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                client_id="pxstream-web-actions-view",
            )
            try:
                await consumer.start()
                numbers = await partitions(self.bootstrap, self.topic)
                if numbers:
                    assigned = [TopicPartition(self.topic, p) for p in numbers]
                    consumer.assign(assigned)
                    for tp in assigned:
                        if tp in self._positions:
                            consumer.seek(tp, self._positions[tp])
                        else:
                            await consumer.seek_to_beginning(tp)
                    return consumer
                problem = f"topic {self.topic} does not exist yet"
            except Exception as exc:
                problem = f"Kafka at {self.bootstrap} is not reachable ({type(exc).__name__})"
            with contextlib.suppress(Exception):
                await consumer.stop()
            if not warned:
                log.warning("actions view: %s; retrying every %.0f s", problem, self.retry_s)
                warned = True
            await asyncio.sleep(self.retry_s)

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        assigned = list(consumer.assignment())
        end = await consumer.end_offsets(assigned) if not self.ready else {}
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    self.apply(record.value, f"{tp.topic}[{tp.partition}]@{record.offset}")
                if records:
                    self._positions[tp] = records[-1].offset + 1
            if not self.ready:
                positions = {tp: await consumer.position(tp) for tp in assigned}
                if all(positions[tp] >= end[tp] for tp in assigned):
                    self._ready.set()
                    log.info("actions view: %d action(s) read from %s", len(self._actions), self.topic)


def _action_or_none(value: bytes | None) -> dict[str, Any] | None:
    """The record if it has what the view relies on: an id, a version and its organisations."""
    if not value:
        return None
    try:
        record = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    action_id, version, organisations = (
        record.get("action_id"),
        record.get("version"),
        record.get("organisations"),
    )
    if not isinstance(action_id, str) or not action_id or len(action_id) > 128:
        return None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return None
    if not isinstance(organisations, list) or not all(isinstance(o, str) for o in organisations):
        return None
    return record
