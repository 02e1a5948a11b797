"""What the actions API accepts: every field checked and bounded, every problem listed at once.

Pure functions from a decoded JSON body (or a query string) to either the fields of an
`actions.commands` command (schemas/action.py) or the list of problems, each naming the field.
Messages never quote a value: note, outcome, reason and title may carry personal data until the
actions stage has redacted them, and a 400 is as likely to be logged by a proxy as anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from schemas.action import CHANGES, EXTEND, REASSIGN, REQUIRED_FOR, STATUSES
from schemas.feedback_event import format_timestamp as iso
from streams.actions.engine import MAX_NOTE, MAX_OUTCOME, MAX_SHORT

if TYPE_CHECKING:
    from multidict import MultiMapping  # aiohttp's request.query

MAX_BODY_BYTES: Final = 64 * 1024
MAX_LIST: Final = 1000
# The actions stage's own bounds, so nothing the API accepts is cut short when the stage applies it.
TEXT_LIMITS: Final[Mapping[str, int]] = {
    "title": MAX_SHORT,
    "note": MAX_NOTE,
    "outcome": MAX_OUTCOME,
    "reason": MAX_NOTE,
}
MAX_BY: Final = 128
MAX_PLACE: Final = 200  # provider, site, ward: as the sources spell them
MAX_ID: Final = 128  # event and alert ids, like FeedbackEvent's event_id
MAX_LINKED_EVENTS: Final = 100
MAX_DUE_AHEAD: Final = timedelta(days=3 * 366)  # a mistyped year is refused, not scheduled
OWNER_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
IDEMPOTENCY_KEY_PATTERN: Final = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Which optional fields each change uses; anything else in the body is refused, so a typo
# (`outcom`) or a field meant for another change never passes silently.
CHANGE_FIELDS: Final[Mapping[str, frozenset[str]]] = {
    change: frozenset({"change", "by", "note", *REQUIRED_FOR[change]}) for change in CHANGES
}
CREATE_FIELDS: Final = frozenset(
    {"title", "due", "due_at", "owner", "provider", "site", "ward", "links", "by"}
)
QUERY_FIELDS: Final = frozenset({"status", "owner", "overdue", "limit"})
DEFAULT_LIMIT: Final = 500

# "N working days" needs the organisation's calendar (bank holidays, closed days): the server is
# handed the actions stage's clock; it raises ValueError for a spec it cannot resolve.
DueClock = Callable[[str, datetime], datetime]


@dataclass(frozen=True)
class Problem:
    path: str
    message: str

    def as_json(self) -> dict[str, str | None]:
        """As the ingest API lists problems (`index` is for arrays of events: always null here)."""
        return {"index": None, "path": self.path, "message": self.message}


@dataclass(frozen=True)
class ListQuery:
    statuses: frozenset[str] = frozenset()
    owner: str | None = None
    overdue: bool | None = None
    limit: int = DEFAULT_LIMIT

    def matches(self, action: Mapping[str, Any]) -> bool:
        return (
            (not self.statuses or action.get("status") in self.statuses)
            and (self.owner is None or action.get("owner") == self.owner)
            and (self.overdue is None or bool(action.get("overdue")) == self.overdue)
        )


@dataclass
class _Checker:
    """Collects problems while reading fields out of one body."""

    body: Mapping[str, Any]
    problems: list[Problem] = field(default_factory=list)

    def refuse(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def text(self, name: str, limit: int, *, required: bool = False) -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.refuse(name, "is required")
            return None
        if not isinstance(value, str):
            self.refuse(name, "must be a string")
            return None
        if not value.strip():
            self.refuse(name, "must not be empty")
            return None
        if len(value) > limit:
            self.refuse(name, f"is longer than {limit:,} characters")
            return None
        if _CONTROL.search(value):
            self.refuse(name, "contains control characters")
            return None
        return value.strip()

    def owner(self, name: str = "owner", *, required: bool = False) -> str | None:
        value = self.text(name, 128, required=required)
        if value is not None and not OWNER_PATTERN.match(value):
            self.refuse(name, "must be an owner id: letters, digits and . _ @ - (at most 128)")
            return None
        return value

    def moment(self, name: str, now: datetime, *, required: bool = False) -> datetime | None:
        value = self.text(name, 64, required=required)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            self.refuse(name, "must be an ISO 8601 date-time, e.g. 2026-12-10T17:00:00Z")
            return None
        if moment.tzinfo is None:
            self.refuse(name, "must include a UTC offset (Z or +01:00)")
            return None
        if moment > now + MAX_DUE_AHEAD:
            self.refuse(name, "is more than three years ahead")
            return None
        if moment < now - timedelta(days=1):
            self.refuse(name, "is in the past")
            return None
        return moment.astimezone(UTC)

    def unknown(self, allowed: frozenset[str], what: str) -> None:
        for name in sorted(set(self.body) - allowed):
            self.refuse(name if len(name) <= 64 else name[:64] + "…", f"is not a field of {what}")


def parse_change(body: Any, now: datetime) -> tuple[dict[str, Any], list[Problem]]:
    """The change's fields for a command, or the problems: `change`, `by`, what REQUIRED_FOR names."""
    if not isinstance(body, dict):
        return {}, [Problem("", "expected a JSON object")]
    check = _Checker(body)
    change = body.get("change")
    if change not in CHANGES:
        check.refuse("change", f"must be one of {', '.join(CHANGES)}")
        check.text("by", MAX_BY, required=True)
        return {}, check.problems
    check.unknown(CHANGE_FIELDS[change], f"a {change} change")
    fields: dict[str, Any] = {"change": change, "by": check.text("by", MAX_BY, required=True)}
    fields["note"] = check.text("note", TEXT_LIMITS["note"], required="note" in REQUIRED_FOR[change])
    if change == REASSIGN:
        fields["owner"] = check.owner(required=True)
    if change == EXTEND:
        due_at = check.moment("due_at", now, required=True)
        fields["due_at"] = iso(due_at) if due_at else None
    for name in ("reason", "outcome"):
        if name in REQUIRED_FOR[change]:
            fields[name] = check.text(name, TEXT_LIMITS[name], required=True)
    return {k: v for k, v in fields.items() if v is not None}, check.problems


