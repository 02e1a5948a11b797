"""Every pxstream dashboard, one module each; `build_all()` is the single source of truth."""

from __future__ import annotations

from grafana.dashboards import actions, commissioner, hotspots, pipeline, provider, themes, ward

MODULES = (ward, provider, commissioner, hotspots, themes, actions, pipeline)


def build_all() -> dict[str, dict]:
    """uid → dashboard JSON model."""
    return {module.UID: module.build() for module in MODULES}
