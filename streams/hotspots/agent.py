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
  staged state. It can never store "fired" for an alert Kafka does not have. A crash in between
  replays the input and rebuilds the same alert: :class:`PublishedAlerts` (the tail of the alerts
  topic, read at start-up) recognises it and it is not sent twice.
* Faust commits a source offset only after flushing the producer (changelog included), so every
  key is stored at least as of the committed offset; RocksDB may hold newer versions of some keys.
  The engine's per-key position markers and watermark history make that mix replay exactly
  (tests/unit/test_hotspot_engine.py models it; tests/integration/test_hotspots_kill.py proves it).
* the clock only ticks a partition that is caught up (nothing left to read) and has been quiet
  for ``quiet_after_s``: after downtime, a backlog is never made to look late by wall-clock time.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import weakref
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from runtime.tail import read_to_end
from schemas.settings import Settings
from streams.hotspots.alertmanager import PusherConfig
from streams.hotspots.engine import EngineStats, HotspotEngine, StagedState
from streams.hotspots.pusher import AlertmanagerPusher
from streams.hotspots.rules import RuleSet

log = logging.getLogger(__name__)

TABLE_NAME = "hotspot-state"


@functools.cache
def hotspot_events_counter() -> Any:
    """``pxstream_hotspot_events_total``: tagged events the hotspot stage has applied and stored.

    Counted after a batch's state is written, so a benchmark (or an operator) comparing it with
    ``pxstream_events_out_total`` sees when the rules have caught up with the tagger. One per
    process: prometheus_client refuses a second registration of a name.
    """
    from prometheus_client import Counter

    return Counter("pxstream_hotspot_events_total", "TaggedEvents applied by the hotspot stage")


@dataclass(frozen=True)
class HotspotCounters:
    """Counters of what the rules did with events, fed from each batch's EngineStats delta.

    Counters, not a view of EngineStats: an engine is dropped when its partition moves away,
    and a Prometheus counter must never go down.
    """

    late: Any
    too_late: Any
    duplicates: Any

    def observe(self, before: EngineStats, after: EngineStats) -> None:
        for name in ("late", "too_late", "duplicates"):
            delta = getattr(after, name) - getattr(before, name)
            if delta:
                getattr(self, name).inc(delta)


@functools.cache
def hotspot_counters() -> HotspotCounters:
    """One set per process, on the default registry (served at the worker's ``/metrics``)."""
    from prometheus_client import Counter

    return HotspotCounters(
        late=Counter(
            "pxstream_hotspot_late_events_total",
            "Events counted although behind their partition's watermark (within allowed lateness)",
        ),
        too_late=Counter(
            "pxstream_hotspot_too_late_total",
            "(event, rule) pairs not counted: the event was beyond the rule's allowed lateness",
        ),
        duplicates=Counter(
            "pxstream_hotspot_duplicates_total",
            "Events not counted again: their event_id was counted before (re-delivery or re-send)",
        ),
    )


class HotspotCollector:
    """Scrape-time gauges read from the engines' state, so they are right after a restart too.

    ``pxstream_alerts_firing{rule}`` (open episodes; the pipeline dashboard and Prometheus rules
    use it) and ``pxstream_hotspot_watermark_seconds{partition}``. Labels are rule ids from the
    rules file and partition numbers: bounded, and never personal data.
    """

    def __init__(self) -> None:
        self.runtimes: weakref.WeakSet[HotspotRuntime] = weakref.WeakSet()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        firing = GaugeMetricFamily(
            "pxstream_alerts_firing", "Hotspot episodes firing on this worker's partitions", labels=["rule"]
        )
        watermark = GaugeMetricFamily(
            "pxstream_hotspot_watermark_seconds",
            "Event-time watermark of each partition this worker counts (Unix seconds)",
            labels=["partition"],
        )
        open_by_rule: dict[str, int] = {}
        for runtime in list(self.runtimes):
            for rule in runtime.rules.rules:
                open_by_rule.setdefault(rule.id, 0)
            for partition, engine in sorted(runtime.engines.items()):
                for rule_id in engine.open_episode_rules():
                    open_by_rule[rule_id] = open_by_rule.get(rule_id, 0) + 1
                if engine.watermark is not None:
                    watermark.add_metric([str(partition)], engine.watermark)
        for rule_id, count in sorted(open_by_rule.items()):
            firing.add_metric([rule_id], count)
        yield firing
        yield watermark


@functools.cache
def hotspot_collector() -> HotspotCollector:
    from prometheus_client import REGISTRY

    collector = HotspotCollector()
    REGISTRY.register(collector)  # type: ignore[arg-type]
    return collector


