"""A calendar month, as the monthly pack and its queries take it (`--month YYYY-MM`).

The one month type: the pack's figures (`grafana/report/data.py`), its actions section and the
command line all take this, so "which days belong to March" is answered in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from schemas.errors import ConfigError

_YEAR_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Month:
    start: date  # the first day
    end: date  # the first day of the next month (exclusive)

    @classmethod
    def containing(cls, day: date) -> Month:
        start = day.replace(day=1)
        return cls(start, date(start.year + start.month // 12, start.month % 12 + 1, 1))

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2026-03"`` → March 2026; anything else is a ConfigError naming what was given."""
        match = _YEAR_MONTH.fullmatch(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise ConfigError(f"month {text!r}: expected YYYY-MM, e.g. 2026-03")
        return cls.containing(date(int(match.group(1)), int(match.group(2)), 1))

    @property
    def previous(self) -> Month:
        return Month.containing(self.start - timedelta(days=1))

    @property
    def label(self) -> str:
        return self.start.strftime("%B %Y")
