"""The actions as the compacted `actions` topic says they are: read it to its end, latest per id.

The stage rebuilds its state with this before it consumes anything (so a replayed trigger or
command finds the action it already made), and the command line reads the same way: there is
no other copy of the truth to drift from.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

log = logging.getLogger(__name__)


async def read_actions(bootstrap: str, topic: str, *, batch_size: int = 5000) -> dict[str, dict[str, Any]]:
    """Every action's latest state (highest `version`) on `topic`, read from the start to its end."""
    from runtime.tail import read_to_end

    state: dict[str, dict[str, Any]] = {}
    async for records in read_to_end(bootstrap, topic, max_records=batch_size):
        for record in records:
            apply_record(state, record.value, record.offset)
    return state


def apply_record(state: dict[str, dict[str, Any]], value: bytes | None, offset: int = -1) -> None:
    """Fold one `actions` record in; an older version never replaces a newer one."""
    if value is None:
        return
    try:
        action = orjson.loads(value)
    except orjson.JSONDecodeError:
        log.error("skipping a record on the actions topic that is not JSON (offset %s)", offset)
        return
    if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
        log.error("skipping a record on the actions topic that is not Action v1 (offset %s)", offset)
        return
    previous = state.get(action["action_id"])
    if previous is None or int(action.get("version") or 0) >= int(previous.get("version") or 0):
        state[action["action_id"]] = action
