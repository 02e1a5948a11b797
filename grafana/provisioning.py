"""Grafana provisioning files: data sources, the dashboard provider, and the wall-screen playlist.

The data-source uids are defined here and nowhere else; dashboards refer to them through
`grafana.style`, and a structure test checks every panel's data source is one of these.
Secrets are never written: Grafana expands `${VAR}` from its own environment at start-up.
"""

from __future__ import annotations

from grafana import style
from schemas.settings import GrafanaSettings

WALL_PLAYLIST_NAME = "pxstream wall screens"
WALL_PLAYLIST_DASHBOARDS = ("pxstream-ward", "pxstream-hotspots")
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/pxstream"


def datasources(grafana: GrafanaSettings | None = None) -> dict:
    """One ClickHouse and one Prometheus data source.

    Where Grafana reaches ClickHouse and Prometheus is fixed when the files are exported
    (`PXSTREAM_GRAFANA_CLICKHOUSE_PORT`, `_SECURE`, `PXSTREAM_GRAFANA_PROMETHEUS_URL`, read into
    `Settings.grafana`): Grafana expands `${VAR}` only inside strings, and the ClickHouse plugin
    wants a number for the port and a boolean for TLS, so these are written as values: a site
    server is usually HTTPS on 8443, the compose stack is plain HTTP on 8123 inside its own network.

    Tenancy: run one Grafana organisation per commissioner, each with this data source logged in as
    that organisation's ClickHouse dashboard user (sinks/migrations/0005_row_policies.sql), so
    ClickHouse row policies return only its rows whatever a query asks for.
    """
    grafana = grafana or GrafanaSettings()
    port, secure, prometheus_url = grafana.clickhouse_port, grafana.clickhouse_secure, grafana.prometheus_url
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": "pxstream ClickHouse",
                "uid": style.CLICKHOUSE_UID,
                "type": style.CLICKHOUSE_TYPE,
                "access": "proxy",
                "isDefault": True,
                "editable": False,
                "jsonData": {
                    "host": "${PXSTREAM_GRAFANA_CLICKHOUSE_HOST}",
                    "port": port,
                    "protocol": "http",
                    "secure": secure,
                    "username": "${PXSTREAM_GRAFANA_CLICKHOUSE_USER}",
                    "defaultDatabase": "default",
                },
                "secureJsonData": {"password": "${PXSTREAM_GRAFANA_CLICKHOUSE_PASSWORD}"},
            },
            {
                "name": "pxstream Prometheus",
                "uid": style.PROMETHEUS_UID,
                "type": style.PROMETHEUS_TYPE,
                "access": "proxy",
                "url": prometheus_url,
                "editable": False,
                "jsonData": {"timeInterval": "15s"},
            },
        ],
    }


def datasource_uids() -> set[str]:
    return {source["uid"] for source in datasources()["datasources"]}


def dashboard_provider() -> dict:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "pxstream",
                "orgId": 1,
                "folder": style.FOLDER_TITLE,
                "folderUid": style.FOLDER_UID,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_PATH, "foldersFromFilesStructure": False},
            }
        ],
    }


def wall_playlist() -> dict:
    """Grafana has no file provisioning for playlists: this is the body `publish` sends to /api/playlists.

    Start it on a screen with `/playlists/play/<uid>?kiosk` and the ward's variables in the URL.
    """
    return {
        "name": WALL_PLAYLIST_NAME,
        "interval": "1m",
        "items": [{"type": "dashboard_by_uid", "value": uid} for uid in WALL_PLAYLIST_DASHBOARDS],
    }
