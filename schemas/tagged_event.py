"""TaggedEvent v1: a FeedbackEvent with redacted text plus what the tagger found.

See docs/contracts.md, "TaggedEvent v1".
"""

from __future__ import annotations

from typing import Final, TypedDict

from schemas.feedback_event import FeedbackEvent

TAGGED_SCHEMA_VERSION: Final = 1


class Evidence(TypedDict):
    domain: str
    phrase: str


class TaggedEvent(FeedbackEvent):
    domains: list[str]
    domain_scores: dict[str, float]
    themes: list[str]
    sentiment: float
    evidence: list[Evidence]
    redactions: dict[str, int]
    tagger_version: str
