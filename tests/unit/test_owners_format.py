"""Due dates in working days, as the owners' page says them (the stage's calendar)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pxstream.web.owners_format import due_of, plain_time, sort_for_owner
from streams.actions.calendar import WorkingCalendar

CALENDAR = WorkingCalendar(closed=frozenset({date(2026, 12, 29)}))
# Thursday 17 December 2026, 10:00 in London
NOW = datetime(2026, 12, 17, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("due_at", "text", "overdue"),
    [
        ("2026-12-17T23:59:59Z", "due today", False),
        ("2026-12-18T23:59:59Z", "due in 1 working day", False),
        # Fri 18, Mon 21 to Thu 24; then Christmas Day (Fri 25), Boxing Day's substitute (Mon 28)
        # and the closed Tue 29 do not count: Wed 30 is the sixth working day
        ("2026-12-30T23:59:59Z", "due in 6 working days", False),
        ("2026-12-17T08:00:00Z", "overdue today", True),
        ("2026-12-14T23:59:59Z", "3 working days overdue", True),  # Mon 14 → Tue, Wed, Thu
        ("2026-12-11T23:59:59Z", "4 working days overdue", True),  # Fri 11: the weekend does not count
    ],
)
def test_due_in_working_days(due_at: str, text: str, overdue: bool) -> None:
    due = due_of({"status": "open", "due_at": due_at}, NOW, CALENDAR)
    assert (due.text, due.overdue) == (text, overdue)


def test_a_finished_action_is_never_overdue() -> None:
    due = due_of({"status": "completed", "due_at": "2026-12-11T23:59:59Z"}, NOW, CALENDAR)
    assert (due.overdue, due.text, due.when) == (False, "", "Friday 11 December 2026 at 11:59pm")


def test_plain_times_are_london_time() -> None:
    end_of_day = datetime(2026, 12, 23, 23, 59, 59, tzinfo=UTC)
    assert plain_time(end_of_day) == "Wednesday 23 December 2026 at 11:59pm"
    assert plain_time(datetime(2026, 7, 1, 8, 0, tzinfo=UTC)) == "Wednesday 1 July 2026 at 9am"


def test_overdue_first_then_soonest() -> None:
    actions = [
        {"action_id": "a", "overdue": False, "due_at": "2026-12-18T00:00:00Z"},
        {"action_id": "b", "overdue": True, "due_at": "2026-12-16T00:00:00Z"},
        {"action_id": "c", "overdue": False, "due_at": "2026-12-17T00:00:00Z"},
        {"action_id": "d", "overdue": True, "due_at": "2026-12-10T00:00:00Z"},
    ]
    assert [a["action_id"] for a in sort_for_owner(actions)] == ["d", "b", "c", "a"]
