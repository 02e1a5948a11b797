"""The engine's staged state (streams/hotspots/state.py): writes held until commit, deletes
hidden, and a value read twice from a serialising table decoded only once more, so that the
partition metadata is not decoded again for every event of a batch."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.hotspots.state import StagedState
from streams.hotspots.table_state import TableState


class CountingTable(dict[bytes, bytes]):
    """The worker's table as TableState sees it, counting reads."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads = 0

    def get(self, key: bytes, default: Any = None) -> Any:  # type: ignore[override]
        self.reads += 1
        return super().get(key, default)


def _table(**values: Any) -> tuple[CountingTable, TableState]:
    table = CountingTable({key.encode(): orjson.dumps(value) for key, value in values.items()})
    return table, TableState(table)


def test_a_key_read_again_is_the_same_object_and_read_from_the_table_twice_at_most() -> None:
    table, base = _table(meta={"w": [[2, 60]]})
    staged = StagedState(base)
    first, second = staged.get("meta"), staged.get("meta")
    assert first == second == {"w": [[2, 60]]} and first is not second  # a scan reads once: nothing kept
    assert all(staged.get("meta") is second for _ in range(5)) and staged["meta"] is second
    assert table.reads == 2


def test_writes_and_deletes_win_over_what_was_read_and_commit_forgets_it() -> None:
    table, base = _table(a=1, b=2)
    staged = StagedState(base)
    assert staged.get("a") == staged.get("a") == 1
    staged["a"] = 10
    assert staged.get("a") == 10 and base["a"] == 1
    assert staged.get("b") == staged.get("b") == 2
    del staged["b"]
    assert staged.get("b") is None and "b" not in staged
    with pytest.raises(KeyError):
        staged["b"]
    assert staged.get("none") is None and staged.get("none", 5) == 5
    with pytest.raises(KeyError):
        staged["none"]
    staged.commit()
    assert base["a"] == 10 and "b" not in base
    table[b"a"] = orjson.dumps(11)  # written after the commit: read afresh
    assert staged.get("a") == 11 and staged.get("a") == 11
