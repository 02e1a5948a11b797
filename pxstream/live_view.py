"""The demo's live terminal view: what the pipeline has done, read back from its output topics.

It reads `feedback.raw`, `feedback.tagged`, `feedback.dlq` and `hotspots.alerts` as any outside
consumer would (no consumer group, starting from the end at launch), so what it shows is what
downstream systems actually received, not the worker's own idea of it.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer

from schemas import topics
from schemas.domains import DOMAIN_IDS

_SHORT = {
    "safe_high_quality_care": "Safe",
    "building_better_relationships": "Relat",
    "better_information_more_choice": "Info",
    "access_and_waiting": "Access",
    "clean_comfortable_place": "Envir",
}
RED, GREEN, BOLD, DIM, RESET = "\x1b[31m", "\x1b[32m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


@dataclass
class AlertLine:
    rule_id: str
    group: dict[str, str]
    status: str
    count: int
    threshold: float
    fired_at: str
    resolved_at: str | None


@dataclass
class LiveState:
    """Everything the view shows; updated from records, rendered by `render`."""

    raw: int = 0
    tagged: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    by_unit: dict[tuple[str, str], Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    alerts: dict[str, AlertLine] = field(default_factory=dict)
    fired: int = 0
    resolved: int = 0
    started: float = field(default_factory=time.monotonic)

    def apply(self, topic_kind: str, value: bytes) -> AlertLine | None:
        """Fold one record in; returns the alert when it is an alert transition (for line-mode output)."""
        if topic_kind == "raw":
            self.raw += 1
            return None
        try:
            record: dict[str, Any] = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        if topic_kind == "dlq":
            self.dead[str(record.get("reason_code", "?"))] += 1
        elif topic_kind == "tagged":
            self.tagged += 1
            self.redactions.update(record.get("redactions") or {})
            unit = self.by_unit[(str(record.get("provider", "")), str(record.get("ward", "")))]
            unit["total"] += 1
            unit.update(record.get("domains") or [])
        elif topic_kind == "alerts":
            line = AlertLine(
                rule_id=str(record.get("rule_id")),
                group=dict(record.get("group") or {}),
                status=str(record.get("status")),
                count=int(record.get("count") or 0),
                threshold=float(record.get("threshold") or 0),
                fired_at=str(record.get("fired_at") or ""),
                resolved_at=record.get("resolved_at"),
            )
            alert_id = str(record.get("alert_id"))
            if line.status != "firing":
                self.resolved += 1
            elif alert_id not in self.alerts:
                # An episode is announced again when another organisation's events count
                # (docs/tenancy.md): still one episode fired.
                self.fired += 1
            self.alerts[alert_id] = line
            return line
        return None


def _clock(iso: str | None) -> str:
    return iso[11:19] if iso and len(iso) >= 19 else "--:--:--"


def describe(alert: AlertLine) -> str:
    where = " · ".join(v for k, v in alert.group.items() if v and k != "organisation")
    return f"{alert.rule_id:<28} {where:<46} {alert.count:>3} (limit {alert.threshold:g})"


def render(state: LiveState, *, title: str, width: int) -> str:
    elapsed = max(time.monotonic() - state.started, 1e-6)
    dead_total = sum(state.dead.values())
    lines = [
        f"{BOLD}{title}{RESET}".ljust(width - 10) + datetime.now(UTC).strftime("%H:%M:%S"),
        f"in {state.raw:,}   tagged {state.tagged:,}   dead letters {dead_total:,}   "
        f"redacted items {sum(state.redactions.values()):,}   {state.raw / elapsed:.1f} events/s",
        "",
        f"{'provider · ward':<36}" + "".join(f"{_SHORT[d]:>7}" for d in DOMAIN_IDS) + f"{'total':>7}",
    ]
    busiest = sorted(state.by_unit.items(), key=lambda item: -item[1]["total"])[:14]
    for (provider, ward), counts in busiest:
        lines.append(
            f"{(provider + ' · ' + ward)[:35]:<36}"
            + "".join(f"{counts[d]:>7}" for d in DOMAIN_IDS)
            + f"{counts['total']:>7}"
        )
    lines += ["", f"{BOLD}HOTSPOTS{RESET}  fired {state.fired}  resolved {state.resolved}"]
    ordered = sorted(state.alerts.values(), key=lambda a: (a.status != "firing", a.fired_at), reverse=False)
    for alert in ordered[:12]:
        if alert.status == "firing":
            lines.append(f" {RED}{BOLD}FIRING  {RESET} since {_clock(alert.fired_at)}  {describe(alert)}")
        else:
            lines.append(
                f" {GREEN}resolved{RESET} at {_clock(alert.resolved_at)}     {DIM}{describe(alert)}{RESET}"
            )
    if not state.alerts:
        lines.append(f" {DIM}none yet{RESET}")
    lines += ["", f"{DIM}Ctrl-C stops the demo and everything it started.{RESET}"]
    return "\n".join(line[: width + 20] for line in lines)


async def run_view(
    bootstrap: str,
    *,
    title: str,
    stop: asyncio.Event,
    out: TextIO = sys.stdout,
    interactive: bool | None = None,
    topic_names: dict[str, str] | None = None,
    ready: asyncio.Event | None = None,
) -> LiveState:
    """Follow the output topics until `stop` is set: full screen on a terminal, else a line per alert."""
    names = {"raw": topics.RAW, "tagged": topics.TAGGED, "dlq": topics.DLQ, "alerts": topics.ALERTS}
    names.update(topic_names or {})
    kind_of = {name: kind for kind, name in names.items()}
    interactive = out.isatty() if interactive is None else interactive
    # No group: every partition of each topic, from the end as it stands when the view starts.
    consumer = AIOKafkaConsumer(
        *names.values(),
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="latest",
    )
    await consumer.start()
    state = LiveState()
    try:
        # Resolve "latest" to an offset on every partition before the caller starts producing,
        # so the counts include the very first event.
        deadline = time.monotonic() + 30
        while len({tp.topic for tp in consumer.assignment()}) < len(names) and time.monotonic() < deadline:
            await consumer.getmany(timeout_ms=100)
        for partition in consumer.assignment():
            await consumer.position(partition)
        if ready is not None:
            ready.set()
        last_draw = 0.0
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=250, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    alert = state.apply(kind_of[tp.topic], record.value or b"")
                    if alert is not None and not interactive:
                        verb = "FIRING  " if alert.status == "firing" else "resolved"
                        print(f"{verb} {describe(alert)}", file=out, flush=True)
            now = time.monotonic()
            if interactive and now - last_draw >= 1.0:
                width = shutil.get_terminal_size((120, 40)).columns
                out.write("\x1b[H\x1b[2J" + render(state, title=title, width=width) + "\n")
                out.flush()
                last_draw = now
    finally:
        await consumer.stop()
    return state
