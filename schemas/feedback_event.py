"""FeedbackEvent v1: the in-process validator, compiled from the published JSON Schema.

Source systems validate against `feedback_event.v1.json`; the stream validates with this module.
Both read the same file, so they cannot drift apart (a test checks that they agree on a corpus).
A hand-compiled checker rather than the `jsonschema` package because this runs once per event
on the hot path, and because operators need *every* problem with its path and a reason code
that the dead-letter topic and the ingest API can report, not the first failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Final, NotRequired, TypedDict

import orjson

SCHEMA_VERSION: Final = 1
SCHEMA: Final[dict[str, Any]] = json.loads(
    resources.files("schemas").joinpath("feedback_event.v1.json").read_text(encoding="utf-8")
)

# Reason codes, in the order that decides which one a dead letter is filed under when an
# event has several problems: the most fundamental first.
NOT_UTF8: Final = "not_utf8"
NOT_JSON: Final = "not_json"
NOT_OBJECT: Final = "not_object"
UNKNOWN_FIELD: Final = "unknown_field"
MISSING_FIELD: Final = "missing_field"
WRONG_TYPE: Final = "wrong_type"
BAD_TIMESTAMP: Final = "bad_timestamp"
TEXT_TOO_LONG: Final = "text_too_long"
# Any other field over its bound (characters, items, keys): every field is bounded so that no
# one event can cost the stream more than the limits allow (docs/redaction.md, "Bounds").
TOO_LARGE: Final = "too_large"
INVALID_VALUE: Final = "invalid_value"
REASON_CODES: Final[tuple[str, ...]] = (
    NOT_UTF8,
    NOT_JSON,
    NOT_OBJECT,
    UNKNOWN_FIELD,
    MISSING_FIELD,
    WRONG_TYPE,
    BAD_TIMESTAMP,
    TEXT_TOO_LONG,
    TOO_LARGE,
    INVALID_VALUE,
)
_PRIORITY: Final = {code: rank for rank, code in enumerate(REASON_CODES)}

# ClickHouse DateTime64 covers 1900-2299; anything outside is a typo, not a date.
_EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST: Final = datetime(2299, 12, 31, tzinfo=UTC)


class FeedbackEvent(TypedDict):
    """A valid, normalised event: timestamps in UTC `Z`, `received_at` always present."""

    event_id: str
    source: str
    occurred_at: str
    received_at: str
    text: str
    organisation: NotRequired[str]
    provider: NotRequired[str]
    site: NotRequired[str]
    ward: NotRequired[str]
    category_codes: NotRequired[list[str]]
    severity: NotRequired[str]
    rating: NotRequired[int]
    reporter: NotRequired[str]
    attributes: NotRequired[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located by a path like `attributes.ward` or `category_codes[2]`."""

    path: str
    message: str
    reason_code: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# The message (a dead letter's `error`) names this many problems and counts the rest: an event
# with 100,000 unknown keys must not make a dead letter bigger than the topic accepts.
_MESSAGE_PROBLEMS: Final = 20


