"""After a partition's watermark moves: resolve its open episodes that have no live window over
the limit (docs/contracts.md, hotspot episodes; streams/hotspots/engine.py has the whole design).

Also the one way an already-applied key is stored again on a replay, shared with the engine's
per-event path.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson

from schemas.alert import RESOLVED
from streams.hotspots.buckets import BUCKETS, EPISODE, MARKER, int_buckets
from streams.hotspots.episodes import alert
from streams.hotspots.rules import RuleSet
from streams.hotspots.threshold import any_live_over
from streams.hotspots.watermarks import PartitionMeta


def rewrite_on_replay(state: MutableMapping[str, Any], key: str, value: Any, meta: PartitionMeta) -> None:
    """Store an already-applied key again, unchanged: RocksDB may hold a write the changelog never
    got (a kill -9 before the flush), and the replayed input's commit would leave it behind for
    good. Only happens on replays."""
    state[key] = value
    meta.dirty = True


def sweep(
    rules: RuleSet,
    state: MutableMapping[str, Any],
    meta: PartitionMeta,
    position: int,
    watermark: int,
    now: float,
) -> list[dict[str, Any]]:
    """The resolutions due now that the watermark is ``watermark`` (set by the input at ``position``)."""
    alerts: list[dict[str, Any]] = []
    for key, rule_id in sorted(meta.open.items()):
        rule = rules.by_id.get(rule_id)
        value = state.get(key)
        if rule is None or value is None:
            # The rule was removed from the file (or the key is gone): nothing to resolve.
            del meta.open[key]
            meta.dirty = True
            continue
        if position <= value[MARKER]:
            rewrite_on_replay(state, key, value, meta)
            meta.sync_open(key, rule.id, value.get(EPISODE) is not None)
            continue
        episode = value[EPISODE]
        if episode is None:
            meta.sync_open(key, rule.id, value.get(EPISODE) is not None)
            continue
        buckets = int_buckets(value[BUCKETS])
        if any_live_over(rule, buckets, meta.origin, watermark):
            continue
        group = tuple(orjson.loads(key.split("|", 2)[2]))
        value[EPISODE] = None
        value[MARKER] = position
        state[key] = value
        meta.sync_open(key, rule.id, value.get(EPISODE) is not None)
        alerts.append(alert(rule, group, episode, RESOLVED, now))
    return alerts
