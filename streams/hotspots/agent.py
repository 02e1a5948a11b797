"""Faust wiring for hotspots: the state table, the counting agent, the clock, the pusher.

:func:`attach` declares the parts of :class:`HotspotStage` on an app built elsewhere
(``streams.app``), so the counting logic in engine.py stays free of Faust. What this module adds
is the delivery discipline (docs/faust.md, "Processing guarantees"):

* one agent with ``concurrency=1`` consumes ``feedback.tagged`` (keyed by provider, so a
  provider's windows live in one partition) *and* an internal ticks topic with the same number of
  partitions. Faust writes a table under the partition of the event being processed, so a clock
  tick for partition p must arrive as a message on partition p: the timer sends it, the agent
  applies it in order with the events.
* per input: run the engine on a :class:`StagedState`, send its alerts with ``force=True``
  (immediately, not attached to the commit) and wait for Kafka's acknowledgement, then write the
  staged state. It can never store "fired" for an alert Kafka does not have. A crash in between
  replays the input and rebuilds the same alert: :class:`PublishedAlerts` (the tail of the alerts
  topic, read at start-up) recognises it and it is not sent twice.
* Faust commits a source offset only after flushing the producer (changelog included), so every
  key is stored at least as of the committed offset; RocksDB may hold newer versions of some keys.
  The engine's per-key position markers and watermark history make that mix replay exactly
  (tests/unit/test_hotspot_engine.py models it; tests/integration/test_hotspots_kill.py proves it).
* the changelog is paid per batch, not per event: a batch's inputs run on one staged state per
  partition, so each key they touch is read, decoded, encoded and written (RocksDB + changelog)
  once per batch, however many of the batch's events it counted.
* the clock only ticks a partition that is caught up (nothing left to read) and has been quiet
  for ``quiet_after_s``: after downtime, a backlog is never made to look late by wall-clock time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from runtime.admin import CommittedOffsets
from schemas.settings import Settings
from streams.hotspots.alertmanager import PusherConfig
from streams.hotspots.engine import EngineStats, HotspotEngine, StagedState
from streams.hotspots.metrics import hotspot_collector, hotspot_counters, hotspot_events_counter
from streams.hotspots.pusher import AlertmanagerPusher
from streams.hotspots.rules import RuleSet
from streams.hotspots.table_state import PublishedAlerts, TableState, writing_as

log = logging.getLogger(__name__)

TABLE_NAME = "hotspot-state"


@dataclass(eq=False)  # an identity object: held in the metrics collector's WeakSet
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
    published: PublishedAlerts | None = None
    ticks_sent: int = 0
    started_at: float = field(default_factory=time.time)

    def stats(self) -> EngineStats:
        """Counters summed over this worker's partitions."""
        total = EngineStats()
        for engine in self.engines.values():
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(engine.stats, name))
        return total


