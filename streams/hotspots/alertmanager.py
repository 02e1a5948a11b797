"""Deliver hotspot alerts to Alertmanager (``POST /api/v2/alerts``), never losing one.

``hotspots.alerts`` is the durable outbox. The pusher reads it with its own consumer group and
commits an offset only after Alertmanager accepted everything before it, so a stop, a crash or an
Alertmanager outage delays alerts but loses none. It runs as its own task with its own Kafka
consumer: however long Alertmanager is down, the stream agent that counts and fires never waits
for it.

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
import os
import random
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from schemas.alert import RESOLVED
from streams.hotspots.windows import iso_z

log = logging.getLogger(__name__)

ALERTNAME = "PatientExperienceHotspot"
DASHBOARD_PATH = "/d/pxstream-hotspots"
GRAFANA_URL_ENV = "PXSTREAM_GRAFANA_URL"
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

    @classmethod
    def from_env(
        cls, alertmanager_url: str, env: Mapping[str, str] | None = None, **overrides: Any
    ) -> PusherConfig:
        env = os.environ if env is None else env
        grafana = env.get(GRAFANA_URL_ENV, DEFAULT_GRAFANA_URL).rstrip("/") or DEFAULT_GRAFANA_URL
        return cls(alertmanager_url=alertmanager_url.rstrip("/"), grafana_url=grafana, **overrides)


def alert_organisations(alert: Mapping[str, Any]) -> list[str]:
    """The episode's organisations, sorted; the group's own organisation always among them."""
    found = {str(o) for o in alert.get("organisations") or () if o}
    if alert["group"].get("organisation"):
        found.add(str(alert["group"]["organisation"]))
    return sorted(found)


def alertmanager_alerts(alert: Mapping[str, Any], config: PusherConfig, now: float) -> list[dict[str, Any]]:
    """One Alert v1 record → one Alertmanager v2 postable alert per organisation of the episode.

    Labels as CONTRACTS.md (alertname, rule, severity, each group field) plus ``organisation``:
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


def backoff_delays(config: PusherConfig, rng: random.Random | None = None) -> Iterable[float]:
    """Exponential backoff with full jitter: many workers retrying do not hammer in step."""
    rng = rng or random.Random()
    ceiling = config.backoff_initial_s
    while True:
        yield rng.uniform(0, ceiling)
        ceiling = min(config.backoff_max_s, ceiling * 2)


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

    async def deliver(self, payload: list[dict[str, Any]], stopping: asyncio.Event | None = None) -> bool:
        """Retry with backoff until Alertmanager accepts (True) or refuses for good (False)."""
        if not payload:
            return True
        for delay in backoff_delays(self.config):
            try:
                accepted = await self.post(payload)
            except OSError as exc:  # includes TimeoutError and ConnectionError
                self.failures += 1
                log.warning(
                    "Alertmanager %s unreachable (%s); retrying %d alert(s) in %.1fs",
                    self.config.alertmanager_url,
                    exc.__class__.__name__ if not str(exc) else exc,
                    len(payload),
                    delay,
                )
            except Exception as exc:  # aiohttp.ClientError and friends: keep the stream alive
                self.failures += 1
                log.warning("Alertmanager post failed (%r); retrying in %.1fs", exc, delay)
            else:
                if accepted:
                    self.delivered += len(payload)
                return accepted
            if stopping is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=delay)
                if stopping.is_set():
                    raise asyncio.CancelledError("stopping")
            else:
                await asyncio.sleep(delay)
        return False  # unreachable: backoff_delays never ends


class AlertmanagerPusher:
    """Consumes ``hotspots.alerts`` with its own group and pushes to Alertmanager (see module doc)."""

    def __init__(
        self,
        config: PusherConfig,
        *,
        bootstrap: str,
        alerts_topic: str,
        group_id: str,
    ) -> None:
        self.config = config
        self.bootstrap = bootstrap
        self.alerts_topic = alerts_topic
        self.group_id = group_id
        self.client = AlertmanagerClient(config)
        self.registry = FiringRegistry(config.max_tracked_firing)
        self.stopping = asyncio.Event()
        self._last_resend = 0.0

    async def run(self) -> None:
        """Run until cancelled or :meth:`stop`; survives Kafka and Alertmanager outages."""
        while not self.stopping.is_set():
            try:
                await self._run_once()
            except asyncio.CancelledError:
                if self.stopping.is_set():
                    break
                raise
            except Exception:
                log.exception("alert pusher failed; restarting in 5 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), timeout=5)
        await self.client.close()

    async def stop(self) -> None:
        self.stopping.set()

    async def _run_once(self) -> None:
        from aiokafka import AIOKafkaConsumer

        await self._rebuild_registry()
        consumer = AIOKafkaConsumer(
            self.alerts_topic,
            bootstrap_servers=self.bootstrap,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            value_deserializer=None,
        )
        await consumer.start()
        try:
            await self._resend_firing(force=True)
            while not self.stopping.is_set():
                batch = await consumer.getmany(timeout_ms=1000, max_records=self.config.batch_size)
                alerts = [a for records in batch.values() for a in _decode(records)]
                if alerts:
                    latest = latest_per_alert(alerts)
                    now = time.time()
                    payload = [p for a in latest for p in alertmanager_alerts(a, self.config, now)]
                    await self.client.deliver(payload, self.stopping)
                    for alert in latest:
                        self.registry.apply(alert)
                    await consumer.commit()
                await self._resend_firing()
        finally:
            await consumer.stop()

    async def _resend_firing(self, force: bool = False) -> None:
        now = time.time()
        if not force and now - self._last_resend < self.config.resend_interval_s:
            return
        self._last_resend = now
        firing = self.registry.firing()
        if firing:
            payload = [p for a in firing for p in alertmanager_alerts(a, self.config, now)]
            await self.client.deliver(payload, self.stopping)

    async def _rebuild_registry(self) -> None:
        """Re-read the topic up to its end to learn which episodes are still firing."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        partitions = await topic_partitions(self.bootstrap, self.alerts_topic)
        if not partitions:
            return
        tps = [TopicPartition(self.alerts_topic, p) for p in partitions]
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await reader.start()
        try:
            reader.assign(tps)
            await reader.seek_to_beginning(*tps)
            ends = await reader.end_offsets(tps)
            registry = FiringRegistry(self.config.max_tracked_firing)
            pending = {tp for tp in tps if ends[tp] > 0}
            while pending:
                batch = await reader.getmany(*pending, timeout_ms=1000, max_records=self.config.batch_size)
                for records in batch.values():
                    for alert in latest_per_alert(_decode(records)):
                        registry.apply(alert)
                for tp in list(pending):
                    if await reader.position(tp) >= ends[tp]:
                        pending.discard(tp)
            self.registry = registry
            if len(registry):
                log.info("%d hotspot alert(s) still firing; re-sending them to Alertmanager", len(registry))
        finally:
            await reader.stop()


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """Partition numbers of a topic (empty when it does not exist), from the broker's metadata."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if description.get("error_code"):
        return []
    return sorted(p["partition"] for p in description["partitions"])


def _decode(records: Iterable[Any]) -> list[dict[str, Any]]:
    alerts = []
    for record in records:
        try:
            alert = orjson.loads(record.value)
            if isinstance(alert, dict) and "alert_id" in alert and "status" in alert:
                alerts.append(alert)
                continue
        except orjson.JSONDecodeError:
            pass
        log.error("skipping a record on the alerts topic that is not Alert v1 (offset %s)", record.offset)
    return alerts
