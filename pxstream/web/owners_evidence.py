"""What started an action, from ClickHouse: the triggering items' redacted text or the hotspot's window.

The Action names its trigger (`trigger.event_id`, `trigger.event_ids` or `trigger.alert_id`); the
redacted text, source and times of those items, and a hotspot's rule, window and count, are in
ClickHouse (`feedback_events`, `hotspot_alerts`; docs/owners-page.md). Every query is filtered by
the signed-in organisation as well as by id, so one organisation never reads another's items
even when ids collide. ClickHouse being away (or the embedded engine held by the worker) is not
an error for the page: it says the items cannot be shown now and shows the trigger's ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from schemas.feedback_event import format_timestamp as iso

log = logging.getLogger(__name__)
MAX_ITEMS: Final = 10
TIMEOUT_S: Final = 5.0


@dataclass(frozen=True)
class Evidence:
    available: bool
    items: list[dict[str, Any]] = field(default_factory=list)  # source, received_at, text, event_id
    hotspot: dict[str, Any] | None = None  # rule_id, window_start, window_end, count, threshold


class EvidenceSource:
    """Looks the trigger up in ClickHouse through a client made on first use (and again after a failure)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._client: Any = None

    async def lookup(self, action: Mapping[str, Any], organisation: str) -> Evidence:
        trigger = action.get("trigger") or {}
        event_ids = [str(e) for e in trigger.get("event_ids") or []][:MAX_ITEMS]
        if trigger.get("event_id"):
            event_ids.insert(0, str(trigger["event_id"]))
        alert_id = str(trigger.get("alert_id") or "")
        if not event_ids and not alert_id:
            return Evidence(True)
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._query, organisation, event_ids, alert_id), TIMEOUT_S
            )
        except Exception as exc:  # ClickHouse away or busy: the page still works without the items
            log.info("owners' page: trigger lookup unavailable (%s)", type(exc).__name__)
            self._client = None
            return Evidence(False)

    def _query(self, organisation: str, event_ids: list[str], alert_id: str) -> Evidence:
        if self._client is None:
            self._client = self._connect()
        items: list[dict[str, Any]] = []
        if event_ids:
            result = self._client.query(
                "SELECT event_id, source, received_at, text FROM feedback_events FINAL "
                "WHERE organisation = {organisation:String} AND event_id IN {ids:Array(String)} "
                "ORDER BY received_at LIMIT {limit:UInt32}",
                parameters={"organisation": organisation, "ids": event_ids, "limit": MAX_ITEMS},
            )
            for event_id, source, received_at, text in result.result_rows:
                items.append(
                    {"event_id": event_id, "source": source, "received_at": iso(received_at), "text": text}
                )
        hotspot = None
        if alert_id:
            result = self._client.query(
                "SELECT rule_id, window_start, window_end, count, threshold FROM hotspot_alerts FINAL "
                "WHERE alert_id = {alert_id:String} AND organisation = {organisation:String} LIMIT 1",
                parameters={"alert_id": alert_id, "organisation": organisation},
            )
            if result.result_rows:
                rule_id, start, end, count, threshold = result.result_rows[0]
                hotspot = {
                    "rule_id": rule_id,
                    "window_start": iso(start),
                    "window_end": iso(end),
                    "count": count,
                    "threshold": threshold,
                }
        return Evidence(True, items, hotspot)
