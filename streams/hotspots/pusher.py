"""Deliver hotspot alerts to Alertmanager, never losing one: a tenant of the Kafka runtime's loop.

``hotspots.alerts`` is the durable outbox. The pusher reads it with its own consumer group, and
the loop (runtime/loop.py) commits an offset only after Alertmanager accepted everything before
it, so a stop, a crash or an Alertmanager outage delays alerts but loses none. While Alertmanager
is away the loop pauses the partition and keeps polling, so however long the outage, the pusher
stays in its group (no eviction, no restart), and the stream agent that counts and fires never
waits for it: it runs as its own task with its own consumer.

Firing alerts are re-sent every ``resend_interval`` (Alertmanager forgets an alert at its
``endsAt``); after a restart the set still firing is rebuilt from the topic first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from typing import Any

import orjson

from runtime.exceptions import BackpressureError
from runtime.loop import ConsumeLoop, LoopConfig
from runtime.tail import read_to_end
from runtime.tenant import Batch, BatchingSink
from streams.hotspots.alertmanager import (
    AlertmanagerClient,
    FiringRegistry,
    PusherConfig,
    alertmanager_alerts,
    latest_per_alert,
)

log = logging.getLogger(__name__)


class AlertmanagerPusher(BatchingSink):
    """write(batch): each episode's latest state to Alertmanager, then remember what still fires."""

    def __init__(self, config: PusherConfig, *, bootstrap: str, alerts_topic: str, group_id: str) -> None:
        super().__init__(batch_size=config.batch_size, linger_s=0.0)
        self.config = config
        self.bootstrap = bootstrap
        self.alerts_topic = alerts_topic
        self.client = AlertmanagerClient(config)
        self.registry = FiringRegistry(config.max_tracked_firing)
        self._last_resend = 0.0  # 0: re-send what still fires at the first chance after start
        self.loop = ConsumeLoop(
            bootstrap,
            LoopConfig(
                group_id=group_id,
                topics=(alerts_topic,),
                max_poll_records=config.batch_size,
                max_buffered=config.batch_size,
                poll_timeout_s=1.0,
                backoff_initial_s=config.backoff_initial_s,
                backoff_max_s=config.backoff_max_s,
                session_timeout_s=config.session_timeout_s,
                max_poll_interval_s=config.max_poll_interval_s,
            ),
            self,
        )

    async def run(self) -> None:
        """Run until cancelled or :meth:`stop`; survives Kafka and Alertmanager outages.

        Outages are the loop's business; this only restarts after an unexpected failure (a bug
        on one record), so the task that hosts the pusher never dies silently.
        """
        while not self.loop.stopping:
            try:
                await self.loop.run()
            except Exception:
                log.exception("alert pusher failed; restarting in 5 s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.loop.wait_stopped(), timeout=5)

    async def stop(self) -> None:
        self.loop.stop()

    async def setup(self) -> None:
        """Re-read the topic up to its end to learn which episodes are still firing."""
        from aiokafka.errors import KafkaError

        self._held.clear()  # a restart after a failure re-reads from the last commit
        registry = FiringRegistry(self.config.max_tracked_firing)
        try:
            async for records in read_to_end(
                self.bootstrap, self.alerts_topic, max_records=self.config.batch_size
            ):
                for alert in latest_per_alert(_decode(records)):
                    registry.apply(alert)
        except (KafkaError, OSError) as exc:
            raise BackpressureError(
                f"reading {self.alerts_topic} at {self.bootstrap}: {type(exc).__name__}"
            ) from exc
        self.registry = registry
        if len(registry):
            log.info("%d hotspot alert(s) still firing; re-sending them to Alertmanager", len(registry))

    def flush_due(self, now: float) -> bool:
        return super().flush_due(now) or self._resend_due()

    async def flush(self) -> dict[Any, int]:
        if self._resend_due():
            now = time.time()
            firing = self.registry.firing()
            if firing:
                await self.client.send([p for a in firing for p in alertmanager_alerts(a, self.config, now)])
            self._last_resend = now
        return await super().flush()

    def _resend_due(self) -> bool:
        return time.time() - self._last_resend >= self.config.resend_interval_s

    async def write(self, batch: Batch) -> None:
        latest = latest_per_alert(_decode(batch))
        if latest:
            now = time.time()
            # One Alertmanager alert per organisation of each episode (docs/tenancy.md).
            await self.client.send([p for a in latest for p in alertmanager_alerts(a, self.config, now)])
        for alert in latest:
            self.registry.apply(alert)

    async def close(self) -> None:
        await self.client.close()


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