def parse_new_action(body: Any, now: datetime, due_clock: DueClock) -> tuple[dict[str, Any], list[Problem]]:
    """A manual action's fields for a `create` command, or the problems."""
    if not isinstance(body, dict):
        return {}, [Problem("", "expected a JSON object")]
    check = _Checker(body)
    check.unknown(CREATE_FIELDS, "a new action")
    fields: dict[str, Any] = {
        "title": check.text("title", TEXT_LIMITS["title"], required=True),
        "by": check.text("by", MAX_BY),
        "owner": check.owner(),
        **{name: check.text(name, MAX_PLACE) for name in ("provider", "site", "ward")},
    }
    if ("due" in body) == ("due_at" in body):
        check.refuse("due", 'give either `due` ("5 working days") or `due_at`, not both or neither')
    elif "due_at" in body:
        due_at = check.moment("due_at", now)
        fields["due_at"] = iso(due_at) if due_at else None
    else:
        fields["due_at"] = _due(check, now, due_clock)
    fields["links"] = _links(check)
    return {k: v for k, v in fields.items() if v is not None}, check.problems


def _due(check: _Checker, now: datetime, due_clock: DueClock) -> str | None:
    spec = check.text("due", 32)
    if spec is None:
        return None
    try:
        due_at = due_clock(spec, now)
    except ValueError as exc:
        check.refuse("due", str(exc))
        return None
    if due_at > now + MAX_DUE_AHEAD:
        check.refuse("due", "is more than three years ahead")
        return None
    return iso(due_at)


def _links(check: _Checker) -> dict[str, Any] | None:
    links = check.body.get("links")
    if links is None:
        return None
    if not isinstance(links, dict):
        check.refuse("links", "must be an object: {event_ids: [..], alert_id: ..}")
        return None
    for name in sorted(set(links) - {"event_ids", "alert_id"}):
        check.refuse(f"links.{name[:64]}", "is not a field of links")
    result: dict[str, Any] = {}
    event_ids = links.get("event_ids")
    if event_ids is not None:
        if not isinstance(event_ids, list) or len(event_ids) > MAX_LINKED_EVENTS:
            check.refuse("links.event_ids", f"must be a list of at most {MAX_LINKED_EVENTS} event ids")
        else:
            for index, event_id in enumerate(event_ids):
                if not isinstance(event_id, str) or not 1 <= len(event_id) <= MAX_ID:
                    check.refuse(f"links.event_ids[{index}]", f"must be a string of 1-{MAX_ID} characters")
            result["event_ids"] = event_ids
    alert_id = links.get("alert_id")
    if alert_id is not None:
        if not isinstance(alert_id, str) or not 1 <= len(alert_id) <= MAX_ID:
            check.refuse("links.alert_id", f"must be a string of 1-{MAX_ID} characters")
        else:
            result["alert_id"] = alert_id
    return result or None


def parse_list_query(query: MultiMapping[str]) -> tuple[ListQuery, list[Problem]]:
    """`?status=open,acknowledged&owner=…&overdue=true&limit=100`; unknown parameters are refused,
    and so is a parameter given twice (`query` is the request's multidict: which of two values
    was meant is the caller's to say, not the first one's to win silently)."""
    problems = [
        Problem(name[:64], "is not a parameter of GET /v1/actions")
        for name in sorted(set(query) - QUERY_FIELDS)
    ]
    problems += [
        Problem(name, "is given more than once")
        for name in sorted(QUERY_FIELDS)
        if len(query.getall(name, ())) > 1
    ]
    statuses: frozenset[str] = frozenset()
    if query.get("status"):
        statuses = frozenset(s.strip() for s in query["status"].split(",")[:8])
        if not statuses <= set(STATUSES):
            problems.append(Problem("status", f"must be one or more of {', '.join(STATUSES)}"))
    owner = query.get("owner")
    if owner is not None and not OWNER_PATTERN.match(owner):
        problems.append(Problem("owner", "must be an owner id: letters, digits and . _ @ -"))
    overdue = {"true": True, "false": False, None: None}.get(query.get("overdue"), "bad")
    if overdue == "bad":
        problems.append(Problem("overdue", "must be true or false"))
    limit = DEFAULT_LIMIT
    if query.get("limit") is not None:
        raw = query["limit"]
        if not raw.isdigit() or not 1 <= int(raw[:5]) <= MAX_LIST or len(raw) > 5:
            problems.append(Problem("limit", f"must be a whole number from 1 to {MAX_LIST}"))
        else:
            limit = int(raw)
    if problems:
        return ListQuery(), problems
    return ListQuery(statuses, owner, overdue, limit), []  # type: ignore[arg-type]
