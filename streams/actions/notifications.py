"""Actions in Alertmanager: what should be there is a function of each action's history.

Every history entry with an `alert` field (engine.py) ends the notification the action had open
and, unless it says "none", opens the next one: a reminder (`PatientExperienceActionDue`,
severity info) or an overdue alert (`PatientExperienceActionOverdue`, severity warning) for
whoever is chased at that level. Labels carry the level and who is chased, so each escalation is
a new alert in Alertmanager (one notification per level) and the previous one is ended with
`endsAt` at the moment of the change. `startsAt` is the time of the history entry, so pushing the
same state again — periodically, or after a restart — is the same alert to Alertmanager, never
a new notification.

The pusher keeps the actions that have an alert open (or ended recently enough that Alertmanager
may still hold it) and re-sends them every `resend_interval_s` with `endsAt` a few intervals
ahead, like the hotspot pusher. While Alertmanager is down it keeps retrying; what it pushes
when it returns is computed from the state, so nothing is lost. No personal data leaves: ids,
codes, ward names, owner names and the rule's title.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from schemas import action as contract
from schemas.feedback_event import format_timestamp
from streams.actions.engine import parse_time
from streams.actions.links import action_link
from streams.hotspots.alertmanager import AlertmanagerClient, PusherConfig

log = logging.getLogger(__name__)

_ALERTNAMES: Final = {"overdue": contract.OVERDUE_ALERTNAME, "due": contract.DUE_ALERTNAME}
_SEVERITY: Final = {"overdue": "warning", "due": "info"}


@dataclass(frozen=True)
class Segment:
    """One notification in an action's life: from the entry that opened it to the one that ended it."""

    kind: str  # "overdue" or "due"
    notify: str
    level: int
    owner: str
    starts_at: datetime
    ends_at: datetime | None  # None: still open


def segments(action: Mapping[str, Any]) -> list[Segment]:
    found: list[Segment] = []
    current: Segment | None = None
    for entry in action.get("history") or []:
        if "alert" not in entry:
            continue
        at = parse_time(entry.get("at"))
        if at is None:
            continue
        if current is not None:
            found.append(Segment(**{**current.__dict__, "ends_at": at}))
            current = None
        if entry["alert"] in _ALERTNAMES:
            current = Segment(
                kind=str(entry["alert"]),
                notify=str(entry.get("notify") or ""),
                level=int(entry.get("level") or 0),
                owner=str(entry.get("owner") or action.get("owner") or ""),
                starts_at=at,
                ends_at=None,
            )
    if current is not None:
        found.append(current)
    return found


def postable(
    action: Mapping[str, Any],
    segment: Segment,
    *,
    now: float,
    keep_s: float,
    base_url: str,
    secret: bytes | None = None,
) -> dict[str, Any]:
    """One segment as an Alertmanager v2 postable alert (labels as docs/actions.md); the `link`
    is signed for whoever this segment chases (streams/actions/links.py, docs/owners-page.md)."""
    labels = {
        "alertname": _ALERTNAMES[segment.kind],
        "action_id": str(action["action_id"]),
        "rule": str(action["rule_id"]),
        "owner": segment.owner,
        "notify": segment.notify,
        "organisations": ",".join(action.get("organisations") or []),
        "provider": str(action.get("provider") or ""),
        "ward": str(action.get("ward") or ""),
        "escalation_level": str(segment.level),
        "severity": _SEVERITY[segment.kind],
    }
    labels = {k: v for k, v in labels.items() if v != ""}  # Alertmanager drops empty labels anyway
    link = action_link(base_url, str(action["action_id"]), segment.notify, now=now, secret=secret)
    when = "overdue since" if segment.kind == "overdue" else "due"
    summary = f"{action['title'][:120]} — {when} {action['due_at']}; chasing {segment.notify}"
    ends = format_timestamp(now + keep_s if segment.ends_at is None else segment.ends_at)
    return {
        "labels": labels,
        "annotations": {"summary": summary, "due_at": str(action["due_at"]), "link": link},
        "startsAt": format_timestamp(segment.starts_at),
        "endsAt": ends,
        "generatorURL": link,
    }


def alerts_for(
    action: Mapping[str, Any], *, now: float, keep_s: float, base_url: str, secret: bytes | None = None
) -> list[dict[str, Any]]:
    """Every alert Alertmanager may still hold for this action: open ones, and ones ended within
    `keep_s` (an older end has passed the `endsAt` we last gave it, so Alertmanager has let it go)."""
    return [
        postable(action, segment, now=now, keep_s=keep_s, base_url=base_url, secret=secret)
        for segment in segments(action)
        if segment.ends_at is None or segment.ends_at.timestamp() > now - keep_s
    ]


class ActionNotifier:
    """Pushes the alerts of changed actions at once and re-sends the open ones periodically."""

    def __init__(self, config: PusherConfig, *, base_url: str, secret: bytes | None) -> None:
        """`base_url` and `secret` are the owners' page's address and signing key (`Settings.web`)."""
        self.config = config
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.client = AlertmanagerClient(config)
        self.keep_s = config.resend_interval_s * config.ends_at_intervals
        self._live: dict[str, Mapping[str, Any]] = {}  # actions with alerts Alertmanager may hold
        self._pending: dict[str, Mapping[str, Any]] = {}
        self._wake = asyncio.Event()
        self.stopping = asyncio.Event()

    def track(self, actions: Iterable[Mapping[str, Any]], *, push: bool = True) -> None:
        """Note changed actions (all of them at start, with push=True so they are re-sent at once)."""
        now = time.time()
        for action in actions:
            action_id = str(action["action_id"])
            if any(s.ends_at is None or s.ends_at.timestamp() > now - self.keep_s for s in segments(action)):
                self._live[action_id] = action
                if push:
                    self._pending[action_id] = action
            else:
                self._live.pop(action_id, None)
        if self._pending:
            self._wake.set()

    def forget(self) -> None:
        """Hold nothing: this instance stopped owning the actions (another member notifies now)."""
        self._live.clear()
        self._pending.clear()

    @property
    def live(self) -> int:
        return len(self._live)

    async def run(self) -> None:
        """Until stopped: push what changed, and everything live every resend interval."""
        last_resend = 0.0
        try:
            while not self.stopping.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=1.0)
                self._wake.clear()
                now = time.time()
                if now - last_resend >= self.config.resend_interval_s:
                    batch = dict(self._live)
                    last_resend = now
                    self._pending.clear()
                else:
                    batch, self._pending = self._pending, {}
                if batch:
                    await self._push(batch.values(), now)
        finally:
            await self.client.close()

    async def _push(self, actions: Iterable[Mapping[str, Any]], now: float) -> None:
        payload = [
            alert
            for action in actions
            for alert in alerts_for(
                action, now=now, keep_s=self.keep_s, base_url=self.base_url, secret=self.secret
            )
        ]
        for start in range(0, len(payload), self.config.batch_size):
            try:
                await self.client.deliver(payload[start : start + self.config.batch_size], self.stopping)
            except asyncio.CancelledError:
                if self.stopping.is_set():
                    return
                raise

    async def stop(self) -> None:
        self.stopping.set()
        self._wake.set()
