"""The follow-up engine: pure functions from (current Action v1, trigger | command | clock) to the
next Action v1. No I/O, no wall clock: the caller passes `now`, so a test can walk an action
through weeks in microseconds and a replay gives the same answer.

Every change bumps `version` and appends one history entry. Entries that change what Alertmanager
should show carry, beyond Action v1's `at, by, change, note`, the fields `alert` ("overdue",
"due" or "none"), `notify`, `level` and `owner`; entries made by a command carry its
`command_id`. The notifications (notifications.py) are a function of that history alone, and a
command id already in the history is not applied again: both survive a restart because the
state itself is what the stage rebuilds from the `actions` topic (docs/actions.md).

This module holds the triggers (events, alerts) and the clock; commands are applied in
commands.py and the record helpers they share live in records.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from schemas import action as contract
from schemas.feedback_event import format_timestamp
from streams.actions.calendar import Duration
from streams.actions.commands import MAX_HISTORY, MAX_NOTE, MAX_OUTCOME, MAX_SHORT, Applied, apply_command
from streams.actions.config import ALERT, EVENT, ActionRule, ActionsConfig, matches
from streams.actions.records import (
    SYSTEM,
    blank_action,
    entry_time,
    next_version,
    parse_time,
    reminded,
)

# Re-exported: the web pages, the command line and the stage import these from here.
__all__ = [
    "MAX_HISTORY",
    "MAX_NOTE",
    "MAX_OUTCOME",
    "MAX_SHORT",
    "SYSTEM",
    "ActionEngine",
    "Applied",
    "parse_time",
]

# A manual action has no rule: chased one level up every working day once overdue, no reminder.
MANUAL_ESCALATE_EVERY: Final = Duration(1, "working days")
# History entries that restart the escalation clock: the chain is climbed from the later of the
# due date and the last of these (a new owner, a new due date or a reopened action starts at level 0).
_RESTARTS: Final = frozenset({"reassign", "extend", "reopen"})

_JUST_AFTER: Final = timedelta(microseconds=1)  # overdue is strictly after the due time

Redactor = Callable[[str], str]


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
        new = next_version(action)
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
        action = blank_action(action_id, rule.id, rule.title, owner, organisations, facts, trigger, now, due)
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
            base = max([due, *(entry_time(e) for e in action["history"] if e["change"] in _RESTARTS)])
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
        if remind is not None and not reminded(action) and now >= self.config.calendar.before(due, remind):
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
            if remind is not None and not reminded(action):
                return min(self.config.calendar.before(due, remind), due + _JUST_AFTER)
            return due + _JUST_AFTER
        every = rule.escalate_every if rule is not None else MANUAL_ESCALATE_EVERY
        level = int(action["escalation_level"])
        if every is None or level + 1 >= len(self._chain(action)):
            return None
        base = max([due, *(entry_time(e) for e in action["history"] if e["change"] in _RESTARTS)])
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
        new = next_version(action)
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
        return apply_command(self, command, current, now)
