"""The owners' page forms: reading a posted form and turning a change form into an API body.

The form's own problems (a missing note, a date that is not one) are worded for the page; every
other check is the actions API's, which the page calls with the body built here (docs/owners-page.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Final
from urllib.parse import parse_qs

from aiohttp import web

from connectors.ingest.server import _read_capped
from pxstream.web.actions_requests import CHANGE_FIELDS, Problem
from pxstream.web.owners_auth import Session
from schemas.feedback_event import format_timestamp
from streams.actions.calendar import END_OF_DAY, LONDON

MAX_FORM_BYTES: Final = 32 * 1024
FORM_CHANGES: Final = ("acknowledge", "comment", "reassign", "extend", "complete", "cancel")
DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Which form field shows a problem the API reports for a body field.
FIELD_OF: Final = {"due_at": "due_date", "by": "change"}
RELOAD: Final = "Go back, reload the page and try again."
REQUIRED_MESSAGES: Final = {
    "comment": "Enter a comment",
    "complete": "Enter what was done (the outcome)",
    "cancel": "Enter why the action is cancelled",
    "extend": "Enter why the due date needs to move",
}


async def read_form(request: web.Request) -> dict[str, str] | None:
    """The posted form's fields (first value of each); None when too big or not a form."""
    body = await _read_capped(request, MAX_FORM_BYTES)
    if body is None:
        return None
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return {name: values[0] for name, values in parsed.items() if values}


def change_body(
    change: str, form: Mapping[str, str], session: Session
) -> tuple[dict[str, Any], list[Problem]]:
    """The API body for a form's change; the form's own problems (the date) in its words."""
    body: dict[str, Any] = {"change": change, "by": session.owner}
    problems: list[Problem] = []
    text = {name: (form.get(name) or "").strip() for name in ("note", "outcome", "reason", "owner")}
    required = {"comment": "note", "complete": "outcome", "cancel": "reason", "extend": "reason"}
    for name, value in text.items():
        if value:
            body[name] = value
    if change in required and not text[required[change]]:
        problems.append(Problem(required[change], REQUIRED_MESSAGES[change]))
    if change == "reassign" and not text["owner"]:
        problems.append(Problem("owner", "Enter the owner to give this action to"))
    if change == "extend":
        due = end_of_day(form.get("due_date", ""))
        if due is None:
            problems.append(Problem("due_date", "Enter the new due date, for example 2027-01-15"))
        else:
            body["due_at"] = due
    body = {k: v for k, v in body.items() if k in CHANGE_FIELDS[change]}  # the API's own list
    return body, problems


def end_of_day(value: str) -> str | None:
    """A `YYYY-MM-DD` from the form as the end of that day in Europe/London, ISO 8601 in UTC."""
    value = value.strip()
    if not DATE.match(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    moment = datetime.combine(day, END_OF_DAY, LONDON)
    return format_timestamp(moment)
