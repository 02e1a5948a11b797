"""The engine's state as a transaction: writes held back until the input's effects are out.

The worker (streams/hotspots/agent.py) and the tests both hand the engine a :class:`StagedState`
over the stored table, deliver the alerts an input caused, and only then commit; see
streams/hotspots/engine.py, "Effects after state".
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_ABSENT = object()  # no such key (a stored value may be None)
_UNREAD, _ONCE = object(), object()  # what StagedState._read holds before a value is kept


class StagedState(MutableMapping[str, Any]):
    """Reads through to ``base``; writes are held until :meth:`commit`.

    Lets the caller deliver an input's alerts before its state is stored: if the process dies in
    between, the input is replayed and the alert re-sent (same id) instead of lost.

    A key read a second time is read from ``base`` once more and then kept (a scan reading every
    key once keeps nothing): nothing but this staged state writes the keys it reads while it is in
    use (a partition's engine is their only writer, and the caller stages one batch at a time),
    and a serialising table (the worker's) decodes a new object on every read. The partition's
    metadata, read by every event and written only when it changes, would otherwise be decoded
    again for each event of a batch, and the engine's cache of it
    (watermarks.MetaCache, which trusts only the very object it last saw) never hit.
    """

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.staged: dict[str, Any] = {}
        self._deleted: set[str] = set()
        self._read: dict[str, Any] = {}  # key → what base holds (_ABSENT: nothing), or _ONCE

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, _ABSENT)
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        # The engine reads its keys here once or twice per event: one lookup when staged.
        value = self.staged.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        if key in self._deleted:
            return default
        value = self._read.get(key, _UNREAD)
        if value is _UNREAD:  # kept only from a second read on: a scan of the chunks reads each once
            self._read[key] = _ONCE
            value = self.base.get(key, _ABSENT)
        elif value is _ONCE:
            value = self._read[key] = self.base.get(key, _ABSENT)
        return default if value is _ABSENT else value

    def __setitem__(self, key: str, value: Any) -> None:
        if self._deleted:
            self._deleted.discard(key)
        self.staged[key] = value

    def __delitem__(self, key: str) -> None:
        self.staged.pop(key, None)
        self._read.pop(key, None)
        self._deleted.add(key)

    def __iter__(self) -> Iterator[str]:
        seen = set(self.staged)
        yield from self.staged
        for key in self.base:
            if key not in seen and key not in self._deleted:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def commit(self) -> None:
        for key, value in self.staged.items():
            self.base[key] = value
        for key in self._deleted:
            if key in self.base:
                del self.base[key]
        self.staged.clear()
        self._deleted.clear()
        self._read.clear()
