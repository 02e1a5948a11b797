"""Faust wiring for hotspots: the state table, the counting agent, the clock, the pusher.

:func:`attach` registers on an app built elsewhere (``streams.app``), so the counting logic in
engine.py stays free of Faust. What this module adds is the delivery discipline (FAUST-NOTES.md):

* one agent with ``concurrency=1`` consumes ``feedback.tagged`` (keyed by provider, so a
  provider's windows live in one partition) *and* an internal ticks topic with the same number of
  partitions. Faust writes a table under the partition of the event being processed, so a clock
  tick for partition p must arrive as a message on partition p: the timer sends it, the agent
  applies it in order with the events.
* per input: run the engine on a :class:`StagedState`, send its alerts with ``force=True``
  (immediately, not attached to the commit) and wait for Kafka's acknowledgement, then write the
  staged state. A crash in between re-sends the same alert ids; it can never store "fired" for an
  alert Kafka does not have.
* Faust commits a source offset only after flushing the producer (changelog included), so every
  key is stored at least as of the committed offset; RocksDB may hold newer versions of some keys.
  The engine's per-key position markers and watermark history make that mix replay exactly
  (tests/unit/test_hotspot_engine.py models it; tests/integration/test_hotspots_kill.py proves it).
* the clock only ticks a partition that is caught up (nothing left to read) and has been quiet
  for ``quiet_after_s``: after downtime, a backlog is never made to look late by wall-clock time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.settings import Settings
from streams.hotspots.alertmanager import AlertmanagerPusher, PusherConfig
from streams.hotspots.engine import EngineStats, HotspotEngine, StagedState
from streams.hotspots.rules import RuleSet

log = logging.getLogger(__name__)

TABLE_NAME = "hotspot-state"


class TableState(MutableMapping[str, Any]):
    """A Faust table (bytes keys and values) seen as str → JSON value, encoded with orjson."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> Any:
        raw = self.table.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.table.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[key.encode()] = orjson.dumps(value)

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)


@dataclass
class HotspotRuntime:
    """What :func:`attach` registered, for metrics and tests."""

    rules: RuleSet
    tagged_topic: str
    alerts_topic: str
    ticks_topic: str
    table_name: str
    engines: dict[int, HotspotEngine] = field(default_factory=dict)
    last_input_at: dict[int, float] = field(default_factory=dict)
    pusher: AlertmanagerPusher | None = None
    ticks_sent: int = 0
    started_at: float = field(default_factory=time.time)

    def stats(self) -> EngineStats:
        """Counters summed over this worker's partitions."""
        total = EngineStats()
        for engine in self.engines.values():
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(engine.stats, name))
        return total


def attach(
    app: Any,
    settings: Settings,
    rules: RuleSet,
    *,
    tagged_topic: str = "feedback.tagged",
    alerts_topic: str = "hotspots.alerts",
    ticks_topic: str | None = None,
    table_name: str = TABLE_NAME,
    tick_interval_s: float = 2.0,
    quiet_after_s: float = 5.0,
    clock_lag_s: float = 0.0,
    pusher_config: PusherConfig | None = None,
) -> HotspotRuntime:
    """Register the hotspot table, agent, clock timer and Alertmanager pusher on ``app``.

    ``app.conf.topic_partitions`` must equal the partition count of ``tagged_topic`` (the table's
    changelog and the ticks topic are created with it; Faust refuses a mismatch). The pusher runs
    only when ``settings.alertmanager_url`` is not empty.
    """
    partitions = app.conf.topic_partitions
    ticks_name = ticks_topic or f"{app.conf.id}-{tagged_topic}-hotspot-ticks"
    runtime = HotspotRuntime(
        rules=rules,
        tagged_topic=tagged_topic,
        alerts_topic=alerts_topic,
        ticks_topic=ticks_name,
        table_name=table_name,
    )
    table = app.Table(table_name, key_type=bytes, value_type=bytes, partitions=partitions)
    state = TableState(table)
    ticks = app.topic(ticks_name, key_type=bytes, value_type=bytes, partitions=partitions)
    alerts_out = app.topic(alerts_topic, key_type=bytes, value_type=bytes)
    # internal=True: Faust creates the ticks topic (and the tagged topic, if it is missing) with
    # the table's partition count when it subscribes.
    source = app.topic(
        tagged_topic, ticks_name, key_type=bytes, value_type=bytes, partitions=partitions, internal=True
    )

    def engine_for(partition: int) -> HotspotEngine:
        engine = runtime.engines.get(partition)
        if engine is None:
            engine = runtime.engines[partition] = HotspotEngine(rules, state, partition=partition)
        return engine

    async def hotspot_counter(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            engine = engine_for(message.partition)
            staged = StagedState(state)
            engine.state = staged
            now = time.time()
            try:
                document = orjson.loads(message.value) if message.value is not None else None
            except orjson.JSONDecodeError:
                document = None
            if not isinstance(document, dict):
                log.error(
                    "%s[%s]@%s: not a JSON object, skipped", message.topic, message.partition, message.offset
                )
                alerts = []
            elif message.topic == tagged_topic:
                runtime.last_input_at[message.partition] = now
                alerts = engine.on_event(document, message.offset, now)
            else:
                alerts = engine.on_tick(document["w"], document["after"], now)
            if alerts:
                pending = [
                    await alerts_out.send(
                        key=alert["alert_id"].encode(), value=orjson.dumps(alert), force=True
                    )
                    for alert in alerts
                ]
                await asyncio.gather(*pending)  # acknowledged by Kafka before state says "fired"
                staged.commit()
                # Make the new episode state durable in the changelog now rather than at the next
                # commit: shrinks the window in which a crash makes a replay re-send this alert.
                await app.producer.flush()
            else:
                staged.commit()
            engine.state = state

    app.agent(source, name=f"{table_name}-counter", concurrency=1)(hotspot_counter)

    async def hotspot_clock() -> None:
        now = time.time()
        consumer = app.consumer
        for tp in app.assignor.assigned_actives():
            if tp.topic != tagged_topic:
                continue
            highwater = consumer.highwater(tp)
            if not highwater:
                continue  # never written, or not fetched yet: nothing to resolve
            if now - runtime.last_input_at.get(tp.partition, runtime.started_at) < quiet_after_s:
                continue
            engine = runtime.engines.get(tp.partition)
            if engine is not None and engine.progress is not None:
                if engine.progress < highwater - 1:
                    continue  # behind: a backlog is being read, event time will move it
                after = engine.progress
            else:
                # Nothing processed since this process started: tick only if everything up to
                # the end of the partition was committed before (a restart on a quiet stream).
                committed = consumer._committed_offset.get(tp)
                if committed is None or committed < highwater:
                    continue
                after = highwater - 1
            await ticks.send(
                value=orjson.dumps({"w": now - clock_lag_s, "after": after}), partition=tp.partition
            )
            runtime.ticks_sent += 1

    app.timer(tick_interval_s, name=f"{table_name}-clock")(hotspot_clock)

    if settings.alertmanager_url:
        config = pusher_config or PusherConfig.from_env(settings.alertmanager_url)
        pusher = AlertmanagerPusher(
            config,
            bootstrap=settings.kafka_bootstrap,
            alerts_topic=alerts_topic,
            group_id=f"{app.conf.id}-alertmanager",
        )
        runtime.pusher = pusher

        async def alertmanager_pusher() -> None:
            await pusher.run()

        app.task(alertmanager_pusher)
    return runtime
