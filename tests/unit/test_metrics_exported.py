"""Every metric the dashboards and Prometheus rules read is one the worker's stages export.

The dashboard's METRICS list and the rules file are checked against each other elsewhere; this
checks them against the code, where a missing metric only shows as an empty panel.
"""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import REGISTRY

from grafana.dashboards import pipeline

RULES_DIR = Path(__file__).resolve().parents[2] / "infra" / "prometheus" / "rules"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def exported_names() -> set[str]:
    """Metric and sample names on the process registry once every stage has made its metrics."""
    import sinks.metrics  # noqa: F401  (registers at import)
    from streams.hotspots.metrics import hotspot_collector, hotspot_counters, hotspot_events_counter
    from streams.metrics import pipeline_metrics

    pipeline_metrics(), hotspot_counters(), hotspot_events_counter(), hotspot_collector()
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
    return names


def test_every_dashboard_metric_is_exported() -> None:
    assert set(pipeline.METRICS) - exported_names() == set()


def test_every_metric_the_prometheus_rules_name_is_exported() -> None:
    named = {
        name
        for path in RULES_DIR.glob("*.yml")
        for name in re.findall(r"\bpxstream_[a-z_]+", path.read_text())
        if not name.endswith("_")
    }
    assert named, "the rules should name the worker's metrics"
    assert named - exported_names() == set()
