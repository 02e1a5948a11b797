"""Reading one field of the hotspot rules file: durations, bounded integers, unknown keys.

Each refusal is one ConfigError line naming the file, the rule and the field, with the value
shortened (docs/operations-errors.md); streams/hotspots/rules.py builds the rules from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from schemas.errors import ConfigError

_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: Any) -> int | None:
    """``'24h'`` → 86400; None when it is not a positive duration with a unit."""
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class FieldPath:
    """Builds error messages that name the file, the rule and the field."""

    def __init__(self, source: str, rule_id: str | None = None, index: int | None = None) -> None:
        self.source, self.rule_id, self.index = source, rule_id, index

    def error(self, field_path: str, message: str) -> ConfigError:
        if self.rule_id is not None:
            who = f"rule '{self.rule_id}'"
        elif self.index is not None:
            who = f"rule #{self.index + 1}"
        else:
            who = "top level"
        where = f"{who}: {field_path}" if field_path else who
        return ConfigError(f"{self.source}: {where}: {message}")


def duration_field(where: FieldPath, field_path: str, value: Any, maximum_s: int) -> int:
    """A duration of at most ``maximum_s`` seconds, or the error naming the field."""
    seconds = parse_duration(value)
    if seconds is None:
        raise where.error(field_path, f"{shown(value)} is not a duration (use s, m, h, d, e.g. '24h')")
    if seconds > maximum_s:
        raise where.error(field_path, f"{value!r} is longer than the limit {as_duration(maximum_s)}")
    return seconds


def int_field(where: FieldPath, field_path: str, value: Any, minimum: int = 1, maximum: int = 10**9) -> int:
    """An integer in [minimum, maximum] (a bool is not one), or the error naming the field."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(field_path, f"{shown(value)} is not an integer >= {minimum}")
    if value > maximum:
        raise where.error(field_path, f"{value:,} is more than the limit {maximum:,}")
    return value


def shown(value: Any) -> str:
    """A value for an error line: never a whole pasted document."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_duration(seconds: int) -> str:
    """Seconds in the largest whole unit, as a rules file would write them."""
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def refuse_unknown_keys(
    where: FieldPath, prefix: str, mapping: Mapping[str, Any], allowed: frozenset[str]
) -> None:
    """Refuse the first key not in ``allowed``: a typo never silently turns a rule off."""
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        raise where.error(f"{prefix}{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})")
