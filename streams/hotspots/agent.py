"""Hosting the hotspot stage in the worker: a tenant of the runtime's loop, plus its pusher.

The counting, the clock and the order that keeps the counts exact are streams/hotspots/stage.py's
(docs/hotspot-speed.md); the state's durable copy is streams/hotspots/changelog.py's. This module
joins them to the worker: one :class:`~runtime.loop.ConsumeLoop` over ``feedback.tagged`` in the
group ``<app id>.hotspots`` (each partition counted by exactly one member), run as a task of the
Faust app by streams/hosting.py, and the Alertmanager pusher over ``hotspots.alerts``. The stage
was a Faust agent before; the loop measured several times cheaper per event for the same
exactness (docs/hotspot-speed.md, "Why a runtime tenant"), and it keeps Faust's changelog topic
and the Faust group's offsets as its starting point, so an existing deployment carries over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

from runtime.admin import CommittedOffsets
from runtime.loop import ConsumeLoop, LoopConfig
from schemas.settings import Settings
from streams.hosting import run_in_worker
from streams.hotspots.alertmanager import PusherConfig
from streams.hotspots.changelog import TABLE_NAME, Changelog, changelog_topic
from streams.hotspots.engine import EngineStats, HotspotEngine
from streams.hotspots.metrics import hotspot_collector
from streams.hotspots.pusher import AlertmanagerPusher
from streams.hotspots.rules import RuleSet
from streams.hotspots.stage import HotspotTenant
from streams.hotspots.table_state import PublishedAlerts, TableState

__all__ = ["TABLE_NAME", "HotspotRuntime", "TableState", "attach", "hotspot_group"]

# How long the broker may hold a fetch that finds nothing new. aiokafka keeps one fetch in flight
# per broker and leaves out partitions whose records it still buffers, so a request covering only
# quiet partitions is held this long while records for busy ones wait behind it: Faust's fixed
# 1.5 s kept alerts ~1.7 s behind (docs/runtime.md). 100 ms, not the 20 ms it was: paired runs of
# the latency bench gave alert p99 95-192 ms at 100 against 147-385 at 20 (20 ms meant ~50 fetches a
# second per worker, idle or not, competing with the stages for the loop and the broker's CPU).
FETCH_MAX_WAIT_MS: Final = 100

log = logging.getLogger(__name__)

COMMIT_INTERVAL_S: Final = 1.0


def hotspot_group(app_id: str) -> str:
    """The consumer group that counts ``feedback.tagged`` (the worker's Faust group is ``app_id``)."""
    return f"{app_id}.hotspots"


@dataclass(eq=False)  # an identity object: held in the metrics collector's WeakSet
class HotspotRuntime:
    """What :func:`attach` registered, for metrics and tests."""

    rules: RuleSet
    tagged_topic: str
    alerts_topic: str
    table_name: str
    changelog_topic: str
    group_id: str
    engines: dict[int, HotspotEngine] = field(default_factory=dict)
    last_input_at: dict[int, float] = field(default_factory=dict)
    pusher: AlertmanagerPusher | None = None
    published: PublishedAlerts | None = None
    loop: ConsumeLoop | None = None
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
    table_name: str = TABLE_NAME,
    tick_interval_s: float = 2.0,
    quiet_after_s: float = 5.0,
    clock_lag_s: float = 0.0,
    dedupe_tail_records: int = 20_000,
    batch_size: int = 1000,
    batch_within_s: float = 0.05,
    session_timeout_s: float = 10.0,
    replication_factor: int = 1,
    pusher_config: PusherConfig | None = None,
) -> HotspotRuntime:
    """Run the hotspot stage (and, when ``settings.alertmanager_url`` is set, its pusher) as tasks
    of ``app``. ``app.conf.topic_partitions`` is the partition count of ``tagged_topic``: the
    changelog, created when missing, gets the same."""
    app_id = app.conf.id
    partitions = app.conf.topic_partitions
    _warn_rules_split_across_partitions(rules, partitions)
    group = hotspot_group(app_id)
    runtime = HotspotRuntime(
        rules=rules,
        tagged_topic=tagged_topic,
        alerts_topic=alerts_topic,
        table_name=table_name,
        changelog_topic=changelog_topic(app_id, table_name),
        group_id=group,
    )
    published = runtime.published = PublishedAlerts(
        settings.kafka_bootstrap, alerts_topic, dedupe_tail_records
    )
    tenant = HotspotTenant(
        runtime,
        bootstrap=settings.kafka_bootstrap,
        changelog=Changelog(
            settings.kafka_bootstrap, runtime.changelog_topic, partitions, replication_factor
        ),
        published=published,
        # Where the stage stopped when it was a Faust agent in the worker's own group.
        legacy_group=app_id,
        quiet_after_s=quiet_after_s,
        tick_interval_s=tick_interval_s,
        clock_lag_s=clock_lag_s,
        batch_size=batch_size,
        batch_within_s=batch_within_s,
        client_id=group,
    )
    loop_config = LoopConfig(
        group_id=group,
        topics=(tagged_topic,),
        max_poll_records=batch_size,
        max_buffered=2 * batch_size,
        # The longest an idle poll waits: bounds how late a batch or a tick is looked at.
        poll_timeout_s=min(batch_within_s, tick_interval_s),
        # One commit round trip a second rather than one per batch; a crash replays at most this
        # interval's inputs, exactly (the changelog may hold newer state, never older).
        commit_interval_s=COMMIT_INTERVAL_S,
        backoff_initial_s=0.5,
        backoff_max_s=10.0,
        session_timeout_s=session_timeout_s,
        # A broker holds an empty fetch this long: short, so an event behind a quiet partition's
        # fetch is not held back (see FETCH_MAX_WAIT_MS above).
        consumer_options={"fetch_max_wait_ms": FETCH_MAX_WAIT_MS},
    )
    loop = runtime.loop = ConsumeLoop(settings.kafka_bootstrap, loop_config, tenant)
    tenant.consumer = lambda: loop.consumer
    tenant.group_offsets = CommittedOffsets(settings.kafka_bootstrap, group)
    hotspot_collector().runtimes.add(runtime)
    run_in_worker(app, loop, "hotspot stage")
    if settings.alertmanager_url:
        runtime.pusher = AlertmanagerPusher(
            pusher_config or PusherConfig.from_settings(settings),
            bootstrap=settings.kafka_bootstrap,
            alerts_topic=alerts_topic,
            group_id=f"{app_id}-alertmanager",
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
