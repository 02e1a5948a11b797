"""Each event counted once: the (organisation, event_id) records of one partition.

The first input that counts an event records ``[position, event time]`` under its identity; a
later input with it counts nowhere (streams/hotspots/engine.py, "Each event once"). The records of
one batch are stored as one *chunk* key ``<partition>|#ids|<first>-<last>``: one changelog write per
batch, and a replay that batches differently writes new chunks beside the old. Chunks written before
identities carried the organisation (``<partition>|#seen|…``, keyed by bare event id) are still
read, and matched by id alone, until they expire. Rule ids are ``[a-z0-9-]+``, so no group key can
start with these prefixes.

The state is passed to each call rather than held: the worker swaps the engine's state for a
staged one per batch.
"""

from __future__ import annotations

import heapq
from collections.abc import MutableMapping
from operator import itemgetter
from typing import Any

from schemas.identity import event_identity
from streams.hotspots.watermarks import PartitionMeta, event_position

IDS_CHUNK = "#ids|"
_POSITION, _EVENT_TIME = itemgetter(0), itemgetter(1)  # of a record [position, event time]
LEGACY_CHUNK = "#seen|"


class SeenEvents:
    """The identity index of one partition, built from its chunks by one scan when first needed."""

    def __init__(self, partition: int) -> None:
        self._seen_prefix = f"{partition}|{IDS_CHUNK}"
        self._legacy_prefix = f"{partition}|{LEGACY_CHUNK}"  # chunks keyed by bare event_id (read only)
        # event identity → position that counted it (bare ids of legacy chunks apart), and (newest
        # event time, key) of each stored chunk: built by one scan of the state when first needed,
        # then kept up to date.
        self._seen: dict[str, int] | None = None
        self._legacy: dict[str, int] = {}
        self._chunks: list[tuple[int, str]] = []
        # Recorded since the last store_batch. Tuples: stored as the same JSON arrays, and a tuple of
        # ints leaves the garbage collector's lists at its first pass (a list would be traversed by
        # every collection for as long as the chunk is held: an hour of events in a plain dict).
        self._batch_seen: dict[str, tuple[int, int]] = {}
        self._expired_below: int | None = None

    def counted_before(
        self, state: MutableMapping[str, Any], organisation: str, event_id: str, position: int, t: int
    ) -> bool:
        """True when an earlier input counted this event; otherwise record this one as counting it.

        Recording again on a replay of the recording input puts it in this batch's chunk too,
        which the changelog may need (see HotspotEngine._rewrite_on_replay). An event without an
        id cannot be recognised and counts.
        """
        if not event_id:
            return False
        seen = self._seen if self._seen is not None else self._index(state)
        identity = event_identity(organisation, event_id)
        first = seen.get(identity)
        if first is None and self._legacy:
            first = self._legacy.get(event_id)
        if first is not None and first < position:
            return True
        seen[identity] = position
        self._batch_seen[identity] = (position, t)
        return False

    def store_batch(self, state: MutableMapping[str, Any]) -> None:
        """Store the records made since the last call as one chunk, named by its positions."""
        if self._batch_seen:
            records = self._batch_seen.values()
            key = f"{self._seen_prefix}{min(map(_POSITION, records))}-{max(map(_POSITION, records))}"
            state[key] = self._batch_seen
            heapq.heappush(self._chunks, (max(map(_EVENT_TIME, records)), key))
            self._batch_seen = {}

    def forget_older_than(self, state: MutableMapping[str, Any], threshold: int) -> int:
        """Delete the chunks whose every event is older than ``threshold``; returns ids forgotten."""
        if self._expired_below is not None and threshold <= self._expired_below:
            return 0
        seen = self._index(state)
        forgotten = 0
        while self._chunks and self._chunks[0][0] < threshold:
            _, key = heapq.heappop(self._chunks)
            chunk = state.get(key)
            if chunk is None:
                continue  # forgotten already
            del state[key]
            index = self._legacy if key.startswith(self._legacy_prefix) else seen
            for identity, (position, _) in chunk.items():
                # Another chunk may hold the same record (a replay batched differently); its
                # event is as old, so whichever goes first, a duplicate is too late anyway.
                if index.get(identity) == position:
                    del index[identity]
                    forgotten += 1
        self._expired_below = threshold
        return forgotten

    def expire_at_commit(
        self,
        state: MutableMapping[str, Any],
        meta: PartitionMeta,
        committed_offset: int | None,
        lateness_s: int,
    ) -> int:
        """Forget the ids no duplicate could count any more; returns how many were forgotten.

        ``committed_offset`` is the partition's committed consumer offset (the next to read): a
        crash replays from there, and each replayed event is judged against a watermark no lower
        than the one in force at that offset. An event older than that watermark less the longest
        allowed lateness is too late for every rule wherever it arrives again, so its id has done
        its job. Forgetting by the current watermark instead would let a replayed duplicate from
        before the watermark moved find its id gone and count. Cheap when nothing is due.
        """
        if committed_offset is None or committed_offset <= 0:
            return 0
        watermark, exact = meta.watermark_before(event_position(committed_offset))
        if watermark is None or not exact:
            return 0  # the commit point is older than the remembered history: wait
        return self.forget_older_than(state, watermark - lateness_s)

    def count(self, state: MutableMapping[str, Any]) -> int:
        """Event identities this partition currently remembers."""
        return len(self._index(state)) + len(self._legacy)

    def _index(self, state: MutableMapping[str, Any]) -> dict[str, int]:
        """The id index, from one scan of the state per engine (i.e. per assignment)."""
        if self._seen is None:
            seen: dict[str, int] = {}
            for key in list(state):
                if key.startswith(self._seen_prefix):
                    index = seen
                elif key.startswith(self._legacy_prefix):
                    index = self._legacy
                else:
                    continue
                chunk = state.get(key) or {}
                for identity, (position, _) in chunk.items():
                    if identity not in index or position < index[identity]:
                        index[identity] = position
                if chunk:
                    self._chunks.append((max(t for _, t in chunk.values()), key))
            heapq.heapify(self._chunks)
            self._seen = seen
        return self._seen
