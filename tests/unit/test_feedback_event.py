"""FeedbackEvent v1: every rule of the docs/contracts.md table, valid and invalid, and agreement with
the published JSON Schema as judged by the reference `jsonschema` implementation."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta

import jsonschema
import orjson
import pytest

from schemas import dead_letter as dl
from schemas import feedback_event as fe
from schemas.domains import DOMAIN_IDS

VALID = {
    "event_id": "cmp-2025-0001",
    "source": "complaint",
    "occurred_at": "2025-03-01T14:30:00+01:00",
    "text": "Waited six hours in A&E with chest pain.",
}
FULL = {
    **VALID,
    "received_at": "2025-03-02T09:00:00Z",
    "organisation": "QHM",
    "provider": "RTD",
    "site": "RTD01",
    "ward": "Ward 7",
    "category_codes": ["ko41a:waiting_times", "nrls:treatment_procedure"],
    "severity": "moderate",
    "rating": 4,
    "reporter": "carer",
    "attributes": {"channel": "letter"},
}
NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)


def codes(candidate: object) -> list[tuple[str, str]]:
    return sorted((p.path, p.reason_code) for p in fe.validate(candidate))


def test_minimal_and_full_events_are_valid() -> None:
    assert fe.validate(VALID) == []
    assert fe.validate(FULL) == []


@pytest.mark.parametrize("field", ["event_id", "source", "occurred_at", "text"])
def test_each_required_field_is_required(field: str) -> None:
    candidate = {k: v for k, v in VALID.items() if k != field}
    assert codes(candidate) == [(field, fe.MISSING_FIELD)]


def test_unknown_top_level_field_is_refused_so_typos_never_pass() -> None:
    assert codes({**VALID, "ocurred_at": "2025-03-01T14:30:00Z"}) == [("ocurred_at", fe.UNKNOWN_FIELD)]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("event_id", "", fe.INVALID_VALUE),
        ("event_id", "x" * 129, fe.TOO_LARGE),
        ("event_id", 42, fe.WRONG_TYPE),
        ("source", "twitter", fe.INVALID_VALUE),
        ("source", None, fe.WRONG_TYPE),
        ("occurred_at", "yesterday", fe.BAD_TIMESTAMP),
        ("occurred_at", "2025-03-01T14:30:00", fe.BAD_TIMESTAMP),  # no offset
        ("occurred_at", "2025-03-01", fe.BAD_TIMESTAMP),  # date only
        ("occurred_at", "2025-02-30T10:00:00Z", fe.BAD_TIMESTAMP),  # no such day
        ("occurred_at", "1066-10-14T10:00:00Z", fe.BAD_TIMESTAMP),  # outside storage range
        ("occurred_at", 1740000000, fe.WRONG_TYPE),
        ("received_at", "soon", fe.BAD_TIMESTAMP),
        ("organisation", ["QHM"], fe.WRONG_TYPE),
        ("provider", 7, fe.WRONG_TYPE),
        ("site", {}, fe.WRONG_TYPE),
        ("ward", 7, fe.WRONG_TYPE),
        ("text", "x" * 100_001, fe.TEXT_TOO_LONG),
        ("text", None, fe.WRONG_TYPE),
        ("category_codes", "ko41a:x", fe.WRONG_TYPE),
        ("severity", "catastrophic", fe.INVALID_VALUE),
        ("rating", 0, fe.INVALID_VALUE),
        ("rating", 7, fe.INVALID_VALUE),
        ("rating", 2.5, fe.WRONG_TYPE),
        ("rating", True, fe.WRONG_TYPE),
        ("rating", "2", fe.WRONG_TYPE),
        ("reporter", "robot", fe.INVALID_VALUE),
        ("attributes", ["a"], fe.WRONG_TYPE),
    ],
)
def test_each_field_rule_rejects_with_path_and_reason(field: str, value: object, reason: str) -> None:
    assert codes({**VALID, field: value}) == [(field, reason)]


def test_text_at_the_limit_is_accepted() -> None:
    assert fe.validate({**VALID, "text": "x" * 100_000}) == []


# --- every field is bounded (docs/redaction.md, "Bounds") -------------------------------------

_LONGEST = {"organisation": 64, "provider": 64, "site": 200, "ward": 200}


@pytest.mark.parametrize(("field", "limit"), sorted(_LONGEST.items()))
def test_every_free_string_field_is_bounded(field: str, limit: int) -> None:
    assert fe.validate({**VALID, field: "x" * limit}) == []
    assert codes({**VALID, field: "x" * (limit + 1)}) == [(field, fe.TOO_LARGE)]
    assert codes({**VALID, field: "x" * 1_000_000}) == [(field, fe.TOO_LARGE)]


def test_category_codes_are_bounded_in_count_and_length() -> None:
    assert fe.validate({**VALID, "category_codes": ["c" * 100] * 50}) == []
    assert codes({**VALID, "category_codes": ["c"] * 51}) == [("category_codes", fe.TOO_LARGE)]
    assert codes({**VALID, "category_codes": ["ok", "c" * 101]}) == [("category_codes[1]", fe.TOO_LARGE)]
    # a huge list is one problem, not one per item
    assert codes({**VALID, "category_codes": [1] * 100_000}) == [("category_codes", fe.TOO_LARGE)]


def test_attributes_are_bounded_in_keys_key_length_and_value_length() -> None:
    at_limits = {f"k{i:02d}" + "k" * 61: "v" * 2_000 for i in range(32)}
    assert fe.validate({**VALID, "attributes": at_limits}) == []
    too_many = {f"k{i}": "v" for i in range(33)}
    assert codes({**VALID, "attributes": too_many}) == [("attributes", fe.TOO_LARGE)]
    assert codes({**VALID, "attributes": {"k" * 65: "v"}}) == [("attributes." + "k" * 40 + "…", fe.TOO_LARGE)]
    assert codes({**VALID, "attributes": {"k": "v" * 2_001}}) == [("attributes.k", fe.TOO_LARGE)]


def test_too_large_is_its_own_reason_after_text_too_long() -> None:
    assert fe.REASON_CODES.index(fe.TEXT_TOO_LONG) < fe.REASON_CODES.index(fe.TOO_LARGE)
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event({**VALID, "ward": "w" * 201, "text": "t" * 100_001}, received=NOW)
    assert caught.value.reason_code == fe.TEXT_TOO_LONG
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event({**VALID, "ward": "w" * 201, "rating": 9}, received=NOW)
    assert caught.value.reason_code == fe.TOO_LARGE


def test_a_flood_of_problems_keeps_the_message_short_and_the_list_complete() -> None:
    flood = {**VALID, **{"u" * 1_000 + str(i): 1 for i in range(10_000)}}
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event(flood, received=NOW)
    assert len(caught.value.problems) == 10_000, "the HTTP API still lists every problem"
    assert len(str(caught.value)) < 5_000, "a dead letter's error stays a summary"
    assert str(caught.value).endswith("and 9,980 more")
    assert all(len(p.path) <= 65 for p in caught.value.problems)


def test_nested_problems_carry_their_full_path() -> None:
    candidate = {**VALID, "category_codes": ["ok", 3, None], "attributes": {"a": "b", "n": 1}}
    assert codes(candidate) == [
        ("attributes.n", fe.WRONG_TYPE),
        ("category_codes[1]", fe.WRONG_TYPE),
        ("category_codes[2]", fe.WRONG_TYPE),
    ]


def test_every_problem_is_reported_not_only_the_first() -> None:
    candidate = {"source": "nope", "occurred_at": "never", "rating": 9, "extra": 1}
    assert codes(candidate) == [
        ("event_id", fe.MISSING_FIELD),
        ("extra", fe.UNKNOWN_FIELD),
        ("occurred_at", fe.BAD_TIMESTAMP),
        ("rating", fe.INVALID_VALUE),
        ("source", fe.INVALID_VALUE),
        ("text", fe.MISSING_FIELD),
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe not utf8", fe.NOT_UTF8),
        (b"{not json", fe.NOT_JSON),
        (b"", fe.NOT_JSON),
        (b"[1, 2]", fe.NOT_OBJECT),
        (b'"a string"', fe.NOT_OBJECT),
        (b"null", fe.NOT_OBJECT),
    ],
)
def test_bytes_that_are_not_an_event_object_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event(raw, received=NOW)
    assert caught.value.reason_code == reason


def test_dead_letter_reason_is_the_most_fundamental_problem() -> None:
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event({"source": "x", "bogus": 1}, received=NOW)
    assert caught.value.reason_code == fe.UNKNOWN_FIELD
    assert "event_id: is required" in str(caught.value)


def test_parse_normalises_timestamps_to_utc_z_and_defaults_received_at() -> None:
    event = fe.parse_event(orjson.dumps(VALID), received=NOW)
    assert event["occurred_at"] == "2025-03-01T13:30:00.000Z"
    assert event["received_at"] == "2025-03-05T12:00:00.000Z"
    assert fe.event_time(event) == datetime(2025, 3, 1, 13, 30, tzinfo=UTC)


def test_parse_keeps_a_source_received_at_and_makes_rating_an_int() -> None:
    event = fe.parse_event({**FULL, "rating": 4.0}, received=NOW)
    assert event["received_at"] == "2025-03-02T09:00:00.000Z"
    assert event["rating"] == 4 and isinstance(event["rating"], int)


def test_far_future_event_time_is_refused_when_asked() -> None:
    future = {**VALID, "occurred_at": (NOW + timedelta(days=2)).isoformat()}
    with pytest.raises(fe.InvalidEvent) as caught:
        fe.parse_event(future, received=NOW, max_future=timedelta(days=1))
    assert caught.value.reason_code == fe.BAD_TIMESTAMP
    assert fe.parse_event(future, received=NOW)["event_id"] == VALID["event_id"]


# --- agreement with the published JSON Schema ------------------------------------------------

_reference = jsonschema.Draft202012Validator(fe.SCHEMA, format_checker=jsonschema.FormatChecker())

_VARIANTS: dict[str, list[object]] = {
    "event_id": ["a", "", "x" * 128, "x" * 129, 5],
    "source": ["fft", "pals", "nope", 1],
    "occurred_at": ["2025-01-01T00:00:00Z", "2025-01-01T00:00:00+05:30", "nope", 3],
    "rating": [1, 6, 0, 7, 3.0, 2.5, "3", False],
    "category_codes": [[], ["a"], ["a", 1], "a"],
    "attributes": [
        {},
        {"k": "v"},
        {"k": 1},
        [],
        {"k": "v" * 2_000},
        {"k": "v" * 2_001},
        {"k" * 64: "v"},
        {"k" * 65: "v"},
        {f"k{i}": "v" for i in range(32)},
        {f"k{i}": "v" for i in range(33)},
    ],
    "ward": ["Ward 7", "w" * 200, "w" * 201, 7],
    "site": ["RTD01", "s" * 200, "s" * 201],
    "provider": ["RTD", "p" * 64, "p" * 65],
    "organisation": ["QHM", "o" * 64, "o" * 65],
    "category_codes_bounds": [["c" * 100] * 50, ["c"] * 51, ["c" * 101]],
    "severity": ["death", "fatal"],
    "reporter": ["mp", "alien"],
}


def _corpus() -> list[dict[str, object]]:
    cases: list[dict[str, object]] = [dict(FULL), {**VALID, "junk": 1}]
    for field, values in _VARIANTS.items():
        name = field.removesuffix("_bounds")
        cases.extend({**FULL, name: value} for value in values)
    for (f1, v1s), (f2, v2s) in itertools.combinations(list(_VARIANTS.items())[:4], 2):
        cases.extend({**VALID, f1: v1, f2: v2} for v1 in v1s for v2 in v2s)
    return cases


@pytest.mark.parametrize("candidate", _corpus())
def test_validator_agrees_with_the_published_json_schema(candidate: dict[str, object]) -> None:
    ours = {p.path for p in fe.validate(candidate)}
    theirs = {
        ".".join(str(part) for part in e.absolute_path) or next(iter(e.message.split("'")[1:2]), "")
        for e in _reference.iter_errors(candidate)
    }
    # Timestamps: the reference "date-time" format check is laxer than our range check only
    # for dates outside 1900-2299, which this corpus does not use; so valid-ness must agree.
    assert bool(ours) == bool(theirs), (ours, theirs)


def test_published_schema_is_itself_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(fe.SCHEMA)
    tagged = json.loads((fe.resources.files("schemas") / "tagged_event.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(tagged)
    assert tagged["properties"]["domains"]["items"]["enum"] == list(DOMAIN_IDS)


# --- dead letters ----------------------------------------------------------------------------


def test_dead_letter_keeps_utf8_text_and_base64_for_other_bytes() -> None:
    text = dl.dead_letter(b'{"a":', error="e", reason_code="not_json", topic="t", partition=1, offset=9)
    assert (text["raw"], text["raw_encoding"], text["offset"]) == ('{"a":', "utf-8", 9)
    binary = dl.dead_letter(b"\xff\x00", error="e", reason_code="not_utf8", topic="t", partition=0, offset=0)
    assert binary["raw_encoding"] == "base64"
    assert base64.b64decode(binary["raw"]) == b"\xff\x00" == dl.original_bytes(binary)


def test_dead_letter_truncates_at_64_kib_without_breaking_utf8() -> None:
    raw = ("é" * 40_000).encode("utf-8")  # 80,000 bytes of two-byte characters
    record = dl.dead_letter(raw, error="e", reason_code="text_too_long", topic="t", partition=0, offset=0)
    assert record["raw_encoding"] == "utf-8"
    assert len(record["raw"].encode("utf-8")) <= dl.MAX_RAW_BYTES
    assert raw.startswith(record["raw"].encode("utf-8"))
