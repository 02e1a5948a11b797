"""The validate → redact → tag step: every input becomes exactly one outcome, tagged output meets
TaggedEvent v1, bad input and failures inside the redactor or tagger become dead letters."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest

from schemas import feedback_event as fe
from schemas.dead_letter import original_bytes
from streams.pipeline import INVALID_SOURCE, PROCESSING_ERROR, Pipeline, RawRecord

NOW = datetime(2025, 3, 5, 12, 0, tzinfo=UTC)
TAGGED_SCHEMA = json.loads(resources.files("schemas").joinpath("tagged_event.v1.json").read_text())
TAGGED_VALIDATOR = jsonschema.Draft202012Validator(
    TAGGED_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
VALID = {
    "event_id": "cmp-1",
    "source": "complaint",
    "occurred_at": "2025-03-01T14:30:00+01:00",
    "provider": "RTD",
    "ward": "Ward 7",
    "text": "Call me on 07700 900123, I waited six hours with chest pain.",
}


# -- stand-ins with the tagger helper's API (streams.redaction / streams.tagging) -------------------


@dataclass
class StandInRedaction:
    text: str
    counts: dict[str, int]


def standin_redact(text: str) -> StandInRedaction:
    redacted, phones = re.subn(r"\b07\d{3} ?\d{6}\b", "[PHONE]", text)
    return StandInRedaction(redacted, {"phone": phones, "email": 0})


@dataclass
class StandInTags:
    domains: list[str]
    sentiment: float = -0.5
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "domains": self.domains,
            "domain_scores": {d: 0.8 for d in self.domains},
            "themes": ["waiting"] if self.domains else [],
            "sentiment": self.sentiment,
            "evidence": [{"domain": d, "phrase": "waited"} for d in self.domains],
            **self.extra,
        }


class StandInTagger:
    def __init__(self, *, explode_on: str | None = None, short_batch: bool = False) -> None:
        self.explode_on = explode_on
        self.short_batch = short_batch
        self.seen: list[str] = []

    def tag(self, text: str, source: str, category_codes: Any) -> StandInTags:
        self.seen.append(text)
        if self.explode_on and self.explode_on in text:
            raise ZeroDivisionError("tagger bug")
        return StandInTags(["access_and_waiting"] if "waited" in text else [], extra={"internal": 1})

    def tag_many(self, items: list[tuple[str, str, Any]]) -> list[StandInTags]:
        tags = [self.tag(*item) for item in items]
        return tags[:-1] if self.short_batch else tags


def pipeline(**options: Any) -> Pipeline:
    return Pipeline(
        redact=options.pop("redact", standin_redact),
        tagger=options.pop("tagger", StandInTagger()),
        tagger_version="standin-1",
        clock=lambda: NOW,
        **options,
    )


def record(value: Any, offset: int = 0, key: bytes | None = b"RTD") -> RawRecord:
    raw = value if isinstance(value, bytes | None) else orjson.dumps(value)
    return RawRecord(raw, key=key, topic="feedback.raw", partition=2, offset=offset)


# -- tests ------------------------------------------------------------------------------------------


def test_valid_event_comes_out_redacted_tagged_and_keyed_by_provider() -> None:
    tagger = StandInTagger()
    result = pipeline(tagger=tagger).process([record(VALID)])

    assert result.dead == []
    (out,) = result.tagged
    TAGGED_VALIDATOR.validate(out.event)
    assert orjson.loads(out.value) == out.event
    assert out.key == b"RTD"
    assert "07700" not in out.value.decode()
    assert out.event["text"].startswith("Call me on [PHONE]")
    assert tagger.seen == [out.event["text"]], "the tagger must only ever see redacted text"
    assert out.event["redactions"] == {"phone": 1}
    assert out.event["domains"] == ["access_and_waiting"]
    assert out.event["occurred_at"] == "2025-03-01T13:30:00.000Z"
    assert out.event["received_at"] == "2025-03-05T12:00:00.000Z"
    assert out.event["tagger_version"] == "standin-1"
    assert "internal" not in out.event, "only TaggedEvent v1 fields leave the pipeline"
    assert result.in_by_source == {"complaint": 1}
    assert result.redactions == {"phone": 1}


def test_full_event_keeps_every_field_and_redacts_attributes_too() -> None:
    full = {
        **VALID,
        "received_at": "2025-03-02T09:00:00Z",
        "organisation": "QHM",
        "site": "RTD01",
        "category_codes": ["ko41a:waiting_times"],
        "severity": "moderate",
        "rating": 4,
        "reporter": "carer",
        "attributes": {"channel": "letter", "callback": "07700 900456"},
    }
    (out,) = pipeline().process([record(full)]).tagged
    TAGGED_VALIDATOR.validate(out.event)
    assert out.event["attributes"] == {"channel": "letter", "callback": "[PHONE]"}
    assert out.event["redactions"] == {"phone": 2}
    for name in ("organisation", "site", "category_codes", "severity", "rating", "reporter"):
        assert out.event[name] == full[name]


def test_event_without_provider_is_keyed_empty() -> None:
    event = {k: v for k, v in VALID.items() if k != "provider"}
    (out,) = pipeline().process([record(event, key=None)]).tagged
    assert out.key == b""


MALFORMED = [
    (b"\xff\xfe\x00garbage", fe.NOT_UTF8),
    (b"{not json", fe.NOT_JSON),
    (b"", fe.NOT_JSON),
    (None, fe.NOT_JSON),
    (b"[1, 2, 3]", fe.NOT_OBJECT),
    (b'"a string"', fe.NOT_OBJECT),
    ({**VALID, "colour": "blue"}, fe.UNKNOWN_FIELD),
    ({k: v for k, v in VALID.items() if k != "text"}, fe.MISSING_FIELD),
    ({**VALID, "rating": "five"}, fe.WRONG_TYPE),
    ({**VALID, "occurred_at": "yesterday"}, fe.BAD_TIMESTAMP),
    ({**VALID, "occurred_at": "2025-03-01T14:30:00"}, fe.BAD_TIMESTAMP),
    ({**VALID, "occurred_at": "2025-03-09T00:00:00Z"}, fe.BAD_TIMESTAMP),  # days in the future
    ({**VALID, "text": "x" * 100_001}, fe.TEXT_TOO_LONG),
    ({**VALID, "source": "carrier_pigeon"}, fe.INVALID_VALUE),
    ({**VALID, "ward": "w" * 201}, fe.TOO_LARGE),
    ({**VALID, "site": "s" * 201}, fe.TOO_LARGE),
    ({**VALID, "provider": "p" * 65}, fe.TOO_LARGE),
    ({**VALID, "category_codes": ["ko41a:x"] * 51}, fe.TOO_LARGE),
    ({**VALID, "attributes": {f"k{i}": "v" for i in range(33)}}, fe.TOO_LARGE),
    ({**VALID, "attributes": {"k" * 65: "v"}}, fe.TOO_LARGE),
    ({**VALID, "attributes": {"title": "v" * 2_001}}, fe.TOO_LARGE),
]


@pytest.mark.parametrize(("value", "reason"), MALFORMED)
def test_malformed_input_becomes_a_dead_letter_with_reason_and_original_bytes(
    value: Any, reason: str
) -> None:
    rec = record(value, offset=41)
    result = pipeline().process([rec])

    assert result.tagged == []
    (dead,) = result.dead
    assert dead.letter["reason_code"] == reason
    assert dead.letter["error"]
    assert (dead.letter["topic"], dead.letter["partition"], dead.letter["offset"]) == ("feedback.raw", 2, 41)
    assert original_bytes(dead.letter) == (rec.value or b"")[: 64 * 1024], "truncated at 64 KiB"
    assert orjson.loads(dead.value) == dead.letter
    assert dead.record.key == b"RTD", "a dead letter keeps the original key"


def test_source_label_is_the_enum_value_or_invalid_never_free_text() -> None:
    records = [
        record({**VALID, "colour": "x"}),  # valid source, invalid event
        record({**VALID, "source": "Mrs Jones"}),
        record(b"nope"),
        record(VALID),
    ]
    result = pipeline().process(records)
    assert result.in_by_source == {"complaint": 2, INVALID_SOURCE: 2}
    assert sorted(d.source for d in result.dead) == ["complaint", INVALID_SOURCE, INVALID_SOURCE]


def test_tagger_failure_on_one_event_dead_letters_only_that_event() -> None:
    events = [{**VALID, "event_id": f"e{i}", "text": f"text {i} waited"} for i in range(5)]
    events[3]["text"] = "BOOM waited"
    result = pipeline(tagger=StandInTagger(explode_on="BOOM")).process(
        [record(e, offset=i) for i, e in enumerate(events)]
    )
    assert [o.event["event_id"] for o in result.tagged] == ["e0", "e1", "e2", "e4"]
    (dead,) = result.dead
    assert (dead.letter["reason_code"], dead.letter["offset"]) == (PROCESSING_ERROR, 3)
    assert "ZeroDivisionError" in dead.letter["error"]


def test_tag_many_returning_the_wrong_number_of_results_falls_back_to_one_by_one() -> None:
    events = [{**VALID, "event_id": f"e{i}"} for i in range(3)]
    result = pipeline(tagger=StandInTagger(short_batch=True)).process([record(e) for e in events])
    assert [o.event["event_id"] for o in result.tagged] == ["e0", "e1", "e2"]
    assert result.dead == []


def test_redactor_failure_dead_letters_the_event() -> None:
    def broken_redact(text: str) -> StandInRedaction:
        if "secret" in text:
            raise RuntimeError("regex exploded")
        return standin_redact(text)

    events = [{**VALID, "event_id": "ok"}, {**VALID, "event_id": "bad", "text": "secret"}]
    result = pipeline(redact=broken_redact).process([record(e, offset=i) for i, e in enumerate(events)])
    assert [o.event["event_id"] for o in result.tagged] == ["ok"]
    assert [(d.letter["reason_code"], d.letter["offset"]) for d in result.dead] == [(PROCESSING_ERROR, 1)]


def test_tagger_output_that_cannot_be_serialised_is_a_processing_error() -> None:
    class OddTagger(StandInTagger):
        def tag(self, text: str, source: str, category_codes: Any) -> StandInTags:
            return StandInTags([], extra={}, sentiment=object())  # type: ignore[arg-type]

    result = pipeline(tagger=OddTagger()).process([record(VALID)])
    assert result.tagged == []
    assert [d.letter["reason_code"] for d in result.dead] == [PROCESSING_ERROR]


def test_a_mixed_batch_yields_exactly_one_outcome_per_input() -> None:
    records = [record(value, offset=i) for i, (value, _) in enumerate(MALFORMED)]
    records += [record({**VALID, "event_id": f"ok{i}"}, offset=100 + i) for i in range(20)]
    result = pipeline().process(records)
    offsets = sorted([o.record.offset for o in result.tagged] + [d.letter["offset"] for d in result.dead])
    assert offsets == sorted(r.offset for r in records)
    assert len(result.tagged) == 20
    assert sum(result.in_by_source.values()) == len(records)


def test_real_redactor_and_tagger_output_meets_tagged_event_v1() -> None:
    real = Pipeline.default()
    text = (
        "Mr John Smith (NHS number 943 476 5919, phone 07700 900123, john@example.com, LS1 4AP) "
        "waited nine hours in A&E; the ward was dirty and nobody explained his medication."
    )
    result = real.process([record({**VALID, "text": text})])
    assert result.dead == []
    (out,) = result.tagged
    TAGGED_VALIDATOR.validate(out.event)
    for secret in ("943 476 5919", "07700 900123", "john@example.com", "LS1 4AP"):
        assert secret not in out.value.decode()
    assert out.event["redactions"]


# -- personal data outside `text` (docs/redaction.md, "Per field") -----------------------------------


def test_ward_site_codes_and_attribute_names_are_redacted_as_labels_and_counted() -> None:
    real = Pipeline.default()
    event = {
        **VALID,
        "text": "No personal data here, waited six hours.",
        "ward": "Mrs Smith's bay, Ward 7",
        "site": "Leeds LS1 4AB",
        "category_codes": ["ko41a:waiting_times", "callback 07700 900456"],
        "attributes": {
            "Dr Patel": "referrer",
            "contact": "jo.bloggs at nhs dot net",
            "title": "Sarah said hi",
        },
    }
    result = real.process([record(event)])
    assert result.dead == []
    (out,) = result.tagged
    TAGGED_VALIDATOR.validate(out.event)
    assert out.event["ward"] == "Mrs [NAME]'s bay, Ward 7"
    assert out.event["site"] == "Leeds [POSTCODE]"
    assert out.event["category_codes"] == ["ko41a:waiting_times", "callback [PHONE]"]
    assert out.event["attributes"] == {
        "Dr [NAME]": "referrer",
        "contact": "[EMAIL]",
        "title": "[NAME] said hi",
    }
    assert out.event["redactions"] == {"name": 3, "postcode": 1, "phone": 1, "email": 1}
    assert result.redactions == {"name": 3, "postcode": 1, "phone": 1, "email": 1}
    for secret in ("Smith", "LS1", "900456", "Patel", "bloggs", "Sarah"):
        assert secret not in out.value.decode()


@pytest.mark.parametrize(
    "ward",
    [
        "Victoria",
        "Elizabeth Ward",
        "Mary Seacole Ward",
        "Ward 7 Acute Medicine",
        "Bay 3 bed 12",
        "AMU1",
        "E11 2AB",
    ],
)
def test_wards_named_after_people_or_with_numbers_are_kept(ward: str) -> None:
    (out,) = Pipeline.default().process([record({**VALID, "ward": ward, "site": ward})]).tagged
    assert (out.event["ward"], out.event["site"]) == (ward, ward)


def test_the_tagger_only_sees_redacted_codes_and_the_label_redactor_is_used_for_labels() -> None:
    seen: list[str] = []

    def label_redact(text: str) -> StandInRedaction:
        seen.append(text)
        return StandInRedaction(text.replace("Smith", "[NAME]"), {"name": text.count("Smith")})

    tagger = StandInTagger()
    event = {
        **VALID,
        "ward": "Smith bay",
        "site": "RTD01",
        "category_codes": ["Smith"],
        "attributes": {"Smith": "x"},
    }
    (out,) = pipeline(tagger=tagger, redact_label=label_redact).process([record(event)]).tagged
    assert sorted(seen) == ["RTD01", "Smith", "Smith", "Smith bay"]
    assert out.event["ward"] == "[NAME] bay" and out.event["category_codes"] == ["[NAME]"]
    assert out.event["attributes"] == {"[NAME]": "x"}
    assert out.event["redactions"] == {"phone": 1, "name": 3}


def test_two_attribute_names_redacted_alike_keep_both_values() -> None:
    event = {**VALID, "attributes": {"Dr Patel": "a", "Dr Shah": "b", "Dr Khan": "c"}}
    (out,) = Pipeline.default().process([record(event)]).tagged
    assert out.event["attributes"] == {"Dr [NAME]": "a", "Dr [NAME] (2)": "b", "Dr [NAME] (3)": "c"}


def test_the_largest_expansion_of_a_maximal_event_still_meets_tagged_event_v1() -> None:
    # markers are longer than what they replace: "K123456 " (8) becomes "[HOSPITAL_NUMBER] " (18)
    event = {
        **VALID,
        "text": ("K123456 " * 12_500)[:100_000],
        "ward": ("K123456 " * 25)[:200],
        "site": ("M1 1AE " * 29)[:200],
        "category_codes": ["K123456 " * 12] * 50,
        "attributes": {f"Dr A{i:02d} " + "x" * 56: ("K123456 " * 250)[:2_000] for i in range(32)},
    }
    event["category_codes"] = [code[:100] for code in event["category_codes"]]
    result = Pipeline.default().process([record(event)])
    assert result.dead == []
    (out,) = result.tagged
    TAGGED_VALIDATOR.validate(out.event)
    assert len(out.event["text"]) > 200_000
