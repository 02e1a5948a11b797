"""Personal-data redaction: the first thing that touches feedback text.

Everything downstream (tagger, ClickHouse, dashboards, alerts) sees only the redacted text, so
this package is the privacy control of the pipeline. Public face: ``redact(text) -> Redaction``
for free text and ``redact_label(text)`` for short labels such as ward and site names.
docs/redaction.md describes the kinds, markers, normalisation, per-field policy and limits.
"""

from __future__ import annotations

from streams.redaction.redactor import MARKERS, Redaction, redact, redact_label

__all__ = ["MARKERS", "Redaction", "redact", "redact_label"]