class HotspotStage:
    """The hotspot stage's parts, each a method that :func:`attach` declares to Faust.

    ``count`` is the agent over feedback.tagged and the ticks topic, ``tick`` the clock timer,
    ``refresh_committed`` the timer that follows the group's committed offsets, and
    ``forget_revoked`` the revocation handler. They share the per-partition engines, the table,
    the alerts topic and the record of what is already published.
    """

    def __init__(
        self,
        app: Any,
        runtime: HotspotRuntime,
        state: TableState,
        *,
        ticks: Any,
        alerts_out: Any,
        published: PublishedAlerts,
        committed: CommittedOffsets,
        quiet_after_s: float,
        clock_lag_s: float,
        batch_size: int,
        batch_within_s: float,
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.state = state
        self.ticks = ticks
        self.alerts_out = alerts_out
        self.published = published
        self.committed = committed
        self.quiet_after_s = quiet_after_s
        self.clock_lag_s = clock_lag_s
        self.batch_size = batch_size
        self.batch_within_s = batch_within_s
        self.tagged_topic = runtime.tagged_topic
        self.processed = hotspot_events_counter()
        self.counters = hotspot_counters()

    def engine_for(self, partition: int) -> HotspotEngine:
        engine = self.runtime.engines.get(partition)
        if engine is None:
            engine = self.runtime.engines[partition] = HotspotEngine(
                self.runtime.rules, self.state, partition=partition
            )
        return engine

    def apply(self, engine: HotspotEngine, message: Any, now: float) -> list[dict[str, Any]]:
        try:
            document = orjson.loads(message.value) if message.value is not None else None
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            log.error(
                "%s[%s]@%s: not a JSON object, skipped", message.topic, message.partition, message.offset
            )
            return []
        if message.topic == self.tagged_topic:
            self.runtime.last_input_at[message.partition] = now
            return engine.on_event(document, message.offset, now)
        return engine.on_tick(document["w"], document["after"], now)

    async def deliver(self, alerts: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        """Send new alert transitions and wait until Kafka has them all."""
        published = self.published
        fresh = [alert for alert in alerts if alert not in published]
        if len(fresh) < len(alerts):
            published.suppressed += len(alerts) - len(fresh)
            log.info(
                "replay of %s: %d alert transition(s) already on %s, not sent again",
                where,
                len(alerts) - len(fresh),
                self.runtime.alerts_topic,
            )
        for alert in fresh:
            log.info(
                "hotspot %s %s rule=%s group=%s window_start=%s count=%s (%s)",
                alert["status"],
                alert["alert_id"],
                alert["rule_id"],
                alert["group"],
                alert["window_start"],
                alert["count"],
                where,
            )
        pending = [
            await self.alerts_out.send(key=alert["alert_id"].encode(), value=orjson.dumps(alert), force=True)
            for alert in fresh
        ]
        await asyncio.gather(*pending)
        for alert in fresh:
            published.add(alert)
        return fresh

    async def refresh_committed(self) -> None:
        await self.committed.refresh()

    async def count(self, stream: Any) -> None:
        """The agent: every batch of events and ticks, counted, delivered, then stored."""
        await self.published.load()
        async for events in stream.take_events(self.batch_size, within=self.batch_within_s):
            await self.count_batch(events)

    async def count_batch(self, events: list[Any]) -> None:
        now = time.time()
        by_partition: dict[int, list[Any]] = {}
        for event in events:
            by_partition.setdefault(event.message.partition, []).append(event)
        staged_groups: list[tuple[Any, StagedState]] = []
        alerts: list[dict[str, Any]] = []
        try:
            for partition, group in by_partition.items():
                engine = self.engine_for(partition)
                before = replace(engine.stats)
                staged = StagedState(self.state)
                engine.state = staged
                try:
                    for event in group:
                        alerts += self.apply(engine, event.message, now)
                    # Here, not in the clock timer: a table write must be made under an event
                    # of its partition. The committed offset is where a crash would replay from.
                    engine.end_batch(self.committed.get(self.tagged_topic, partition))
                finally:
                    engine.state = self.state
                self.counters.observe(before, engine.stats)
                staged_groups.append((group[-1], staged))
            last = events[-1].message
            sent = (
                await self.deliver(alerts, f"batch ending {last.topic}[{last.partition}]@{last.offset}")
                if alerts
                else []
            )
            # Kafka has the alerts before the state says "fired". Each partition's writes are
            # made under its last event, whose partition is the changelog partition: each
            # touched key once per batch, however many of the batch's events it counted.
            for last_event, staged in staged_groups:
                with writing_as(last_event):
                    staged.commit()
        except BaseException:
            # The engines' cached metadata may be half-changed for a batch that is not stored.
            for engine in self.runtime.engines.values():
                engine.forget_cached()
            raise
        self.processed.inc(sum(1 for event in events if event.message.topic == self.tagged_topic))
        if sent:
            # Make the new episode state durable in the changelog now rather than at the next
            # commit: shrinks the window in which a crash replays these alerts.
            await self.app.producer.flush()

    async def tick(self) -> None:
        """The clock: a tick for each caught-up, quiet partition, sent through its ticks partition."""
        runtime = self.runtime
        now = time.time()
        consumer = self.app.consumer
        for tp in self.app.assignor.assigned_actives():
            if tp.topic != self.tagged_topic:
                continue
            highwater = consumer.highwater(tp)
            if not highwater:
                continue  # never written, or not fetched yet: nothing to resolve
            if now - runtime.last_input_at.get(tp.partition, runtime.started_at) < self.quiet_after_s:
                continue
            engine = runtime.engines.get(tp.partition)
            if engine is not None and engine.progress is not None:
                if engine.progress < highwater - 1:
                    continue  # behind: a backlog is being read, event time will move it
                after = engine.progress
            else:
                # Nothing processed since this process started: tick only if everything up to
                # the end of the partition was committed before (a restart on a quiet stream).
                committed_offset = self.committed.get(tp.topic, tp.partition)
                if committed_offset is None or committed_offset < highwater:
                    continue
                after = highwater - 1
            await self.ticks.send(
                value=orjson.dumps({"w": now - self.clock_lag_s, "after": after}), partition=tp.partition
            )
            runtime.ticks_sent += 1

    async def forget_revoked(self, sender: Any, revoked: Any, **_: Any) -> None:
        # A partition that moves away may come back after another worker advanced it: the
        # engine's in-memory progress (what a tick refers to) would then be stale.
        for tp in revoked:
            if tp.topic == self.tagged_topic:
                self.runtime.engines.pop(tp.partition, None)
                self.runtime.last_input_at.pop(tp.partition, None)


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
    dedupe_tail_records: int = 20_000,
    batch_size: int = 1000,
    batch_within_s: float = 0.05,
    pusher_config: PusherConfig | None = None,
) -> HotspotRuntime:
    """Declare the hotspot table, topics, agent, timers and Alertmanager pusher on ``app``.

    ``app.conf.topic_partitions`` must equal the partition count of ``tagged_topic`` (the table's
    changelog and the ticks topic are created with it; Faust refuses a mismatch). The pusher runs
    only when ``settings.alertmanager_url`` is not empty.
    """
    partitions = app.conf.topic_partitions
    _warn_rules_split_across_partitions(rules, partitions)
    ticks_name = ticks_topic or f"{app.conf.id}-{tagged_topic}-hotspot-ticks"
    runtime = HotspotRuntime(
        rules=rules,
        tagged_topic=tagged_topic,
        alerts_topic=alerts_topic,
        ticks_topic=ticks_name,
        table_name=table_name,
    )
    table = app.Table(table_name, key_type=bytes, value_type=bytes, partitions=partitions)
    # internal=True: Faust creates the ticks topic (and the tagged topic, if it is missing) with
    # the table's partition count when it subscribes.
    source = app.topic(
        tagged_topic, ticks_name, key_type=bytes, value_type=bytes, partitions=partitions, internal=True
    )
    published = runtime.published = PublishedAlerts(
        settings.kafka_bootstrap, alerts_topic, dedupe_tail_records
    )
    stage = HotspotStage(
        app,
        runtime,
        TableState(table),
        ticks=app.topic(ticks_name, key_type=bytes, value_type=bytes, partitions=partitions),
        alerts_out=app.topic(alerts_topic, key_type=bytes, value_type=bytes),
        published=published,
        # Faust keeps its committed offsets privately; the broker's view of the same group is
        # public and never ahead of Faust's, so a refresh each tick is an earlier, safe answer to
        # "where would a crash replay from" (docs/runtime.md).
        committed=CommittedOffsets(settings.kafka_bootstrap, app.conf.id),
        quiet_after_s=quiet_after_s,
        clock_lag_s=clock_lag_s,
        batch_size=batch_size,
        batch_within_s=batch_within_s,
    )
    hotspot_collector().runtimes.add(runtime)
    app.timer(min(1.0, tick_interval_s), name=f"{table_name}-committed")(stage.refresh_committed)
    app.agent(source, name=f"{table_name}-counter", concurrency=1)(stage.count)
    app.timer(tick_interval_s, name=f"{table_name}-clock")(stage.tick)
    app.on_partitions_revoked.connect(stage.forget_revoked)
    if settings.alertmanager_url:
        runtime.pusher = AlertmanagerPusher(
            pusher_config or PusherConfig.from_settings(settings),
            bootstrap=settings.kafka_bootstrap,
            alerts_topic=alerts_topic,
            group_id=f"{app.conf.id}-alertmanager",
        )
        app.task(runtime.pusher.run)
    return runtime


def _warn_rules_split_across_partitions(rules: RuleSet, partitions: int) -> None:
    for rule in rules.rules:
        if partitions > 1 and "provider" not in rule.group_by:
            # feedback.tagged is keyed by provider: a group spanning providers is split across
            # partitions, and each partition counts only its share. Say so loudly.
            log.warning(
                "rule %r groups by %s without provider: with %d partitions each counts only the "
                "providers it holds (add provider to group_by, or run feedback.tagged with 1 partition)",
                rule.id,
                ", ".join(rule.group_by),
                partitions,
            )
