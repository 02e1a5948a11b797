"""`pxstream grafana export DIR`: dashboards and provisioning files a Grafana can mount as they are.

Layout (mount `DIR/provisioning` as /etc/grafana/provisioning and `DIR/dashboards` at the
provider's path):
    DIR/dashboards/<uid>.json
    DIR/provisioning/datasources/pxstream.yaml
    DIR/provisioning/dashboards/pxstream.yaml
    DIR/playlists/<name>.json        (Grafana cannot provision playlists from files; `publish` sends it)
"""

from __future__ import annotations

from pathlib import Path

import yaml

from grafana import provisioning
from grafana.builders import render
from grafana.dashboards import build_all
from schemas.settings import GrafanaSettings


def _yaml(document: dict) -> str:
    return yaml.safe_dump(document, sort_keys=True, allow_unicode=True, default_flow_style=False)


def export(directory: Path, grafana: GrafanaSettings) -> list[Path]:
    """Write every file; returns the paths written (stable order, for the CLI's listing)."""
    files: dict[Path, str] = {}
    for uid, dashboard in build_all().items():
        files[directory / "dashboards" / f"{uid}.json"] = render(dashboard)
    datasources = provisioning.datasources(grafana)
    files[directory / "provisioning" / "datasources" / "pxstream.yaml"] = _yaml(datasources)
    files[directory / "provisioning" / "dashboards" / "pxstream.yaml"] = _yaml(
        provisioning.dashboard_provider()
    )
    files[directory / "playlists" / "pxstream-wall-screens.json"] = render(provisioning.wall_playlist())
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return sorted(files)
