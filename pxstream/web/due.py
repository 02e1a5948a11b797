"""`due` of a manual action ("5 working days") → a deadline, on the actions stage's own calendar.

The server and the stage must agree on what "5 working days" means (bank holidays, local closed
days, end of the Nth working day in Europe/London), so the server reads the same actions file
(`PXSTREAM_ACTIONS`) with the stage's loader and adds with the stage's calendar rather than keep
a second copy of either.
"""

from __future__ import annotations

from datetime import datetime

from pxstream.web.actions_requests import DueClock
from schemas.settings import Settings


def due_clock_for(calendar: object) -> DueClock:
    """A DueClock over one of the stage's calendars (`streams.actions.calendar.WorkingCalendar`)."""
    from streams.actions.calendar import parse_duration

    def clock(spec: str, start: datetime) -> datetime:
        duration = parse_duration(spec)
        if duration is None or duration.amount < 1 or duration.unit == "seconds":
            raise ValueError('must be "N working days", "N days", "N hours" or "N minutes" (N from 1)')
        return calendar.add(start, duration)  # type: ignore[attr-defined]

    return clock


def due_clock_from_settings(settings: Settings) -> DueClock:
    """The clock of the actions file the stage reads (PXSTREAM_ACTIONS); a bad file exits 2."""
    from streams.actions.agent import load_default_actions

    return due_clock_for(load_default_actions(settings).calendar)
