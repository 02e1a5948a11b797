"""Validate → redact → tag: the one function both the stream and `pxstream tag` run.

Pure and batch-shaped on purpose. The Faust agent hands it a batch of raw Kafka records and
produces what comes back; the CLI hands it lines of a file. Neither can drift from the other,
and the step is unit-tested without a broker.

Every input record leaves as exactly one outcome: a TaggedEvent or a dead letter with a reason
code. Nothing here raises for bad input or for a failure inside the redactor or tagger on one
event (`processing_error`), because one bad message must never stop a partition.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import orjson

from schemas.dead_letter import DeadLetter, dead_letter
from schemas.feedback_event import SCHEMA, FeedbackEvent, InvalidEvent, decode, parse_event
from schemas.tagged_event import TaggedEvent

log = logging.getLogger(__name__)

PROCESSING_ERROR: Final = "processing_error"
INVALID_SOURCE: Final = "invalid"  # metric label for inputs whose `source` is not in the enum
SOURCES: Final[frozenset[str]] = frozenset(SCHEMA["properties"]["source"]["enum"])
# An event dated further ahead than this is refused: one mistyped year would drag a partition's
# event-time watermark forward and make every honest event look late to the hotspot rules.
MAX_FUTURE: Final = timedelta(days=1)
# Labels a source chose that are stored, shown and used as alert labels: redacted like text,
# except that a common first name with no cue is a ward named after someone, not a person.
LABEL_FIELDS: Final = ("ward", "site")
# The tagger's output fields that TaggedEvent v1 carries; anything else it returns stays out.
_TAG_FIELDS: Final = ("domains", "domain_scores", "themes", "sentiment", "evidence")


class RedactionLike(Protocol):
    text: str
    counts: Mapping[str, int]


class TagsLike(Protocol):
    def as_dict(self) -> Mapping[str, Any]: ...


class TaggerLike(Protocol):
    def tag_many(self, items: Sequence[tuple[str, str, Sequence[str]]]) -> list[Any]: ...

    def tag(self, text: str, source: str, category_codes: Sequence[str]) -> Any: ...


Redactor = Callable[[str], RedactionLike]


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One input as it arrived: bytes plus where it came from (for the dead letter)."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class TaggedOutput:
    record: RawRecord
    key: bytes  # provider code: feedback.tagged is keyed by provider (docs/contracts.md, "Topics")
    event: TaggedEvent
    value: bytes


@dataclass(frozen=True, slots=True)
class DeadOutput:
    record: RawRecord
    letter: DeadLetter
    value: bytes
    source: str  # a metric label: an enum value or "invalid", never free text


@dataclass(slots=True)
class BatchResult:
    """What one batch became, plus the counts the metrics need (so the pipeline stays metric-free)."""

    tagged: list[TaggedOutput] = field(default_factory=list)
    dead: list[DeadOutput] = field(default_factory=list)
    in_by_source: Counter[str] = field(default_factory=Counter)
    redactions: Counter[str] = field(default_factory=Counter)
    tagging_seconds: float = 0.0
    processed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __len__(self) -> int:
        return len(self.tagged) + len(self.dead)


def source_label(candidate: Any) -> str:
    """The `source` of a decoded input if it is one of the closed enum, else "invalid"."""
    if isinstance(candidate, dict):
        source = candidate.get("source")
        if isinstance(source, str) and source in SOURCES:
            return source
    return INVALID_SOURCE


def _describe(exc: BaseException) -> str:
    # Exception text can quote input; keep it short so a dead letter's error stays a summary.
    message = str(exc)
    return f"{type(exc).__name__}: {message[:300]}" if message else type(exc).__name__


@dataclass(slots=True)
class _Validated:
    record: RawRecord
    event: FeedbackEvent  # with every free-text field already redacted
    source: str
    counts: Counter[str]


class Pipeline:
    """Validate, redact and tag batches of raw records; every record becomes exactly one outcome."""

    def __init__(
        self,
        *,
        redact: Redactor,
        tagger: TaggerLike,
        redact_label: Redactor | None = None,
        tagger_version: str,
        max_future: timedelta | None = MAX_FUTURE,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._redact = redact
        self._redact_label = redact_label or redact
        self._tagger = tagger
        self.tagger_version = tagger_version
        self._max_future = max_future
        self._clock = clock

    @classmethod
    def default(cls, **options: Any) -> Pipeline:
        """The production redactor and tagger (imported here: loading the tagger takes a moment)."""
        from streams.redaction import redact, redact_label
        from streams.tagging import TAGGER_VERSION, Tagger

        return cls(
            redact=redact,
            redact_label=redact_label,
            tagger=Tagger.default(),
            tagger_version=TAGGER_VERSION,
            **options,
        )

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        result = BatchResult(processed_at=self._clock())
        validated = [v for v in (self._validate(r, result) for r in records) if v is not None]
        self._tag(validated, result)
        return result

    # -- steps ---------------------------------------------------------------------------------

    def _dead(
        self, result: BatchResult, record: RawRecord, *, error: str, reason_code: str, source: str
    ) -> None:
        letter = dead_letter(
            record.value or b"",
            error=error,
            reason_code=reason_code,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )
        result.dead.append(DeadOutput(record, letter, orjson.dumps(letter), source))

    def _validate(self, record: RawRecord, result: BatchResult) -> _Validated | None:
        label = INVALID_SOURCE
        try:
            candidate = decode(record.value or b"")
            label = source_label(candidate)
            event = parse_event(candidate, received=result.processed_at, max_future=self._max_future)
        except InvalidEvent as exc:
            result.in_by_source[label] += 1
            self._dead(result, record, error=str(exc), reason_code=exc.reason_code, source=label)
            return None
        except Exception as exc:  # a validator bug must not stop the partition either
            result.in_by_source[label] += 1
            log.exception("validating %s[%d]@%d failed", record.topic, record.partition, record.offset)
            self._dead(result, record, error=_describe(exc), reason_code=PROCESSING_ERROR, source=label)
            return None
        result.in_by_source[label] += 1
        try:
            redacted, counts = self._redact_event(event)
        except Exception as exc:
            log.exception("redacting %s[%d]@%d failed", record.topic, record.partition, record.offset)
            self._dead(result, record, error=_describe(exc), reason_code=PROCESSING_ERROR, source=label)
            return None
        return _Validated(record, redacted, label, counts)

    def _redact_event(self, event: FeedbackEvent) -> tuple[FeedbackEvent, Counter[str]]:
        """The event with every free-text field redacted, and what was redacted, by kind.

        Per field (docs/redaction.md, "Per field"): `text` and attribute values are free text;
        `ward`, `site`, category codes and attribute names are labels a source chose, redacted
        with the label redactor (no cue-less first names: wards are named after people). They
        are redacted rather than refused, so the event still counts where it happened; the
        marker in the label shows the source what to fix. `organisation` and `provider` are
        codes that route and partition the event and are left as they are.
        """
        counts: Counter[str] = Counter()

        def apply(redactor: Redactor, value: str) -> str:
            redaction = redactor(value)
            counts.update({kind: n for kind, n in redaction.counts.items() if n})
            return redaction.text

        redacted: dict[str, Any] = dict(event)
        redacted["text"] = apply(self._redact, event["text"])
        for name in LABEL_FIELDS:
            if name in event:
                redacted[name] = apply(self._redact_label, event[name])  # type: ignore[literal-required]
        if "category_codes" in event:
            redacted["category_codes"] = [apply(self._redact_label, code) for code in event["category_codes"]]
        if "attributes" in event:
            attributes: dict[str, str] = {}
            for key, value in event["attributes"].items():
                name = base = apply(self._redact_label, key)
                copy = 2
                while name in attributes:  # two names redacted alike: keep both values
                    name, copy = f"{base} ({copy})", copy + 1
                attributes[name] = apply(self._redact, value)
            redacted["attributes"] = attributes
        return redacted, counts  # type: ignore[return-value]

    def _tag(self, batch: list[_Validated], result: BatchResult) -> None:
        if not batch:
            return
        items = [(v.event["text"], v.event["source"], v.event.get("category_codes", [])) for v in batch]
        started = time.perf_counter()
        try:
            tags: list[Any] = list(self._tagger.tag_many(items))
            if len(tags) != len(items):
                raise RuntimeError(f"tag_many returned {len(tags)} results for {len(items)} texts")
        except Exception:
            # Find the one event that breaks the tagger rather than failing the whole batch.
            log.exception("tag_many failed on a batch of %d; tagging one by one", len(items))
            tags = []
            for item in items:
                try:
                    tags.append(self._tagger.tag(*item))
                except Exception as exc:
                    tags.append(exc)
        result.tagging_seconds += time.perf_counter() - started
        for validated, tagged in zip(batch, tags, strict=True):
            try:
                if isinstance(tagged, BaseException):
                    raise tagged
                output = self._tagged_event(validated, tagged)
                value = orjson.dumps(output)
            except Exception as exc:
                record = validated.record
                log.warning(
                    "tagging %s[%d]@%d failed: %s",
                    record.topic,
                    record.partition,
                    record.offset,
                    type(exc).__name__,
                )
                self._dead(
                    result,
                    record,
                    error=_describe(exc),
                    reason_code=PROCESSING_ERROR,
                    source=validated.source,
                )
                continue
            key = str(output.get("provider") or "").encode("utf-8")
            result.tagged.append(TaggedOutput(validated.record, key, output, value))
            result.redactions.update(validated.counts)

    def _tagged_event(self, validated: _Validated, tags: TagsLike) -> TaggedEvent:
        found = tags.as_dict()
        output: dict[str, Any] = dict(validated.event)
        for name in _TAG_FIELDS:
            output[name] = found[name]
        output["redactions"] = dict(validated.counts)
        output["tagger_version"] = self.tagger_version
        return output  # type: ignore[return-value]
