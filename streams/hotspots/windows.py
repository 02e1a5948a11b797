"""Event-time window arithmetic on explicit buckets.

A rule's window of size S and step P is made of buckets of width P (tumbling: P = S). Windows
start at multiples of P (epoch-aligned, UTC), so the count of window [t, t + S) is the sum of the
S / P buckets that start at t, t + P, …. Keeping buckets rather than one counter per overlapping
window makes an event cost one increment however much the windows overlap, and lets a late
event land in the right place. All times are integer epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from schemas.feedback_event import format_timestamp
from streams.hotspots.rules import Window


def bucket_start(t: int, step_s: int) -> int:
    """Start of the bucket (of width ``step_s``) holding event time ``t``."""
    return t - t % step_s


def windows_containing(t: int, window: Window) -> Iterator[int]:
    """Starts of every window that contains time ``t``, oldest first."""
    first = bucket_start(t, window.step_s) - window.size_s + window.step_s
    return iter(range(first, bucket_start(t, window.step_s) + 1, window.step_s))


def window_end(start: int, window: Window) -> int:
    return start + window.size_s


def is_live(start: int, window: Window, watermark: int | None) -> bool:
    """A window is live while it contains the partition's watermark (docs/contracts.md, hotspot rules)."""
    return watermark is not None and start <= watermark < start + window.size_s


def window_count(buckets: Mapping[int, int], start: int, window: Window) -> int:
    """Count of window [start, start + size): the sum of its buckets."""
    return sum(buckets.get(start + k * window.step_s, 0) for k in range(window.buckets_per_window))


def counts_containing(buckets: Mapping[int, int], t: int, window: Window) -> list[tuple[int, int]]:
    """(start, count) of every window containing ``t``, oldest first, by one sliding sum.

    The hot path: O(size/step) instead of summing each overlapping window separately.
    """
    step, n = window.step_s, window.buckets_per_window
    first = t - t % step - (n - 1) * step
    get = buckets.get
    if n == 1:
        return [(first, get(first, 0))]
    values = [get(start, 0) for start in range(first, first + (2 * n - 1) * step, step)]
    total = sum(values[:n])
    out = [(first, total)]
    for k in range(1, n):
        total += values[k + n - 1] - values[k - 1]
        out.append((first + k * step, total))
    return out


def history_starts(start: int, window: Window, baseline: int) -> list[int]:
    """The SPC baseline of a window: the ``baseline`` non-overlapping windows just before it.

    For hopping windows the "previous windows" are taken a whole window size apart
    (start − S, start − 2S, …), not one step apart: overlapping windows share events, which
    would make the points correlated and the c-chart's Poisson limit meaningless.
    """
    return [start - k * window.size_s for k in range(1, baseline + 1)]


def epoch_seconds(value: str) -> int:
    """ISO 8601 with an offset (or ``Z``) → integer epoch seconds (floor).

    Every event's time is parsed, and nearly all are in the one output form
    (``YYYY-MM-DDTHH:MM:SS.mmmZ``, docs/contracts.md "Timestamps") within a few minutes of each
    other: such a string is read as its minute (looked up; worked out once per minute) plus its
    seconds. Anything else, or anything that form's checks refuse, is parsed in full by
    :func:`parse_iso_seconds`, so the answer and the errors are the same either way.
    """
    minute = _MINUTES.get(value[:17])
    if minute is not None:
        second = _SECONDS.get(value[17:19])
        if second is not None:
            rest = value[19:]
            if (
                rest == ".000Z"
                or rest == "Z"
                or (
                    len(rest) == 5
                    and rest[0] == "."
                    and rest[4] == "Z"
                    and rest[1:4].isdigit()
                    and rest[1:4].isascii()
                )
            ):
                return minute + second
    elif len(value) >= 20 and value[16] == ":":
        _learn_minute(value[:17])
    return parse_iso_seconds(value)


def parse_iso_seconds(value: str) -> int:
    """:func:`epoch_seconds` by the standard library, for every form ``datetime.fromisoformat`` takes."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() // 1)


# "YYYY-MM-DDTHH:MM:" → epoch seconds of that minute (UTC), for the strings whose every character
# was checked; bounded, since hostile input can name any number of minutes.
_MINUTES: dict[str, int] = {}
_MINUTES_KEPT = 4096
_SECONDS = {f"{second:02d}": second for second in range(60)}
_MINUTE_SHAPE = "dddd-dd-ddTdd:dd:"


def _learn_minute(prefix: str) -> None:
    """Remember ``prefix``'s minute when it has the exact shape and names a real minute."""
    for char, expected in zip(prefix, _MINUTE_SHAPE, strict=True):
        if expected == "d":
            if not ("0" <= char <= "9"):
                return
        elif char != expected:
            return
    try:
        moment = datetime(
            int(prefix[0:4]),
            int(prefix[5:7]),
            int(prefix[8:10]),
            int(prefix[11:13]),
            int(prefix[14:16]),
            tzinfo=UTC,
        )
    except ValueError:
        return  # no such minute: the full parse below says so
    if len(_MINUTES) >= _MINUTES_KEPT:
        _MINUTES.clear()
    _MINUTES[prefix] = int(moment.timestamp())


# Epoch seconds → the one output form of a timestamp (UTC, milliseconds, ``Z``): the hotspot
# modules' name for the events' own formatter, so alerts and events are written alike.
iso_z = format_timestamp
