"""The dead-letter record (docs/contracts.md, "Dead letters").

Kept beside the event contract because the stream writes it and operators' tools read it:
the original bytes travel with the reason so a fixed input can be replayed as it was sent.
"""

from __future__ import annotations

import base64
from typing import Final, TypedDict

MAX_RAW_BYTES: Final = 64 * 1024


class DeadLetter(TypedDict):
    error: str
    reason_code: str
    topic: str
    partition: int
    offset: int
    raw: str
    raw_encoding: str  # "utf-8" or "base64"


def dead_letter(
    raw: bytes, *, error: str, reason_code: str, topic: str, partition: int, offset: int
) -> DeadLetter:
    """Build the DLQ value; `raw` is truncated at 64 KiB and base64-encoded when it is not UTF-8."""
    kept = bytes(raw[:MAX_RAW_BYTES])
    try:
        text, encoding = kept.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        # Truncation can split a multi-byte character: that is still UTF-8 text, minus a tail.
        if len(raw) > MAX_RAW_BYTES and exc.start >= MAX_RAW_BYTES - 3:
            text, encoding = kept[: exc.start].decode("utf-8"), "utf-8"
        else:
            text, encoding = base64.b64encode(kept).decode("ascii"), "base64"
    return DeadLetter(
        error=error,
        reason_code=reason_code,
        topic=topic,
        partition=partition,
        offset=offset,
        raw=text,
        raw_encoding=encoding,
    )


def original_bytes(record: DeadLetter) -> bytes:
    """The (possibly truncated) original input, for replay tools."""
    if record["raw_encoding"] == "base64":
        return base64.b64decode(record["raw"])
    return record["raw"].encode("utf-8")
