"""The demo's live terminal view: what the pipeline has done, read back from its output topics.

It reads `feedback.raw`, `feedback.tagged`, `feedback.dlq`, `hotspots.alerts` and `actions` as any outside
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
class ActionLine:
    """One follow-up action as the view shows it, and what last happened to it."""

    action_id: str
    title: str
    where: str
    owner: str
    notify: str
    level: int
    status: str
    overdue: bool
    due_at: str
    change: str  # the latest history entry's change: create, remind, overdue, escalate, complete, ...

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ActionLine:
        history = record.get("history") or [{}]
        return cls(
            action_id=str(record.get("action_id")),
            title=str(record.get("title") or ""),
            where=" · ".join(str(record[k]) for k in ("provider", "ward") if record.get(k)),
            owner=str(record.get("owner") or ""),
            notify=str(record.get("notify") or ""),
            level=int(record.get("escalation_level") or 0),
            status=str(record.get("status") or ""),
            overdue=bool(record.get("overdue")),
            due_at=str(record.get("due_at") or ""),
            change=str(history[-1].get("change") or ""),
        )


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
    actions: dict[str, ActionLine] = field(default_factory=dict)
    escalations: int = 0
    started: float = field(default_factory=time.monotonic)

    def apply(self, topic_kind: str, value: bytes) -> AlertLine | ActionLine | None:
        """Fold one record in; returns the alert or action that changed (for line-mode output)."""
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
        elif topic_kind == "actions":
            action = ActionLine.from_record(record)
            if action.change == "escalate":
                self.escalations += 1
            self.actions[action.action_id] = action
            return action
        return None

    def action_counts(self) -> dict[str, int]:
        lines = self.actions.values()
        return {
            "created": len(self.actions),
            "open": sum(a.status in ("open", "acknowledged") for a in lines),
            "overdue": sum(a.overdue for a in lines),
            "escalated": sum(a.overdue and a.level > 0 for a in lines),
            "completed": sum(a.status == "completed" for a in lines),
        }


def _clock(iso: str | None) -> str:
    return iso[11:19] if iso and len(iso) >= 19 else "--:--:--"


def describe(alert: AlertLine) -> str:
    where = " · ".join(v for k, v in alert.group.items() if v and k != "organisation")
    return f"{alert.rule_id:<28} {where:<46} {alert.count:>3} (limit {alert.threshold:g})"


def describe_action(action: ActionLine) -> str:
    chasing = f"chasing {action.notify} (level {action.level})" if action.overdue else f"owner {action.owner}"
    return f"{action.title[:44]:<44} {action.where[:34]:<34} due {_clock(action.due_at)}  {chasing}"


def _action_lines(state: LiveState) -> list[str]:
    counts = state.action_counts()
    lines = [f"{BOLD}ACTIONS{RESET}  " + "  ".join(f"{name} {count}" for name, count in counts.items())]
    # Overdue first, highest level first, then the soonest due.
    ordered = sorted(
        (a for a in state.actions.values() if a.status in ("open", "acknowledged")),
        key=lambda a: (not a.overdue, -a.level, a.due_at),
    )
    for action in ordered[:6]:
        tag = f"{RED}{BOLD}OVERDUE {RESET}" if action.overdue else "open    "
        lines.append(f" {tag} {describe_action(action)}")
    if not state.actions:
        lines.append(f" {DIM}none yet{RESET}")
    return lines


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
    lines += ["", *_action_lines(state)]
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
    names = {
        "raw": topics.RAW,
        "tagged": topics.TAGGED,
        "dlq": topics.DLQ,
        "alerts": topics.ALERTS,
        "actions": topics.ACTIONS,
    }
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
                    changed = state.apply(kind_of[tp.topic], record.value or b"")
                    if changed is None or interactive:
                        continue
                    if isinstance(changed, AlertLine):
                        verb = "FIRING  " if changed.status == "firing" else "resolved"
                        print(f"{verb} {describe(changed)}", file=out, flush=True)
                    elif changed.change in ("create", "overdue", "escalate", "complete"):
                        verb = {"create": "created", "escalate": "escalated"}.get(
                            changed.change, changed.change
                        )
                        print(f"ACTION {verb:<9} {describe_action(changed)}", file=out, flush=True)
            now = time.monotonic()
            if interactive and now - last_draw >= 1.0:
                width = shutil.get_terminal_size((120, 40)).columns
                out.write("\x1b[H\x1b[2J" + render(state, title=title, width=width) + "\n")
                out.flush()
                last_draw = now
    finally:
        await consumer.stop()
    return state
