"""Hotspot alerts in Alertmanager's terms (``POST /api/v2/alerts``), and the client that posts them.

The pusher that reads ``hotspots.alerts`` and delivers through this client, never losing an
alert, is a tenant of the Kafka runtime's loop: streams/hotspots/pusher.py.

Alertmanager forgets an alert at its ``endsAt``; following its guidance for clients, firing
alerts are re-sent every ``resend_interval`` with ``endsAt`` a few intervals ahead, and a
resolution is sent with ``endsAt`` = the episode's ``resolved_at``. After a restart the set of
still-firing alerts is rebuilt from the topic, so re-sending carries on.

Only codes, ward names, counts and rule text leave here: no event text, no personal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from runtime.backoff import Backoff
from runtime.exceptions import BackpressureError
from schemas.alert import RESOLVED
from schemas.settings import Settings
from streams.hotspots.windows import iso_z

log = logging.getLogger(__name__)

ALERTNAME = "PatientExperienceHotspot"
DASHBOARD_PATH = "/d/pxstream-hotspots"
DEFAULT_GRAFANA_URL = "http://localhost:3000"


@dataclass(frozen=True)
class PusherConfig:
    alertmanager_url: str
    grafana_url: str = DEFAULT_GRAFANA_URL
    resend_interval_s: float = 60.0
    # endsAt of a firing alert = now + this many resend intervals (Prometheus uses 4).
    ends_at_intervals: int = 4
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    request_timeout_s: float = 10.0
    max_tracked_firing: int = 10_000
    batch_size: int = 500
    # The pusher's consumer group (runtime/loop.py keeps polling through an outage, so neither
    # bounds how long Alertmanager may be away).
    session_timeout_s: float = 10.0
    max_poll_interval_s: float = 300.0

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> PusherConfig:
        """Alertmanager's and Grafana's addresses from the settings (schemas/settings.py)."""
        return cls(
            alertmanager_url=settings.alertmanager_url.rstrip("/"),
            grafana_url=settings.grafana.url,
            **overrides,
        )


def alert_organisations(alert: Mapping[str, Any]) -> list[str]:
    """The episode's organisations, sorted; the group's own organisation always among them."""
    found = {str(o) for o in alert.get("organisations") or () if o}
    if alert["group"].get("organisation"):
        found.add(str(alert["group"]["organisation"]))
    return sorted(found)


def alertmanager_alerts(alert: Mapping[str, Any], config: PusherConfig, now: float) -> list[dict[str, Any]]:
    """One Alert v1 record → one Alertmanager v2 postable alert per organisation of the episode.

    Labels as docs/contracts.md (alertname, rule, severity, each group field) plus ``organisation``:
    one alert per organisation, so each routes to its own people on a plain
    ``organisation="CODE"`` matcher, and an episode that grows to a new organisation while it
    fires adds that organisation's alert without changing (and so re-notifying or orphaning) the
    others' - Alertmanager identifies an alert by its labels (docs/tenancy.md). The full list is in
    the ``organisations`` annotation. An episode of no organisation is one alert without the label.
    """
    organisations = alert_organisations(alert)
    return [
        _postable(alert, config, now, organisation, organisations) for organisation in organisations or [""]
    ]


def _postable(
    alert: Mapping[str, Any], config: PusherConfig, now: float, organisation: str, organisations: list[str]
) -> dict[str, Any]:
    group = {str(k): str(v) for k, v in alert["group"].items()}
    labels = {"alertname": ALERTNAME, "rule": alert["rule_id"], "severity": alert["severity"], **group}
    if organisation:
        labels["organisation"] = organisation
    where = ", ".join(f"{k} {v}" for k, v in group.items())
    summary = (
        f"{alert['rule_id']}: {alert['count']} in window {alert['window_start']} – {alert['window_end']}"
        f" ({where}; limit {alert['threshold']})"
    )
    query = {"var-alert_id": alert["alert_id"], **{f"var-{k}": v for k, v in group.items()}}
    if organisation:
        query["var-organisation"] = organisation
    dashboard = f"{config.grafana_url}{DASHBOARD_PATH}?{urlencode(query)}"
    if alert["status"] == RESOLVED and alert.get("resolved_at"):
        # The engine never resolves an episode before it fired (clock skew between workers), but
        # the alerts topic is an outbox any producer may write to, and Alertmanager refuses an
        # alert that ends before it starts (HTTP 400, never retried), which would leave the page
        # open until its last endsAt: so guard here too and end such an alert at its start.
        ends_at = max(alert["resolved_at"], alert["fired_at"], key=datetime.fromisoformat)
    else:
        ends_at = iso_z(now + config.resend_interval_s * config.ends_at_intervals)
    annotations = {"summary": summary, "description": alert["description"], "dashboard": dashboard}
    if organisations:
        annotations["organisations"] = ",".join(organisations)
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": alert["fired_at"],
        "endsAt": ends_at,
        "generatorURL": dashboard,
    }


class FiringRegistry:
    """Alerts still firing, for periodic re-sending; bounded, oldest dropped first (logged)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._alerts: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def apply(self, alert: Mapping[str, Any]) -> None:
        alert_id = alert["alert_id"]
        if alert["status"] == RESOLVED:
            self._alerts.pop(alert_id, None)
            return
        self._alerts[alert_id] = dict(alert)
        self._alerts.move_to_end(alert_id)
        while len(self._alerts) > self.limit:
            dropped, _ = self._alerts.popitem(last=False)
            log.warning("more than %d alerts firing: no longer re-sending %s", self.limit, dropped)

    def firing(self) -> list[dict[str, Any]]:
        return list(self._alerts.values())

    def __len__(self) -> int:
        return len(self._alerts)


