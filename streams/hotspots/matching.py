"""Which (rule, group) keys an event counts in: the rules' ``when`` filters and ``group_by``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from streams.hotspots.rules import Rule


def event_domains(event: Mapping[str, Any]) -> list[str]:
    """The event's domains, strings only, each once, in order."""
    return list(dict.fromkeys(d for d in event.get("domains") or () if isinstance(d, str)))


def matching_groups(
    rule: Rule, event: Mapping[str, Any], domains: list[str] | None = None
) -> Sequence[tuple[str, ...]]:
    """The group tuples an event counts in for a rule (none when it does not match).

    An event with two domains counts once in each domain group; an event with no domain
    matches no domain-grouped rule; an event missing a group_by field cannot be attributed
    and is not counted for that rule. ``domains`` is :func:`event_domains` of the event, when
    the caller has it already.
    """
    if domains is None:
        domains = event_domains(event)
    for name, allowed in rule.when:
        if name == "domain":
            domains = [d for d in domains if d in allowed]
            if not domains:
                return ()
        elif event.get(name) not in allowed:
            return ()
    fixed: list[str | None] = []
    for name in rule.group_by:
        if name == "domain":
            fixed.append(None)
            continue
        value = event.get(name)
        if not isinstance(value, str) or not value:
            return ()
        fixed.append(value)
    if "domain" not in rule.group_by:
        return (tuple(fixed),)  # type: ignore[arg-type]
    return [tuple(d if v is None else v for v in fixed) for d in domains]
