"""How the owners' page says things: due dates in working days, dates in plain English, the list's order.

Working days come from the actions stage's own calendar (streams/actions/calendar.py), so "due in
2 working days" on the page and the deadline the stage chases are the same arithmetic: weekends,
England and Wales bank holidays and the site's closed days do not count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from schemas.action import ACTIVE_STATUSES
from streams.actions.calendar import LONDON, WorkingCalendar
from streams.actions.engine import parse_time

MAX_COUNTED: Final = 260  # about a working year; beyond it the page says "more than"
STATUS_LABELS: Final[Mapping[str, str]] = {
    "open": "Open",
    "acknowledged": "Acknowledged",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
# FeedbackEvent v1 sources (docs/contracts.md) as the people who handle them say them.
SOURCE_LABELS: Final[Mapping[str, str]] = {
    "complaint": "Complaint",
    "pals": "PALS contact",
    "incident": "Incident report",
    "fft": "Friends and Family Test comment",
    "ppi_survey": "Survey response",
    "gp_comment_card": "GP comment card",
    "gp_clinical_concern": "GP clinical concern",
    "mp_letter": "Letter from an MP",
    "local_media": "Local news story",
    "social_media": "Social media post",
    "healthwatch": "Healthwatch report",
    "partner": "Partner intelligence",
    "web_form": "Web form",
}
CHANGE_LABELS: Final[Mapping[str, str]] = {
    "create": "Created",
    "remind": "Reminder sent",
    "overdue": "Became overdue",
    "escalate": "Escalated",
    "acknowledge": "Acknowledged",
    "comment": "Comment",
    "reassign": "Reassigned",
    "extend": "Due date extended",
    "complete": "Completed",
    "reopen": "Reopened",
    "cancel": "Cancelled",
}


def _working_days_between(calendar: WorkingCalendar, start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when end <= start), capped."""
    counted, day = 0, start
    while day < end and counted <= MAX_COUNTED:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return counted


def _days(count: int) -> str:
    if count > MAX_COUNTED:
        return f"more than {MAX_COUNTED} working days"
    return f"{count} working day" + ("" if count == 1 else "s")


@dataclass(frozen=True)
class Due:
    """An action's deadline as the page shows it."""

    text: str  # "due in 2 working days", "3 working days overdue", "due today"; "" when finished
    overdue: bool
    when: str  # "Friday 4 December 2026 at 11:59pm"


def due_of(action: Mapping[str, Any], now: datetime, calendar: WorkingCalendar) -> Due:
    due = parse_time(action.get("due_at"))
    if due is None:
        return Due("no due date", False, "")
    when = plain_time(due)
    if action.get("status") not in ACTIVE_STATUSES:
        return Due("", False, when)  # finished: the date is history, not a deadline
    today, due_day = now.astimezone(LONDON).date(), due.astimezone(LONDON).date()
    if due <= now:
        count = _working_days_between(calendar, due_day, today)
        text = "overdue today" if count == 0 else f"{_days(count)} overdue"
        return Due(text, True, when)
    count = _working_days_between(calendar, today, due_day)
    return Due("due today" if count == 0 else f"due in {_days(count)}", False, when)


def source_label(source: object) -> str:
    return SOURCE_LABELS.get(str(source), "Feedback")


def sentence(text: str) -> str:
    """First letter up, the rest as it is (Jinja's `capitalize` lowers the rest: "thursday")."""
    return text[:1].upper() + text[1:]


def plain_time(moment: datetime) -> str:
    """'Friday 4 December 2026 at 11:59pm' in Europe/London, as NHS.UK writes dates and times."""
    local = moment.astimezone(LONDON)
    hour = local.hour % 12 or 12
    clock = f"{hour}{local.strftime(':%M') if local.minute else ''}{'am' if local.hour < 12 else 'pm'}"
    return f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')} at {clock}"


def plain_at(value: Any) -> str:
    moment = parse_time(value)
    return plain_time(moment) if moment is not None else ""


def sort_for_owner(actions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Overdue first, then by due date (the soonest first), then by id so the order is stable."""
    return sorted(
        actions,
        key=lambda a: (not a.get("overdue"), str(a.get("due_at") or "9999"), str(a.get("action_id"))),
    )


def mine(action: Mapping[str, Any], owner: str) -> bool:
    """Whether `owner` owns the action or is being chased for it (an escalation reached them)."""
    return owner in (action.get("owner"), action.get("notify"))
