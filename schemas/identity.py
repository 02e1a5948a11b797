"""The identity of an event: (`organisation`, `event_id`) (docs/tenancy.md).

`event_id` is unique only per source system, and organisations run different source systems, so
two organisations may send the same id for two different events. Everything that recognises "the
same event again" - the hotspot stage's counted-once records, the connectors' replay filter, the
sink's duplicate check - keys by the pair, never by the id alone: otherwise one organisation's id
would silently hide another's event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson


def organisation_of(event: Mapping[str, Any]) -> str:
    """The event's organisation (the tenant), or '' when it has none."""
    organisation = event.get("organisation")
    return organisation if isinstance(organisation, str) else ""


def event_identity(organisation: str, event_id: str) -> str:
    """(organisation, event_id) as one string key, for maps and JSON state.

    A JSON array, so no organisation or id, whatever characters it holds, can make two different
    pairs spell the same key.
    """
    return orjson.dumps([organisation, event_id]).decode()


def identity_of(event: Mapping[str, Any]) -> str | None:
    """The event's identity key; None when it has no usable `event_id` (it cannot be recognised)."""
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return None
    return event_identity(organisation_of(event), event_id)
