"""Deadlines: working days in England and Wales, calendar days, hours, minutes (docs/actions.md).

What "N working days after" means, decided once here (the NHS Complaints Regulations 2009,
reg. 13: acknowledge "not later than 3 working days after the day on which it receives the
complaint"):

- A working day is Monday to Friday in Europe/London that is neither an England and Wales bank
  holiday (from the maintained `holidays` library, so substitute days and one-off days such as a
  coronation come with it) nor a local `closed` day.
- The day of receipt never counts, whatever the time and whether or not it is a working day.
  Counting starts with the next working day, and the deadline is the *end* of the Nth working day
  (23:59:59 Europe/London). A complaint received on Friday at 16:00, on Saturday or on Sunday is
  due at the end of Wednesday.
- "N days" is the same local clock time N calendar days later; "N hours", "N minutes" (and
  "N seconds", for tests) are elapsed time.
- A reminder "N working days before" a deadline goes out at the start (00:00 Europe/London) of the
  Nth working day counting back from the deadline's day, that day included: `remind_before: 1
  working day` reminds at the start of the last working day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

LONDON: Final = ZoneInfo("Europe/London")
END_OF_DAY: Final = time(23, 59, 59)
WORKING_DAYS: Final = "working days"
UNITS: Final[tuple[str, ...]] = (WORKING_DAYS, "days", "hours", "minutes", "seconds")
_UNIT_ALIASES: Final = {
    "working day": WORKING_DAYS,
    "working days": WORKING_DAYS,
    "day": "days",
    "days": "days",
    "hour": "hours",
    "hours": "hours",
    "minute": "minutes",
    "minutes": "minutes",
    "second": "seconds",
    "seconds": "seconds",
}
_DURATION: Final = re.compile(r"^\s*([0-9]{1,4})\s+([a-z ]{3,20}?)\s*$")
ELAPSED_SECONDS: Final = {"hours": 3600, "minutes": 60, "seconds": 1}
# Far enough for any deadline; a bound so a typo ("3000 working days") cannot loop for long.
MAX_WORKING_DAYS: Final = 1000
HOLIDAY_CALENDARS: Final = {"england-and-wales": ("GB", "ENG")}


@dataclass(frozen=True)
class Duration:
    """A parsed "N unit" from the actions file."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def parse_duration(text: object) -> Duration | None:
    """'3 working days' → Duration(3, 'working days'); None when it is not one of the UNITS."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    match = _DURATION.match(text.lower())
    if not match:
        return None
    unit = _UNIT_ALIASES.get(" ".join(match.group(2).split()))
    if unit is None:
        return None
    amount = int(match.group(1))
    if unit == WORKING_DAYS and amount > MAX_WORKING_DAYS:
        return None
    return Duration(amount, unit)


@lru_cache(maxsize=64)
def _bank_holidays(calendar: str, year: int) -> frozenset[date]:
    import holidays

    country, subdivision = HOLIDAY_CALENDARS[calendar]
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


@dataclass(frozen=True)
class WorkingCalendar:
    """Working-day arithmetic for one holiday calendar plus the site's own closed days."""

    holidays: str = "england-and-wales"
    closed: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.closed:
            return False
        return day not in _bank_holidays(self.holidays, day.year)

    def working_days_after(self, day: date, count: int) -> date:
        """The `count`-th working day after `day` (`day` itself never counts; count 0 = `day`)."""
        found = 0
        while found < count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                found += 1
        return day

    def add(self, start: datetime, duration: Duration) -> datetime:
        """The deadline `duration` after `start` (UTC out), as the module docstring defines it."""
        if duration.unit == WORKING_DAYS:
            local_day = start.astimezone(LONDON).date()
            if duration.amount == 0:
                return start.astimezone(UTC)
            due_day = self.working_days_after(local_day, duration.amount)
            return datetime.combine(due_day, END_OF_DAY, LONDON).astimezone(UTC)
        if duration.unit == "days":
            local = start.astimezone(LONDON)
            moved = datetime.combine(local.date() + timedelta(days=duration.amount), local.timetz())
            return moved.replace(tzinfo=LONDON).astimezone(UTC)
        return (start + timedelta(seconds=duration.amount * ELAPSED_SECONDS[duration.unit])).astimezone(UTC)

    def before(self, deadline: datetime, duration: Duration) -> datetime:
        """When a reminder `duration` ahead of `deadline` goes out (UTC out)."""
        if duration.unit == WORKING_DAYS:
            day = deadline.astimezone(LONDON).date()
            if duration.amount == 0:
                return deadline.astimezone(UTC)
            counted = 1 if self.is_working_day(day) else 0
            while counted < duration.amount:
                day -= timedelta(days=1)
                if self.is_working_day(day):
                    counted += 1
            return datetime.combine(day, time(0, 0), LONDON).astimezone(UTC)
        if duration.unit == "days":
            local = deadline.astimezone(LONDON)
            moved = datetime.combine(local.date() - timedelta(days=duration.amount), local.timetz())
            return moved.replace(tzinfo=LONDON).astimezone(UTC)
        return (deadline - timedelta(seconds=duration.amount * ELAPSED_SECONDS[duration.unit])).astimezone(
            UTC
        )

    def periods_elapsed(self, start: datetime, every: Duration, now: datetime, limit: int) -> int:
        """How many whole `every` periods have passed from `start` to `now`, at most `limit`.

        Catching up after downtime asks this once, so an escalation jumps straight to the level
        the elapsed time implies instead of one step per missed period.
        """
        if every.amount == 0 or now < start:
            return 0
        reached = 0
        while reached < limit:
            if self.add(start, Duration(every.amount * (reached + 1), every.unit)) > now:
                break
            reached += 1
        return reached
