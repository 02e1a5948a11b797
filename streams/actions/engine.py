"""The follow-up engine: pure functions from (current Action v1, trigger | command | clock) to the
next Action v1. No I/O, no wall clock: the caller passes `now`, so a test can walk an action
through weeks in microseconds and a replay gives the same answer.

Every change bumps `version` and appends one history entry. Entries that change what Alertmanager
should show carry, beyond Action v1's `at, by, change, note`, the fields `alert` ("overdue",
"due" or "none"), `notify`, `level` and `owner`; entries made by a command carry its
`command_id`. The notifications (notifications.py) are a function of that history alone, and a
command id already in the history is not applied again: both survive a restart because the
state itself is what the stage rebuilds from the `actions` topic (docs/actions.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from schemas import action as contract
from schemas.feedback_event import format_timestamp
from streams.actions.calendar import Duration
from streams.actions.config import ALERT, EVENT, ActionRule, ActionsConfig, matches

SYSTEM: Final = "pxstream"
# A manual action has no rule: chased one level up every working day once overdue, no reminder.
MANUAL_ESCALATE_EVERY: Final = Duration(1, "working days")
MAX_HISTORY: Final = 1000  # a command beyond this is refused: every field is bounded
MAX_NOTE: Final = 4000
MAX_OUTCOME: Final = 10_000
MAX_SHORT: Final = 200
# History entries that restart the escalation clock: the chain is climbed from the later of the
# due date and the last of these (a new owner, a new due date or a reopened action starts at level 0).
_RESTARTS: Final = frozenset({"reassign", "extend", "reopen"})
_REARMS_REMINDER: Final = frozenset({"create", "extend", "reopen"})

_JUST_AFTER: Final = timedelta(microseconds=1)  # overdue is strictly after the due time

Redactor = Callable[[str], str]


@dataclass(frozen=True)
class Applied:
    """What a command did: the new state, or why it was refused, or nothing (already applied)."""

    action: dict[str, Any] | None = None
    refused: str | None = None
    duplicate: bool = False


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 with an offset → aware datetime; None when absent or not such a time."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _default_redactor(text: str) -> str:
    from streams.redaction import redact

    return redact(text).text


class ActionEngine:
    """Applies triggers, commands and clock ticks to Action v1 records under one actions file."""

    def __init__(self, config: ActionsConfig, redactor: Redactor | None = None) -> None:
        self.config = config
        self.redact = redactor or _default_redactor
        self.event_rules = tuple(rule for rule in config.rules if rule.on == EVENT)
        self.alert_rules = tuple(rule for rule in config.rules if rule.on == ALERT)

    # -- triggers ----------------------------------------------------------------------------------
    def on_event(
        self, event: Mapping[str, Any], exists: Callable[[str], bool], now: datetime
    ) -> list[dict[str, Any]]:
        """New actions for a TaggedEvent (none for one already acted on: same id, same action)."""
        if not self.event_rules:
            return []
        facts = {
            "source": event.get("source"),
            "domain": list(event.get("domains") or []),
            "severity": event.get("severity"),
            "organisation": event.get("organisation"),
            "provider": event.get("provider"),
            "site": event.get("site"),
            "ward": event.get("ward"),
            "reporter": event.get("reporter"),
        }
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id:
            return []
        start = parse_time(event.get("received_at")) or parse_time(event.get("occurred_at")) or now
        organisation = str(event.get("organisation") or "")
        created = []
        for rule in self.event_rules:
            if not matches(rule.when, facts):
                continue
            action_id = contract.action_id_for(rule.id, "event", organisation, event_id)
            if exists(action_id):
                continue
            created.append(
                self._create(
                    rule,
                    action_id,
                    trigger={"event_id": event_id},
                    facts=facts,
                    organisations=[organisation] if organisation else [],
                    start=start,
                    now=now,
                )
            )
        return created

    def on_alert(
        self, alert: Mapping[str, Any], current: Callable[[str], Any], now: datetime
    ) -> list[dict[str, Any]]:
        """New actions for a hotspot episode that fires (its resolution changes nothing here).

        `current(action_id)` is the action's state, or something falsy when there is none. An
        episode is announced again when another organisation's events join it (docs/tenancy.md):
        its action then gains that organisation, so every tenant whose events counted sees it.
        """
        if not self.alert_rules or alert.get("status") != "firing":
            return []
        alert_id = alert.get("alert_id")
        if not isinstance(alert_id, str) or not alert_id:
            return []
        group = {str(k): v for k, v in (alert.get("group") or {}).items()}
        organisations = [str(o) for o in alert.get("organisations") or [] if o]
        if not organisations and group.get("organisation"):
            organisations = [str(group["organisation"])]  # Alert v1 before `organisations`
        facts: dict[str, Any] = {
            **group,
            "rule": alert.get("rule_id"),
            "severity": alert.get("severity"),
            "organisation": group.get("organisation") or (organisations[0] if organisations else None),
            "domain": [group["domain"]] if group.get("domain") else [],
        }
        start = parse_time(alert.get("fired_at")) or now
        created = []
        for rule in self.alert_rules:
            if not matches(rule.when, facts):
                continue
            action_id = contract.action_id_for(rule.id, "alert", "", alert_id)
            existing = current(action_id)
            if existing:
                if isinstance(existing, Mapping):
                    shared = self._share(existing, organisations, now)
                    if shared is not None:
                        created.append(shared)
                continue
            created.append(
                self._create(
                    rule,
                    action_id,
                    trigger={"alert_id": alert_id},
                    facts=facts,
                    organisations=sorted(set(organisations)),
                    start=start,
                    now=now,
                )
            )
        return created

    @staticmethod
    def _share(action: Mapping[str, Any], organisations: list[str], now: datetime) -> dict[str, Any] | None:
        """The action with the organisations it lacks added; None when it has them all."""
        joining = sorted(set(organisations) - set(action["organisations"]))
        if not joining:
            return None
        new = _next(action)
        new["organisations"] = sorted({*action["organisations"], *joining})
        new["history"].append(
            {
                "at": format_timestamp(now),
                "by": SYSTEM,
                "change": "share",
                "note": "the hotspot now also counts events of " + ", ".join(joining),
            }
        )
        return new

    def _create(
        self,
        rule: ActionRule,
        action_id: str,
        *,
        trigger: dict[str, Any],
        facts: Mapping[str, Any],
        organisations: list[str],
        start: datetime,
        now: datetime,
    ) -> dict[str, Any]:
        owner = self.config.owner_for(facts).owner
        due = self.config.calendar.add(start, rule.due)
        action = _blank(action_id, rule.id, rule.title, owner, organisations, facts, trigger, now, due)
        action["history"].append(
            {
                "at": format_timestamp(now),
                "by": SYSTEM,
                "change": "create",
                "note": f"{rule.due} from {format_timestamp(start)}",
            }
        )
        return self.tick(action, now) or action

    # -- the clock ---------------------------------------------------------------------------------
    def tick(self, action: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
        """Remind, mark overdue or escalate if the time has come; None when nothing is due.

        After downtime this is called once with a late `now`: it moves straight to the level the
        elapsed time implies (one history entry, one notification), not one per missed period.
        """
        if action["status"] not in contract.ACTIVE_STATUSES:
            return None
        due = parse_time(action["due_at"])
        if due is None:
            return None
        rule = self.config.by_id.get(action["rule_id"])
        if now > due:
            chain = self._chain(action)
            every = rule.escalate_every if rule is not None else MANUAL_ESCALATE_EVERY
            base = max([due, *(_at(e) for e in action["history"] if e["change"] in _RESTARTS)])
            level = 0
            if every is not None:
                level = self.config.calendar.periods_elapsed(base, every, now, limit=len(chain) - 1)
            if not action["overdue"]:
                return self._system(
                    action, now, "overdue", chain, level, f"due {action['due_at']} has passed"
                )
            if level > action["escalation_level"]:
                return self._system(
                    action, now, "escalate", chain, level, f"overdue since {action['due_at']}"
                )
            return None
        remind = rule.remind_before if rule is not None else None
        if remind is not None and not _reminded(action) and now >= self.config.calendar.before(due, remind):
            return self._system(action, now, "remind", (action["owner"],), 0, f"due {action['due_at']}")
        return None

    def next_tick_at(self, action: Mapping[str, Any]) -> datetime | None:
        """The earliest time `tick` could change this action (None: never, unless it changes).

        The stage ticks an action only from then on, so a tick costs one comparison per open
        action instead of a pass through the calendar.
        """
        if action["status"] not in contract.ACTIVE_STATUSES:
            return None
        due = parse_time(action["due_at"])
        if due is None:
            return None
        rule = self.config.by_id.get(action["rule_id"])
        if not action["overdue"]:
            remind = rule.remind_before if rule is not None else None
            if remind is not None and not _reminded(action):
                return min(self.config.calendar.before(due, remind), due + _JUST_AFTER)
            return due + _JUST_AFTER
        every = rule.escalate_every if rule is not None else MANUAL_ESCALATE_EVERY
        level = int(action["escalation_level"])
        if every is None or level + 1 >= len(self._chain(action)):
            return None
        base = max([due, *(_at(e) for e in action["history"] if e["change"] in _RESTARTS)])
        return self.config.calendar.add(base, Duration(every.amount * (level + 1), every.unit))

    def _system(
        self,
        action: Mapping[str, Any],
        now: datetime,
        change: str,
        chain: tuple[str, ...],
        level: int,
        note: str,
    ) -> dict[str, Any]:
        notify = chain[level]
        new = _next(action)
        if change != "remind":
            new.update(overdue=True, escalation_level=level, notify=notify)
        new["history"].append(
            {
                "at": format_timestamp(now),
                "by": SYSTEM,
                "change": change,
                "note": f"{note}; chasing {notify} (level {level})",
                "alert": "due" if change == "remind" else "overdue",
                "notify": notify,
                "level": level,
                "owner": action["owner"],
            }
        )
        return new

    def _chain(self, action: Mapping[str, Any]) -> tuple[str, ...]:
        facts = {
            "organisation": (action.get("organisations") or [None])[0],
            "provider": action.get("provider"),
            "site": action.get("site"),
            "ward": action.get("ward"),
            "source": action.get("source"),
            "domain": list(action.get("domains") or []),
        }
        return self.config.chain_for(facts, action["owner"])

    # -- commands ----------------------------------------------------------------------------------
    def on_command(
        self, command: Mapping[str, Any], current: Mapping[str, Any] | None, now: datetime
    ) -> Applied:
        """Apply one `actions.commands` record to the action it names (schemas/action.py)."""
        problem = _check_command(command)
        if problem:
            return Applied(refused=problem)
        change = command["change"]
        if change == contract.CREATE:
            return self._create_manual(command, current, now)
        if current is None:
            return Applied(refused="unknown action")
        if command["organisation"] not in (current.get("organisations") or []):
            return Applied(refused="the action is not the requesting organisation's")
        if any(entry.get("command_id") == command["command_id"] for entry in current["history"]):
            return Applied(duplicate=True)
        if not contract.change_allowed(change, current["status"]):
            return Applied(refused=f"{change} is not allowed while the action is {current['status']}")
        if len(current["history"]) >= MAX_HISTORY:
            return Applied(refused=f"the action already has {MAX_HISTORY} history entries")
        # The requester's time, but never ahead of the stage's clock (it restarts the escalation clock).
        at = min(parse_time(command["at"]) or now, now)
        new = _next(current)
        entry: dict[str, Any] = {
            "at": format_timestamp(at),
            "by": self.redact(command["by"]),
            "change": change,
            "note": None,
            "command_id": command["command_id"],
        }
        note = command.get("note")
        if change == contract.ACKNOWLEDGE:
            new["status"] = contract.ACKNOWLEDGED
        elif change == contract.REASSIGN:
            new.update(owner=command["owner"], notify=command["owner"], escalation_level=0)
            kind = _open_alert(current)
            entry.update(alert=kind, notify=command["owner"], level=0, owner=command["owner"])
            note = note or f"from {current['owner']}"
        elif change == contract.EXTEND:
            due = parse_time(command["due_at"])
            current_due = parse_time(current["due_at"])
            if due is None or (current_due is not None and due <= current_due):
                return Applied(refused="extend needs a due_at later than the current one")
            new.update(
                due_at=format_timestamp(due), overdue=False, escalation_level=0, notify=current["owner"]
            )
            entry.update(alert="none", notify=current["owner"], level=0, owner=current["owner"])
            note = f"due {current['due_at']} → {format_timestamp(due)}: {command['reason']}"
        elif change == contract.COMPLETE:
            outcome = self.redact(command["outcome"])
            new.update(
                status=contract.COMPLETED,
                completed_at=format_timestamp(at),
                outcome=outcome,
                overdue=False,
                notify=current["owner"],
            )
            entry.update(alert="none", notify=current["owner"], level=current["escalation_level"])
            entry["owner"] = current["owner"]
        elif change == contract.CANCEL:
            new.update(status=contract.CANCELLED, overdue=False, notify=current["owner"])
            entry.update(alert="none", notify=current["owner"], level=current["escalation_level"])
            entry["owner"] = current["owner"]
            note = command["reason"]
        elif change == contract.REOPEN:
            new.update(status=contract.OPEN, completed_at=None, outcome=None, escalation_level=0)
        entry["note"] = self.redact(note) if note else None
        new["history"].append(entry)
        if change in (contract.REASSIGN, contract.EXTEND, contract.REOPEN):
            new = self.tick(new, now) or new
        return Applied(action=new)

    def _create_manual(
        self, command: Mapping[str, Any], current: Mapping[str, Any] | None, now: datetime
    ) -> Applied:
        organisation = command["organisation"]
        expected = contract.action_id_for(
            contract.MANUAL_RULE, "command", organisation, command["command_id"]
        )
        if command["action_id"] != expected:
            return Applied(refused="a create command's action_id must be action_id_for(manual, command, …)")
        if current is not None:
            return Applied(duplicate=True)
        due = parse_time(command.get("due_at"))
        if due is None or not isinstance(command.get("title"), str) or not command["title"].strip():
            return Applied(refused="create needs a title and a due_at")
        facts = {name: command.get(name) for name in ("provider", "site", "ward")}
        facts["organisation"] = organisation
        owner = command.get("owner") or self.config.owner_for(facts).owner
        links = command.get("links") or {}
        trigger: dict[str, Any] = {"command_id": command["command_id"]}
        if isinstance(links, Mapping):
            if isinstance(links.get("alert_id"), str):
                trigger["alert_id"] = links["alert_id"][:MAX_SHORT]
            if isinstance(links.get("event_ids"), list):
                trigger["event_ids"] = [str(e)[:MAX_SHORT] for e in links["event_ids"][:100]]
        title = self.redact(command["title"][:MAX_SHORT])
        action = _blank(
            expected, contract.MANUAL_RULE, title, owner, [organisation], facts, trigger, now, due
        )
        action["history"].append(
            {
                "at": format_timestamp(parse_time(command["at"]) or now),
                "by": self.redact(command["by"]),
                "change": "create",
                "note": None,
                "command_id": command["command_id"],
            }
        )
        return Applied(action=self.tick(action, now) or action)


def _blank(
    action_id: str,
    rule_id: str,
    title: str,
    owner: str,
    organisations: list[str],
    facts: Mapping[str, Any],
    trigger: dict[str, Any],
    now: datetime,
    due: datetime,
) -> dict[str, Any]:
    domains = facts.get("domain") or []
    return {
        "action_id": action_id,
        "version": 1,
        "rule_id": rule_id,
        "title": title,
        "status": contract.OPEN,
        "overdue": False,
        "escalation_level": 0,
        "owner": owner,
        "notify": owner,
        "organisations": organisations,
        "provider": facts.get("provider"),
        "site": facts.get("site"),
        "ward": facts.get("ward"),
        "source": facts.get("source"),
        "domains": list(domains) if isinstance(domains, list | tuple) else [domains],
        "trigger": trigger,
        "created_at": format_timestamp(now),
        "due_at": format_timestamp(due),
        "completed_at": None,
        "outcome": None,
        "history": [],
    }


def _next(action: Mapping[str, Any]) -> dict[str, Any]:
    new = dict(action)
    new["history"] = copy.copy(list(action["history"]))
    new["version"] = int(action["version"]) + 1
    return new


def _at(entry: Mapping[str, Any]) -> datetime:
    return parse_time(entry["at"]) or datetime.min.replace(tzinfo=UTC)


def _reminded(action: Mapping[str, Any]) -> bool:
    """Whether a reminder went out since the due date was last set (created, extended, reopened)."""
    for entry in reversed(action["history"]):
        if entry["change"] == "remind":
            return True
        if entry["change"] in _REARMS_REMINDER:
            return False
    return False


def _open_alert(action: Mapping[str, Any]) -> str:
    """The kind of notification the action has open now ("overdue", "due" or "none")."""
    for entry in reversed(action["history"]):
        if "alert" in entry:
            return str(entry["alert"])
    return "none"


def _check_command(command: Mapping[str, Any]) -> str | None:
    """The first problem with a command's shape, or None (the API checks first; this is the guard)."""
    if not isinstance(command, Mapping):
        return "not a JSON object"
    for name in ("command_id", "action_id", "change", "by", "at", "organisation"):
        value = command.get(name)
        if not isinstance(value, str) or not value or len(value) > MAX_SHORT:
            return f"{name} must be a string of 1–{MAX_SHORT} characters"
    change = command["change"]
    if change != contract.CREATE and change not in contract.CHANGES:
        return f"unknown change {change!r}"
    for name in contract.REQUIRED_FOR.get(change, ()):
        if not isinstance(command.get(name), str) or not command[name].strip():
            return f"{change} needs {name}"
    for name, limit in (
        ("note", MAX_NOTE),
        ("reason", MAX_NOTE),
        ("outcome", MAX_OUTCOME),
        ("owner", MAX_SHORT),
    ):
        value = command.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            return f"{name} must be a string of at most {limit} characters"
    return None
