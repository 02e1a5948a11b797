"""The hotspot state as the engine sees it, and the alert transitions already published.

Both sit between the stored bytes and the engine: the engine reads and writes a plain mapping of
decoded values, and a replay after a crash must not publish an alert transition Kafka already has.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

from runtime.tail import read_to_end

log = logging.getLogger(__name__)


class TableState(MutableMapping[str, Any]):
    """A bytes → bytes table (a partition's store, streams/hotspots/changelog.py; Faust's table
    before) seen as str → JSON value, encoded with orjson: the changelog's bytes."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def __getitem__(self, key: str) -> Any:
        raw = self.table.get(key.encode())
        if raw is None:
            raise KeyError(key)
        return orjson.loads(raw)

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.table.get(key.encode())
        return default if raw is None else orjson.loads(raw)

    def __setitem__(self, key: str, value: Any) -> None:
        # Bucket maps are held with int keys in memory; JSON has only string keys (same bytes).
        self.table[key.encode()] = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)

    def __delitem__(self, key: str) -> None:
        del self.table[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in list(self.table.keys()))

    def __len__(self) -> int:
        return len(self.table)


class PublishedAlerts:
    """Alert transitions already on the alerts topic, so a replay does not send them again.

    A transition is (alert_id, status, organisations): an episode has one ``resolved`` and one
    ``firing`` per list of organisations it grew through (docs/tenancy.md), so one that is already
    on the topic never needs sending twice. After a crash, the inputs since the last commit are
    replayed; any alert they produced before the crash is on the topic (Kafka acknowledged it
    before the state recorded it) and is found here: the last ``tail_records`` of each partition
    are read once at start-up (by count, not time, so a long outage does not matter). Bounded: the
    oldest pairs are forgotten first.
    """

    def __init__(self, bootstrap: str, topic: str, tail_records: int = 20_000, limit: int = 200_000) -> None:
        self.bootstrap, self.topic, self.tail_records, self.limit = bootstrap, topic, tail_records, limit
        self._seen: dict[tuple[str, str, tuple[str, ...]], None] = {}
        self.suppressed = 0

    def __contains__(self, alert: Any) -> bool:
        return transition(alert) in self._seen

    def add(self, alert: Any) -> None:
        self._seen[transition(alert)] = None
        if len(self._seen) > self.limit:
            del self._seen[next(iter(self._seen))]

    async def load(self) -> None:
        async for records in read_to_end(self.bootstrap, self.topic, last=self.tail_records):
            for record in records:
                try:
                    self.add(orjson.loads(record.value))
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue
        log.info("%d alert transition(s) already on %s", len(self._seen), self.topic)


def transition(alert: Any) -> tuple[str, str, tuple[str, ...]]:
    return alert["alert_id"], alert["status"], tuple(alert.get("organisations") or ())
