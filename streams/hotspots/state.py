"""The engine's state as a transaction: writes held back until the input's effects are out.

The worker (streams/hotspots/agent.py) and the tests both hand the engine a :class:`StagedState`
over the stored table, deliver the alerts an input caused, and only then commit; see
streams/hotspots/engine.py, "Effects after state".
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_ABSENT = object()  # no staged write (a staged value may be None)


class StagedState(MutableMapping[str, Any]):
    """Reads through to ``base``; writes are held until :meth:`commit`.

    Lets the caller deliver an input's alerts before its state is stored: if the process dies in
    between, the input is replayed and the alert re-sent (same id) instead of lost.
    """

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self.staged: dict[str, Any] = {}
        self._deleted: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        value = self.staged.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        if key in self._deleted:
            raise KeyError(key)
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        # The engine reads its keys here once or twice per event: one lookup when staged.
        value = self.staged.get(key, _ABSENT)
        if value is not _ABSENT:
            return value
        if key in self._deleted:
            return default
        return self.base.get(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        if self._deleted:
            self._deleted.discard(key)
        self.staged[key] = value

    def __delitem__(self, key: str) -> None:
        self.staged.pop(key, None)
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
