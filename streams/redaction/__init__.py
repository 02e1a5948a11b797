"""Personal-data redaction: the first thing that touches feedback text.

Everything downstream (tagger, ClickHouse, dashboards, alerts) sees only the redacted text, so
this package is the privacy control of the pipeline. Public face: ``redact(text) -> Redaction``.
"""

from __future__ import annotations

from streams.redaction.redactor import MARKERS, Redaction, redact

__all__ = ["MARKERS", "Redaction", "redact"]