@contextlib.contextmanager
def _writing_as(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event while writing the table.

    Faust chooses a table write's changelog partition (and RocksDB partition) from the current
    event; in a batch from ``take_events`` that is not set per event, so writes for one partition's
    events are made under that partition's last event. Faust keeps it in a private context variable.
    """
    from faust.streams import _current_event

    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


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
        # Bucket maps are held with int keys in memory; JSON has only string keys (same bytes).
        self.table[key.encode()] = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)


class PublishedAlerts:
    """(alert_id, status) pairs already on the alerts topic, so a replay does not send them again.

    Each episode has exactly one ``firing`` and one ``resolved``, so a pair that is already on
    the topic never needs sending twice. After a crash, the inputs since the last commit are
    replayed; any alert they produced before the crash is on the topic (Kafka acknowledged it
    before the state recorded it) and is found here: the last ``tail_records`` of each partition
    are read once at start-up (by count, not time, so a long outage does not matter). Bounded: the
    oldest pairs are forgotten first.
    """

    def __init__(self, bootstrap: str, topic: str, tail_records: int = 20_000, limit: int = 200_000) -> None:
        self.bootstrap, self.topic, self.tail_records, self.limit = bootstrap, topic, tail_records, limit
        self._seen: dict[tuple[str, str], None] = {}
        self.suppressed = 0

    def __contains__(self, alert: Any) -> bool:
        return (alert["alert_id"], alert["status"]) in self._seen

    def add(self, alert: Any) -> None:
        self._seen[(alert["alert_id"], alert["status"])] = None
        if len(self._seen) > self.limit:
            del self._seen[next(iter(self._seen))]

    async def load(self) -> None:
        async for records in read_to_end(self.bootstrap, self.topic, last=self.tail_records):
            for record in records:
                try:
                    self.add(orjson.loads(record.value))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
        log.info("%d alert transition(s) already on %s", len(self._seen), self.topic)


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
    """Register the hotspot table, agent, clock timer and Alertmanager pusher on ``app``.

    ``app.conf.topic_partitions`` must equal the partition count of ``tagged_topic`` (the table's
    changelog and the ticks topic are created with it; Faust refuses a mismatch). The pusher runs
    only when ``settings.alertmanager_url`` is not empty.
    """
    from faust.types import TP

    partitions = app.conf.topic_partitions
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

    published = runtime.published = PublishedAlerts(
        settings.kafka_bootstrap, alerts_topic, dedupe_tail_records
    )

    def apply(engine: HotspotEngine, message: Any, now: float) -> list[dict[str, Any]]:
        try:
            document = orjson.loads(message.value) if message.value is not None else None
        except orjson.JSONDecodeError:
            document = None
        if not isinstance(document, dict):
            log.error(
                "%s[%s]@%s: not a JSON object, skipped", message.topic, message.partition, message.offset
            )
            return []
        if message.topic == tagged_topic:
            runtime.last_input_at[message.partition] = now
            return engine.on_event(document, message.offset, now)
        return engine.on_tick(document["w"], document["after"], now)

    async def deliver(alerts: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
        """Send new alert transitions and wait until Kafka has them all."""
        fresh = [alert for alert in alerts if alert not in published]
        if len(fresh) < len(alerts):
            published.suppressed += len(alerts) - len(fresh)
            log.info(
                "replay of %s: %d alert transition(s) already on %s, not sent again",
                where,
                len(alerts) - len(fresh),
                alerts_topic,
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
            await alerts_out.send(key=alert["alert_id"].encode(), value=orjson.dumps(alert), force=True)
            for alert in fresh
        ]
        await asyncio.gather(*pending)
        for alert in fresh:
            published.add(alert)
        return fresh

    processed = hotspot_events_counter()
    counters = hotspot_counters()
    hotspot_collector().runtimes.add(runtime)

    async def hotspot_counter(stream: Any) -> None:
        await published.load()
        async for events in stream.take_events(batch_size, within=batch_within_s):
            now = time.time()
            by_partition: dict[int, list[Any]] = {}
            for event in events:
                by_partition.setdefault(event.message.partition, []).append(event)
            staged_groups: list[tuple[Any, StagedState]] = []
            alerts: list[dict[str, Any]] = []
            for partition, group in by_partition.items():
                engine = engine_for(partition)
                before = replace(engine.stats)
                staged = StagedState(state)
                engine.state = staged
                try:
                    for event in group:
                        alerts += apply(engine, event.message, now)
                    # Here, not in the clock timer: a table write must be made under an event of
                    # its partition. Faust's committed offset is where a crash would replay from.
                    engine.end_batch(app.consumer._committed_offset.get(TP(tagged_topic, partition)))
                finally:
                    engine.state = state
                counters.observe(before, engine.stats)
                staged_groups.append((group[-1], staged))
            last = events[-1].message
            sent = (
                await deliver(alerts, f"batch ending {last.topic}[{last.partition}]@{last.offset}")
                if alerts
                else []
            )
            # Kafka has the alerts before the state says "fired". Each partition's writes are made
            # under its last event, whose partition is the changelog partition.
            for last_event, staged in staged_groups:
                with _writing_as(last_event):
                    staged.commit()
            processed.inc(sum(1 for event in events if event.message.topic == tagged_topic))
            if sent:
                # Make the new episode state durable in the changelog now rather than at the next
                # commit: shrinks the window in which a crash replays these alerts.
                await app.producer.flush()

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

    async def forget_revoked(sender: Any, revoked: Any, **_: Any) -> None:
        # A partition that moves away may come back after another worker advanced it: the
        # engine's in-memory progress (what a tick refers to) would then be stale.
        for tp in revoked:
            if tp.topic == tagged_topic:
                runtime.engines.pop(tp.partition, None)
                runtime.last_input_at.pop(tp.partition, None)

    app.on_partitions_revoked.connect(forget_revoked)

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
