"""Alert v1 records (docs/contracts.md, "Alert v1") and their deterministic ids.

``alert_id`` is derived from the rule, the group and the episode's start (the start of the
first window that crossed), never from wall-clock time or a counter. A replay after a crash
therefore rebuilds the same id, and every consumer (ClickHouse, Alertmanager, people's inboxes)
can collapse duplicates on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from schemas.alert import FIRING, MAX_SAMPLE_EVENT_IDS, RESOLVED
from streams.hotspots.windows import iso_z


def alert_id(rule_id: str, group: Mapping[str, str], episode_start: int) -> str:
    """Stable id for one episode: same rule, same group, same first crossing window → same id."""
    canonical = orjson.dumps(
        [rule_id, sorted(group.items()), int(episode_start)], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()[:32]


def build_alert(
    *,
    rule_id: str,
    status: str,
    group: Mapping[str, str],
    window_start: int,
    window_end: int,
    count: int,
    threshold: float,
    severity: str,
    description: str,
    fired_at: float,
    resolved_at: float | None,
    sample_event_ids: Sequence[str],
    organisations: Iterable[str] = (),
) -> dict[str, Any]:
    """One Alert v1 record with exactly the contract's fields, timestamps as ISO 8601 UTC ``Z``.

    ``organisations``: every organisation whose events counted toward the episode, sorted, each
    once, whatever the rule groups by (docs/tenancy.md). It is not part of ``alert_id``: the list
    can grow while the episode fires, the episode stays the same.
    """
    if status not in (FIRING, RESOLVED):
        raise ValueError(f"alert status {status!r} is not firing/resolved")
    limit: float | int = int(threshold) if float(threshold).is_integer() else round(float(threshold), 3)
    return {
        "alert_id": alert_id(rule_id, group, window_start),
        "rule_id": rule_id,
        "status": status,
        "group": dict(group),
        "window_start": iso_z(window_start),
        "window_end": iso_z(window_end),
        "count": int(count),
        "threshold": limit,
        "severity": severity,
        "description": description,
        "fired_at": iso_z(fired_at),
        "resolved_at": iso_z(resolved_at) if resolved_at is not None else None,
        "sample_event_ids": list(sample_event_ids)[:MAX_SAMPLE_EVENT_IDS],
        "organisations": sorted(set(organisations)),
    }
