"""The actions file (`PXSTREAM_ACTIONS`): calendar, owners directory and follow-up rules.

Written by people, so checked completely on load like the hotspot rules: unknown keys are
refused (a typo never silently turns a rule off) and every refusal is one line naming the file,
the rule (or owners entry) and the field. Format and meaning: docs/actions.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import yaml

from schemas.alert import GROUP_FIELDS
from schemas.errors import ConfigError
from streams.actions.calendar import (
    ELAPSED_SECONDS,
    HOLIDAY_CALENDARS,
    Duration,
    WorkingCalendar,
    parse_duration,
)
from streams.hotspots.rules import WHEN_FIELDS, WHEN_VOCABULARY

EVENT: Final = "event"
ALERT: Final = "alert"
# What an `on: alert` rule may match: the hotspot rule, its severity label and its group fields.
ALERT_WHEN_FIELDS: Final[tuple[str, ...]] = ("rule", "severity", *GROUP_FIELDS)
OWNER_MATCH_FIELDS: Final[tuple[str, ...]] = ("organisation", "provider", "site", "ward", "source", "domain")
MAX_TEXT: Final = 200  # owner names, titles: short labels, shown on screens and in alert labels
_ID: Final = re.compile(r"^[a-z0-9-]+$")
_OWNER: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_TOP_KEYS: Final = frozenset({"calendar", "owners", "rules", "notifications"})
_NOTIFICATION_KEYS: Final = frozenset({"resend_every"})
DEFAULT_RESEND_S: Final = 60.0
_CALENDAR_KEYS: Final = frozenset({"holidays", "closed"})
_OWNER_KEYS: Final = frozenset({"match", "owner", "escalate_to"})
_RULE_KEYS: Final = frozenset({"id", "on", "when", "title", "due", "remind_before", "escalate_every"})


@dataclass(frozen=True)
class Owner:
    """One directory entry: who owns what it matches, and whom to chase next when overdue."""

    match: tuple[tuple[str, str], ...]
    owner: str
    escalate_to: tuple[str, ...] = ()

    @property
    def chain(self) -> tuple[str, ...]:
        """`notify` at each escalation level: the owner at level 0, then each `escalate_to`."""
        return (self.owner, *self.escalate_to)


@dataclass(frozen=True)
class ActionRule:
    id: str
    on: str  # EVENT or ALERT
    title: str
    due: Duration
    when: tuple[tuple[str, frozenset[str]], ...] = ()
    remind_before: Duration | None = None
    escalate_every: Duration | None = None


@dataclass(frozen=True)
class ActionsConfig:
    calendar: WorkingCalendar
    owners: tuple[Owner, ...]
    rules: tuple[ActionRule, ...]
    source: str = "<memory>"
    # How often open notifications are re-sent to Alertmanager (each with `endsAt` four of these
    # ahead, docs/actions.md "Notifications"); tests shorten it so an alert lapses within a test.
    resend_every_s: float = DEFAULT_RESEND_S
    by_id: Mapping[str, ActionRule] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})

    def owner_for(self, facts: Mapping[str, Any]) -> Owner:
        """The most specific directory entry matching `facts` (most fields; the first on a tie).

        `facts["domain"]` may be a list (an event's domains): an entry's domain matches any of them.
        """
        best: Owner | None = None
        for entry in self.owners:
            more_specific = best is None or len(entry.match) > len(best.match)
            if more_specific and all(_fact_matches(facts.get(name), value) for name, value in entry.match):
                best = entry
        assert best is not None, "the `match: {}` fallback is checked on load"
        return best

    def chain_for(self, facts: Mapping[str, Any], owner: str) -> tuple[str, ...]:
        """Escalation chain for an action owned by `owner` (after a reassignment, maybe not the
        directory's owner): the chain of the entry that names `owner` as owner, else `owner` then
        the matched entry's managers, so a reassigned action is still chased up the same line."""
        matched = self.owner_for(facts)
        if matched.owner == owner:
            return matched.chain
        for entry in self.owners:
            if entry.owner == owner:
                return entry.chain
        return (owner, *(name for name in matched.escalate_to if name != owner))


def _fact_matches(fact: Any, wanted: str) -> bool:
    if isinstance(fact, list | tuple):
        return wanted in fact
    return fact == wanted


class _Where:
    """Error messages that name the file, the rule or owners entry, and the field."""

    def __init__(self, source: str, who: str = "top level") -> None:
        self.source, self.who = source, who

    def error(self, field_path: str, message: str) -> ConfigError:
        where = f"{self.who}: {field_path}" if field_path else self.who
        return ConfigError(f"{self.source}: {where}: {message}")


def _unknown_keys(where: _Where, prefix: str, mapping: Mapping[Any, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        raise where.error(f"{prefix}{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _duration(where: _Where, name: str, value: Any, *, required: bool = False) -> Duration | None:
    if value is None and not required:
        return None
    parsed = parse_duration(value)
    if parsed is None:
        raise where.error(
            name, f"{value!r} is not a duration like '3 working days', '2 days', '4 hours', '30 minutes'"
        )
    return parsed


def _text(where: _Where, name: str, value: Any, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise where.error(name, f"{value!r} must be a non-empty string of at most {MAX_TEXT} characters")
    if pattern is not None and not pattern.match(value):
        raise where.error(name, f"{value!r} must be a name of letters, digits and . _ @ -")
    return value.strip()


def _parse_calendar(source: str, raw: Any) -> WorkingCalendar:
    where = _Where(source, "calendar")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise where.error("", "must be a mapping {holidays, closed}")
    _unknown_keys(where, "", raw, _CALENDAR_KEYS)
    holidays = raw.get("holidays", "england-and-wales")
    if holidays not in HOLIDAY_CALENDARS:
        raise where.error("holidays", f"{holidays!r} is not one of: {', '.join(HOLIDAY_CALENDARS)}")
    closed_raw = raw.get("closed") or []
    if not isinstance(closed_raw, list):
        raise where.error("closed", "must be a list of dates (YYYY-MM-DD)")
    closed: set[date] = set()
    for value in closed_raw:
        if isinstance(value, date):
            closed.add(value)
            continue
        try:
            closed.add(date.fromisoformat(str(value)))
        except ValueError:
            raise where.error("closed", f"{value!r} is not a date (YYYY-MM-DD)") from None
    return WorkingCalendar(holidays=holidays, closed=frozenset(closed))


def _parse_owner(source: str, index: int, raw: Any) -> Owner:
    where = _Where(source, f"owners #{index + 1}")
    if not isinstance(raw, Mapping):
        raise where.error("", "each owners entry must be a mapping {match, owner, escalate_to}")
    _unknown_keys(where, "", raw, _OWNER_KEYS)
    owner = _text(where, "owner", raw.get("owner"), _OWNER)
    where = _Where(source, f"owners #{index + 1} ({owner})")
    match = raw.get("match")
    if not isinstance(match, Mapping):
        raise where.error("match", "is required: a mapping of field → value ({} for the fallback)")
    _unknown_keys(where, "match.", match, frozenset(OWNER_MATCH_FIELDS))
    pairs = tuple(
        (name, _text(where, f"match.{name}", match[name])) for name in OWNER_MATCH_FIELDS if name in match
    )
    chain = raw.get("escalate_to") or []
    if isinstance(chain, str):
        chain = [chain]
    if not isinstance(chain, list):
        raise where.error("escalate_to", "must be a list of owner names")
    escalate_to = tuple(_text(where, "escalate_to", name, _OWNER) for name in chain)
    if len(set((owner, *escalate_to))) != len(escalate_to) + 1:
        raise where.error("escalate_to", "names someone twice (or the owner)")
    return Owner(match=pairs, owner=owner, escalate_to=escalate_to)


def _parse_when(where: _Where, on: str, raw: Any) -> tuple[tuple[str, frozenset[str]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise where.error("when", "must be a mapping of field → list of values")
    fields = WHEN_FIELDS if on == EVENT else ALERT_WHEN_FIELDS
    _unknown_keys(where, "when.", raw, frozenset(fields))
    parsed: list[tuple[str, frozenset[str]]] = []
    for name in fields:
        if name not in raw:
            continue
        values = [raw[name]] if isinstance(raw[name], str) else raw[name]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise where.error(f"when.{name}", f"{raw[name]!r} must be a non-empty list of strings")
        # An alert's severity is a label (warning, critical, info), not an incident's harm grade.
        vocabulary = None if (on == ALERT and name == "severity") else WHEN_VOCABULARY.get(name)
        for value in values:
            if vocabulary is not None and value not in vocabulary:
                raise where.error(f"when.{name}", f"{value!r} is not one of: {', '.join(sorted(vocabulary))}")
        parsed.append((name, frozenset(values)))
    return tuple(parsed)


def _parse_rule(source: str, index: int, raw: Any) -> ActionRule:
    where = _Where(source, f"rule #{index + 1}")
    if not isinstance(raw, Mapping):
        raise where.error("", "each rule must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id) or rule_id == "manual":
        raise where.error("id", f"{rule_id!r} is not a rule id ([a-z0-9-]+, not 'manual')")
    where = _Where(source, f"rule '{rule_id}'")
    _unknown_keys(where, "", raw, _RULE_KEYS)
    # YAML 1.1 reads a bare `on` key as the boolean True.
    on = raw.get("on", raw.get(True))  # type: ignore[call-overload]
    if on not in (EVENT, ALERT):
        raise where.error("on", f"{on!r} must be 'event' or 'alert'")
    due = _duration(where, "due", raw.get("due"), required=True)
    assert due is not None
    if due.amount == 0:
        raise where.error("due", "must be more than 0")
    every = _duration(where, "escalate_every", raw.get("escalate_every"))
    if every is not None and every.amount == 0:
        raise where.error("escalate_every", "must be more than 0")
    return ActionRule(
        id=rule_id,
        on=on,
        title=_text(where, "title", raw.get("title")),
        due=due,
        when=_parse_when(where, on, raw.get("when")),
        remind_before=_duration(where, "remind_before", raw.get("remind_before")),
        escalate_every=every,
    )


def parse_actions(document: Any, source: str = "<memory>") -> ActionsConfig:
    """Validate an already-parsed YAML document."""
    top = _Where(source)
    if not isinstance(document, Mapping):
        raise top.error("", "the file must be a mapping with calendar, owners and rules")
    document = {("on" if key is True else key): value for key, value in document.items()}
    _unknown_keys(top, "", document, _TOP_KEYS)
    raw_owners = document.get("owners")
    if not isinstance(raw_owners, list) or not raw_owners:
        raise top.error(
            "owners", "must be a list of {match, owner, escalate_to}, with a `match: {}` fallback"
        )
    owners = tuple(_parse_owner(source, i, raw) for i, raw in enumerate(raw_owners))
    if not any(not entry.match for entry in owners):
        raise top.error(
            "owners", "needs a fallback entry with `match: {}` (whoever owns what nothing else matches)"
        )
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        raise top.error("rules", "must be a list of rules")
    rules: list[ActionRule] = []
    for index, raw in enumerate(raw_rules):
        if isinstance(raw, Mapping) and True in raw:
            raw = {("on" if key is True else key): value for key, value in raw.items()}
        rule = _parse_rule(source, index, raw)
        if rule.id in {r.id for r in rules}:
            raise _Where(source, f"rule '{rule.id}'").error("id", "is used by more than one rule")
        rules.append(rule)
    return ActionsConfig(
        calendar=_parse_calendar(source, document.get("calendar")),
        owners=owners,
        rules=tuple(rules),
        source=source,
        resend_every_s=_parse_notifications(source, document.get("notifications")),
    )


def _parse_notifications(source: str, raw: Any) -> float:
    """`notifications: {resend_every: 60 seconds}` (optional): elapsed time only, 1 s to 1 hour."""
    where = _Where(source, "notifications")
    if raw is None:
        return DEFAULT_RESEND_S
    if not isinstance(raw, Mapping):
        raise where.error("", "must be a mapping like {resend_every: 60 seconds}")
    _unknown_keys(where, "", raw, _NOTIFICATION_KEYS)
    duration = _duration(where, "resend_every", raw.get("resend_every"))
    if duration is None:
        return DEFAULT_RESEND_S
    seconds = duration.amount * ELAPSED_SECONDS.get(duration.unit, 0)
    if not 1 <= seconds <= 3600:
        raise where.error("resend_every", f"'{duration}' must be between 1 second and 1 hour")
    return float(seconds)


def load_actions(path: str | Path) -> ActionsConfig:
    """Read and validate the actions file; any problem raises ConfigError (exit 2) in one line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read actions file: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{at}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_actions(document, source=str(path))


def matches(when: Sequence[tuple[str, frozenset[str]]], facts: Mapping[str, Any]) -> bool:
    """Whether every `when` field has one of its values in `facts` (a list fact: any element)."""
    for name, values in when:
        fact = facts.get(name)
        if isinstance(fact, list | tuple):
            if not values.intersection(fact):
                return False
        elif fact not in values:
            return False
    return True
