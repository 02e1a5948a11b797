"""Working-day deadlines against dates worked out by hand (docs/actions.md, "Calendar").

Each case names the days counted. A working day is Monday–Friday, not an England and Wales bank
holiday (substitute and one-off days included), not a local closed day; the day of receipt never
counts; the deadline is the end (23:59:59 Europe/London) of the Nth working day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from streams.actions.calendar import Duration, WorkingCalendar, parse_duration

CAL = WorkingCalendar()
CLOSED_29 = WorkingCalendar(closed=frozenset({date(2026, 12, 29)}))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def wd(n: int) -> Duration:
    return Duration(n, "working days")


@pytest.mark.parametrize(
    ("calendar", "received", "days", "due"),
    [
        # Fri 18 Dec 2026 16:00: Mon 21 (1), Tue 22 (2), Wed 23 (3)
        (CAL, "2026-12-18T16:00:00+00:00", 3, "2026-12-23T23:59:59+00:00"),
        # Saturday and Sunday: the same three days
        (CAL, "2026-12-19T09:00:00+00:00", 3, "2026-12-23T23:59:59+00:00"),
        (CAL, "2026-12-20T23:30:00+00:00", 3, "2026-12-23T23:59:59+00:00"),
        # Wed 23 Dec 2026: Thu 24 (1); Fri 25 Christmas, Sat 26 Boxing Day, Sun 27, Mon 28 Boxing Day
        # (substitute); Tue 29 (2), Wed 30 (3)
        (CAL, "2026-12-23T10:00:00+00:00", 3, "2026-12-30T23:59:59+00:00"),
        # ... with Tue 29 a local closed day: Thu 24 (1), Wed 30 (2), Thu 31 (3)
        (CLOSED_29, "2026-12-23T10:00:00+00:00", 3, "2026-12-31T23:59:59+00:00"),
        # Thu 24 Dec 2026: Tue 29 (1), Wed 30 (2), Thu 31 (3)
        (CAL, "2026-12-24T15:00:00+00:00", 3, "2026-12-31T23:59:59+00:00"),
        # Fri 24 Dec 2027: Sat 25 and Sun 26, so Mon 27 and Tue 28 are both substitute days;
        # Wed 29 (1), Thu 30 (2), Fri 31 (3)
        (CAL, "2027-12-24T12:00:00+00:00", 3, "2027-12-31T23:59:59+00:00"),
        # ... 10 working days: then Sat 1 Jan 2028 New Year, substitute Mon 3 Jan; Tue 4 (4), Wed 5,
        # Thu 6, Fri 7 (7), Mon 10, Tue 11, Wed 12 (10)
        (CAL, "2027-12-24T12:00:00+00:00", 10, "2028-01-12T23:59:59+00:00"),
        # Easter 2026: Good Friday 3 Apr, Easter Monday 6 Apr. Thu 2 Apr: Tue 7 (1), Wed 8 (2),
        # Thu 9 (3); end of day in BST is 22:59:59Z
        (CAL, "2026-04-02T09:00:00+01:00", 3, "2026-04-09T22:59:59+00:00"),
        # Easter 2027 and the clocks going forward (Sun 28 Mar): Thu 25 Mar in GMT; Good Friday 26,
        # Easter Monday 29; Tue 30 (1), Wed 31 (2), Thu 1 Apr (3) in BST
        (CAL, "2027-03-25T12:00:00+00:00", 3, "2027-04-01T22:59:59+00:00"),
        # A one-off bank holiday: the coronation, Mon 8 May 2023. Fri 5 May: Tue 9 (1), Wed 10 (2), Thu 11 (3)
        (CAL, "2023-05-05T11:00:00+01:00", 3, "2023-05-11T22:59:59+00:00"),
        # Received at 23:30 BST on Mon 5 Oct 2026 = 22:30Z: the London day (Monday) is what counts
        (CAL, "2026-10-05T22:30:00+00:00", 1, "2026-10-06T22:59:59+00:00"),
        # Duty of candour, 10 working days from Fri 11 Dec 2026: Mon 14 .. Fri 18 (5), Mon 21,
        # Tue 22, Wed 23, Thu 24 (9), Tue 29 (10)
        (CAL, "2026-12-11T10:00:00+00:00", 10, "2026-12-29T23:59:59+00:00"),
    ],
)  # fmt: skip
def test_working_day_deadlines(calendar: WorkingCalendar, received: str, days: int, due: str) -> None:
    assert calendar.add(utc(received), wd(days)) == utc(due)


@pytest.mark.parametrize(
    ("due", "before", "remind_at"),
    [
        # due the end of Wed 30 Dec 2026: 1 working day before = the start of Wed 30
        ("2026-12-30T23:59:59+00:00", 1, "2026-12-30T00:00:00+00:00"),
        # 2: the start of Tue 29
        ("2026-12-30T23:59:59+00:00", 2, "2026-12-29T00:00:00+00:00"),
        # 3: back over Mon 28 (substitute), the weekend and Christmas to the start of Thu 24
        ("2026-12-30T23:59:59+00:00", 3, "2026-12-24T00:00:00+00:00"),
        # in BST: the start of Thu 1 Apr 2027 is 23:00Z the day before
        ("2027-04-01T22:59:59+00:00", 1, "2027-03-31T23:00:00+00:00"),
    ],
)
def test_reminder_times(due: str, before: int, remind_at: str) -> None:
    assert CAL.before(utc(due), wd(before)) == utc(remind_at)


def test_calendar_days_keep_the_london_clock_time_across_the_clock_change() -> None:
    # Sat 27 Mar 2027 12:00 GMT + 2 days = Mon 29 Mar 12:00 BST = 11:00Z; 48 hours is 12:00Z
    start = utc("2027-03-27T12:00:00+00:00")
    assert CAL.add(start, Duration(2, "days")) == utc("2027-03-29T11:00:00+00:00")
    assert CAL.add(start, Duration(48, "hours")) == utc("2027-03-29T12:00:00+00:00")
    assert CAL.add(start, Duration(90, "minutes")) == utc("2027-03-27T13:30:00+00:00")
    assert CAL.before(utc("2027-03-29T11:00:00+00:00"), Duration(2, "days")) == start


def test_escalation_periods_count_working_days_and_stop_at_the_chain_end() -> None:
    due = utc("2026-12-23T23:59:59+00:00")
    # level 1 at the end of Thu 24, level 2 at the end of Tue 29 (Christmas, weekend, substitute day)
    assert CAL.periods_elapsed(due, wd(1), utc("2026-12-24T12:00:00+00:00"), limit=5) == 0
    assert CAL.periods_elapsed(due, wd(1), utc("2026-12-28T12:00:00+00:00"), limit=5) == 1
    assert CAL.periods_elapsed(due, wd(1), utc("2026-12-30T00:00:00+00:00"), limit=5) == 2
    # a long outage: straight to the end of the chain, no further
    assert CAL.periods_elapsed(due, wd(1), utc("2027-06-01T00:00:00+00:00"), limit=2) == 2
    assert CAL.periods_elapsed(due, Duration(10, "minutes"), utc("2026-12-24T00:29:59+00:00"), limit=9) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 working days", Duration(3, "working days")),
        ("1 working day", Duration(1, "working days")),
        ("2 days", Duration(2, "days")),
        ("4 Hours", Duration(4, "hours")),
        ("30 minutes", Duration(30, "minutes")),
        ("5 seconds", Duration(5, "seconds")),
        ("3 workingdays", None),
        ("three days", None),
        ("3d", None),
        ("-1 days", None),
        ("5000 working days", None),
        (3, None),
        ("9" * 50 + " days", None),
    ],
)
def test_parse_duration(text: object, expected: Duration | None) -> None:
    assert parse_duration(text) == expected


def test_the_holiday_library_knows_the_substitute_days() -> None:
    """Guard on the maintained library itself: these are not in any table of ours."""
    assert not CAL.is_working_day(date(2026, 12, 28))  # Boxing Day (substitute)
    assert not CAL.is_working_day(date(2022, 9, 19))  # the Queen's state funeral
    assert not CAL.is_working_day(date(2022, 6, 3))  # Platinum Jubilee
    assert CAL.is_working_day(date(2026, 12, 29))
    assert not CLOSED_29.is_working_day(date(2026, 12, 29))
