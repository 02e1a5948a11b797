"""The hotspot stage's metrics: counters fed per batch and scrape-time gauges read from the engines.

One set per process on the default registry (served at the worker's ``/metrics``):
prometheus_client refuses a second registration of a name, hence the caches.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from streams.hotspots.engine import EngineStats


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
            "Events not counted again: their (organisation, event_id) counted before (re-delivery, re-send)",
        ),
    )


class HotspotCollector:
    """Scrape-time gauges read from the engines' state, so they are right after a restart too.

    ``pxstream_alerts_firing{rule}`` (open episodes; the pipeline dashboard and Prometheus rules
    use it) and ``pxstream_hotspot_watermark_seconds{partition}``. Labels are rule ids from the
    rules file and partition numbers: bounded, and never personal data.
    """

    def __init__(self) -> None:
        # HotspotRuntime objects (streams/hotspots/agent.py), dropped with their app
        self.runtimes: weakref.WeakSet[Any] = weakref.WeakSet()

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