class InvalidEvent(ValueError):
    """Raised by `parse_event`; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: _PRIORITY[p.reason_code])
        shown = "; ".join(str(p) for p in self.problems[:_MESSAGE_PROBLEMS])
        hidden = len(self.problems) - _MESSAGE_PROBLEMS
        super().__init__(f"{shown}; and {hidden:,} more" if hidden > 0 else shown)

    @property
    def reason_code(self) -> str:
        return self.problems[0].reason_code


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_Check = Callable[[str, Any, list[Problem]], None]


def _compile(spec: Mapping[str, Any], field: str) -> _Check:
    """Turn one property's schema (the subset our contract uses) into a checking function."""
    checks: list[_Check] = []
    kind = spec.get("type")
    if "enum" in spec:
        allowed = frozenset(spec["enum"])
        shown = ", ".join(spec["enum"])

        def check_enum(path: str, value: Any, out: list[Problem]) -> None:
            if not isinstance(value, str):
                out.append(Problem(path, f"expected one of {shown}, got {_type_name(value)}", WRONG_TYPE))
            elif value not in allowed:
                out.append(Problem(path, f"{value[:40]!r} is not one of {shown}", INVALID_VALUE))

        checks.append(check_enum)
    elif kind == "string":
        low, high = spec.get("minLength"), spec.get("maxLength")
        is_datetime = spec.get("format") == "date-time"
        too_long = TEXT_TOO_LONG if field == "text" else TOO_LARGE

        def check_string(path: str, value: Any, out: list[Problem]) -> None:
            if not isinstance(value, str):
                out.append(Problem(path, f"expected a string, got {_type_name(value)}", WRONG_TYPE))
                return
            if low is not None and len(value) < low:
                out.append(Problem(path, f"must have at least {low} character(s)", INVALID_VALUE))
            if high is not None and len(value) > high:
                out.append(Problem(path, f"has {len(value):,} characters; the limit is {high:,}", too_long))
            if is_datetime and _parse_datetime(value) is None:
                out.append(
                    Problem(
                        path,
                        f"{value[:40]!r} is not an ISO 8601 date-time with an offset "
                        "(e.g. 2025-03-01T14:30:00Z)",
                        BAD_TIMESTAMP,
                    )
                )

        checks.append(check_string)
    elif kind == "integer":
        low, high = spec.get("minimum"), spec.get("maximum")

        def check_integer(path: str, value: Any, out: list[Problem]) -> None:
            # JSON Schema counts 3.0 as an integer; a boolean is never one.
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                out.append(Problem(path, f"expected an integer, got {_type_name(value)}", WRONG_TYPE))
                return
            if (low is not None and value < low) or (high is not None and value > high):
                out.append(Problem(path, f"{value} is outside {low}..{high}", INVALID_VALUE))

        checks.append(check_integer)
    elif kind == "array":
        item_check = _compile(spec.get("items", {}), field)
        max_items = spec.get("maxItems")

        def check_array(path: str, value: Any, out: list[Problem]) -> None:
            if not isinstance(value, list):
                out.append(Problem(path, f"expected an array, got {_type_name(value)}", WRONG_TYPE))
                return
            if max_items is not None and len(value) > max_items:
                out.append(Problem(path, f"has {len(value):,} items; the limit is {max_items:,}", TOO_LARGE))
                return  # one problem, not one per item, for a list that is too long anyway
            for index, item in enumerate(value):
                item_check(f"{path}[{index}]", item, out)

        checks.append(check_array)
    elif kind == "object":
        value_check = _compile(spec.get("additionalProperties", {}), field)
        max_keys = spec.get("maxProperties")
        max_key_length = spec.get("propertyNames", {}).get("maxLength")

        def check_object(path: str, value: Any, out: list[Problem]) -> None:
            if not isinstance(value, dict):
                out.append(Problem(path, f"expected an object, got {_type_name(value)}", WRONG_TYPE))
                return
            if max_keys is not None and len(value) > max_keys:
                out.append(Problem(path, f"has {len(value):,} keys; the limit is {max_keys:,}", TOO_LARGE))
                return
            for key, item in value.items():
                if max_key_length is not None and len(key) > max_key_length:
                    out.append(
                        Problem(
                            f"{path}.{key[:40]}…",
                            f"key has {len(key):,} characters; the limit is {max_key_length:,}",
                            TOO_LARGE,
                        )
                    )
                    continue
                value_check(f"{path}.{key}", item, out)

        checks.append(check_object)

    def check_all(path: str, value: Any, out: list[Problem]) -> None:
        for check in checks:
            check(path, value, out)

    return check_all


_FIELDS: Final[dict[str, _Check]] = {
    name: _compile(spec, name) for name, spec in SCHEMA["properties"].items()
}
_REQUIRED: Final[tuple[str, ...]] = tuple(SCHEMA["required"])
FIELD_NAMES: Final[frozenset[str]] = frozenset(_FIELDS)