def latest_per_alert(alerts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Collapse a batch to each episode's latest state (a resolution supersedes its firing)."""
    latest: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        previous = latest.get(alert["alert_id"])
        if previous is not None and previous["status"] == RESOLVED and alert["status"] != RESOLVED:
            continue  # a re-sent firing after its resolution (replay): the resolution stands
        latest[alert["alert_id"]] = dict(alert)
    return list(latest.values())


class AlertmanagerClient:
    """POSTs postable alerts; retries until accepted, except for a request Alertmanager refuses."""

    def __init__(self, config: PusherConfig) -> None:
        self.config = config
        self._session: Any = None
        self.delivered = 0
        self.failures = 0

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, payload: list[dict[str, Any]]) -> bool:
        """One attempt. True when accepted; raises on transport errors and 5xx (worth retrying)."""
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.config.request_timeout_s)
            )
        url = f"{self.config.alertmanager_url}/api/v2/alerts"
        async with self._session.post(
            url, data=orjson.dumps(payload), headers={"Content-Type": "application/json"}
        ) as response:
            if response.status < 300:
                return True
            body = (await response.text())[:300]
            if response.status >= 500 or response.status == 429:
                raise ConnectionError(f"{url}: HTTP {response.status}: {body}")
            log.error("%s refused %d alert(s): HTTP %s: %s", url, len(payload), response.status, body)
            return False

    async def send(self, payload: list[dict[str, Any]]) -> bool:
        """One counted attempt: True when accepted, False when refused for good (logged);
        BackpressureError when worth retrying (unreachable, 5xx, 429)."""
        if not payload:
            return True
        try:
            accepted = await self.post(payload)
        except Exception as exc:  # OSError, TimeoutError, aiohttp.ClientError: keep the stream alive
            self.failures += 1
            reason = str(exc) or type(exc).__name__
            raise BackpressureError(
                f"Alertmanager {self.config.alertmanager_url} unreachable ({reason}); "
                f"{len(payload)} alert(s) held"
            ) from exc
        if accepted:
            self.delivered += len(payload)
        return accepted

    async def deliver(self, payload: list[dict[str, Any]], stopping: asyncio.Event | None = None) -> bool:
        """`send` until accepted or refused, with backoff: for one-off pushes outside the runtime's
        loop (the pusher itself leaves retrying to the loop, which keeps its group alive)."""
        backoff = Backoff(self.config.backoff_initial_s, self.config.backoff_max_s)
        while True:
            try:
                return await self.send(payload)
            except BackpressureError as exc:
                delay = backoff.next_delay()
                log.warning("%s; retrying in %.1fs", exc.reason, delay)
            if stopping is None:
                await asyncio.sleep(delay)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=delay)
            if stopping.is_set():
                raise asyncio.CancelledError("stopping")
