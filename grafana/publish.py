"""`pxstream grafana publish`: create or update the folder, dashboards and playlist through the
Grafana HTTP API (grafana-client), idempotently.

Idempotent means a second run changes nothing: a dashboard whose stored model already equals ours
is not posted again (Grafana would otherwise bump its version on every run), and the playlist is
found by name and updated in place rather than duplicated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from grafana import provisioning, style
from grafana.dashboards import build_all
from schemas.errors import PxstreamError, UnreachableError

log = logging.getLogger(__name__)

# Keys Grafana adds or changes on save; they do not make a dashboard different.
_VOLATILE = ("id", "version")


class PublishError(PxstreamError):
    """Grafana refused a request."""


@dataclass
class PublishReport:
    folder: str = ""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"folder {self.folder}: {len(self.created)} created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged"
        )


def _same(stored: dict, ours: dict) -> bool:
    strip = lambda d: {k: v for k, v in d.items() if k not in _VOLATILE}  # noqa: E731
    return strip(stored) == strip(ours)


def _api(url: str, token: str):
    from grafana_client import GrafanaApi

    return GrafanaApi.from_url(url, credential=token)


def publish(url: str, token: str, *, client: Any = None) -> PublishReport:
    from grafana_client.client import GrafanaClientError, GrafanaException

    api = client or _api(url, token)
    report = PublishReport()
    try:
        report.folder = _ensure_folder(api, report)
        for uid, dashboard in build_all().items():
            _publish_dashboard(api, uid, dashboard, report)
        _publish_playlist(api, report)
    except GrafanaClientError as exc:
        raise PublishError(f"Grafana at {url} refused a request: {exc}") from None
    except GrafanaException as exc:
        raise PublishError(f"Grafana at {url}: {exc}") from None
    except OSError as exc:
        raise UnreachableError(f"Grafana at {url} does not answer ({exc})") from None
    except Exception as exc:  # niquests' connection errors are not OSErrors
        if type(exc).__module__.startswith(("niquests", "urllib3")):
            raise UnreachableError(f"Grafana at {url} does not answer ({exc})") from None
        raise
    return report


def _ensure_folder(api, report: PublishReport) -> str:
    from grafana_client.client import GrafanaClientError

    try:
        folder = api.folder.get_folder(style.FOLDER_UID)
    except GrafanaClientError as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        folder = api.folder.create_folder(style.FOLDER_TITLE, uid=style.FOLDER_UID)
        report.created.append(f"folder {style.FOLDER_UID}")
        return folder["uid"]
    if folder.get("title") != style.FOLDER_TITLE:
        api.folder.update_folder(style.FOLDER_UID, title=style.FOLDER_TITLE, overwrite=True)
        report.updated.append(f"folder {style.FOLDER_UID}")
    else:
        report.unchanged.append(f"folder {style.FOLDER_UID}")
    return folder["uid"]


def _publish_dashboard(api, uid: str, dashboard: dict, report: PublishReport) -> None:
    from grafana_client.client import GrafanaClientError

    try:
        stored = api.dashboard.get_dashboard(uid)
    except GrafanaClientError as exc:
        if getattr(exc, "status_code", None) != 404:
            raise
        stored = None
    if (
        stored
        and _same(stored["dashboard"], dashboard)
        and stored.get("meta", {}).get("folderUid") == style.FOLDER_UID
    ):
        report.unchanged.append(uid)
        return
    api.dashboard.update_dashboard(
        {
            "dashboard": {**dashboard, "id": None},
            "folderUid": style.FOLDER_UID,
            "overwrite": True,
            "message": "pxstream grafana publish",
        }
    )
    (report.updated if stored else report.created).append(uid)


def _publish_playlist(api, report: PublishReport) -> None:
    body = provisioning.wall_playlist()
    name = body["name"]
    found = [p for p in api.client.GET("/playlists", params={"name": name}) if p.get("name") == name]
    if not found:
        api.client.POST("/playlists", json=body)
        report.created.append(f"playlist {name}")
        return
    uid = found[0]["uid"]
    stored = api.client.GET(f"/playlists/{uid}")
    current = {
        "name": stored.get("name"),
        "interval": stored.get("interval"),
        "items": [{"type": i.get("type"), "value": i.get("value")} for i in stored.get("items") or []],
    }
    if current == body:
        report.unchanged.append(f"playlist {name}")
        return
    api.client.PUT(f"/playlists/{uid}", json=body)
    report.updated.append(f"playlist {name}")