def _parse_datetime(value: str) -> datetime | None:
    """Parse ISO 8601 with a mandatory offset; None when it is not one or is out of range."""
    if len(value) < 16 or value[4:5] != "-" or value[10:11] not in ("T", "t", " "):
        return None  # fromisoformat also takes bare dates and week dates; the contract does not
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or not _EARLIEST <= parsed <= _LATEST:
        return None
    return parsed


def format_timestamp(moment: datetime | float) -> str:
    """The one output form of a timestamp: UTC, milliseconds, `Z` (docs/contracts.md, "Timestamps").

    Takes an aware datetime or Unix epoch seconds (the hotspot engine's clock), so events and
    alerts are written alike. Milliseconds are truncated, never rounded up, so a later moment
    never prints earlier than an earlier one.
    """
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def validate(candidate: Any) -> list[Problem]:
    """Every problem with a decoded JSON value against FeedbackEvent v1; empty when valid."""
    if not isinstance(candidate, dict):
        return [Problem("", f"expected a JSON object, got {_type_name(candidate)}", NOT_OBJECT)]
    problems: list[Problem] = []
    for name in candidate.keys() - FIELD_NAMES:
        shown = str(name)[:64] + ("…" if len(str(name)) > 64 else "")  # a path, not a copy of the input
        problems.append(
            Problem(shown, "unknown field (FeedbackEvent v1 allows no extra fields)", UNKNOWN_FIELD)
        )
    for name in _REQUIRED:
        if name not in candidate:
            problems.append(Problem(name, "is required", MISSING_FIELD))
    for name, value in candidate.items():
        check = _FIELDS.get(name)
        if check is not None:
            check(name, value, problems)
    return problems


def decode(raw: bytes) -> Any:
    """Bytes from Kafka or HTTP to a JSON value, raising InvalidEvent for non-UTF-8 or non-JSON input."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as utf_exc:
            problem = Problem("", f"not UTF-8 (byte {utf_exc.start})", NOT_UTF8)
        else:
            problem = Problem("", f"not JSON: {exc}", NOT_JSON)
        raise InvalidEvent([problem]) from None


def normalise(candidate: dict[str, Any], *, received: datetime) -> FeedbackEvent:
    """A validated event in canonical form: UTC `Z` timestamps, `received_at` defaulted, integer rating."""
    event = dict(candidate)
    occurred = _parse_datetime(event["occurred_at"])
    assert occurred is not None  # validated
    event["occurred_at"] = format_timestamp(occurred)
    received_at = event.get("received_at")
    parsed_received = _parse_datetime(received_at) if received_at is not None else None
    event["received_at"] = format_timestamp(parsed_received or received)
    if "rating" in event:
        event["rating"] = int(event["rating"])
    return event  # type: ignore[return-value]


def parse_event(
    raw: bytes | dict[str, Any], *, received: datetime | None = None, max_future: timedelta | None = None
) -> FeedbackEvent:
    """Decode, validate and normalise one event, or raise InvalidEvent listing every problem.

    `max_future` refuses events dated further ahead than that: one mistyped year would otherwise
    drag a partition's event-time watermark forward and make every honest event look late.
    """
    now = received or datetime.now(UTC)
    candidate = decode(raw) if isinstance(raw, bytes | bytearray | memoryview) else raw
    problems = validate(candidate)
    if not problems and max_future is not None:
        occurred = _parse_datetime(candidate["occurred_at"])
        if occurred is not None and occurred > now + max_future:
            problems.append(
                Problem(
                    "occurred_at",
                    f"is more than {max_future} in the future ({candidate['occurred_at']})",
                    BAD_TIMESTAMP,
                )
            )
    if problems:
        raise InvalidEvent(problems)
    return normalise(candidate, received=now)


def event_time(event: Mapping[str, Any]) -> datetime:
    """`occurred_at` of a normalised event as an aware datetime."""
    parsed = _parse_datetime(event["occurred_at"])
    if parsed is None:
        raise ValueError(f"not a normalised event: occurred_at={event.get('occurred_at')!r}")
    return parsed
