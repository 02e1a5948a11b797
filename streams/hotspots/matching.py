"""Which (rule, group) keys an event counts in: the rules' ``when`` filters and ``group_by``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from streams.hotspots.rules import Rule


def event_domains(event: Mapping[str, Any]) -> list[str]:
    """The event's domains, strings only, each once, in order."""
    return list(dict.fromkeys(d for d in event.get("domains") or () if isinstance(d, str)))


class RuleMatcher:
    """One rule's ``when`` filters and ``group_by`` fields, sorted out once instead of per event."""

    __slots__ = (
        "domain_filters",
        "domain_slot",
        "field_filters",
        "group_fields",
        "group_of",
        "needs_domains",
    )

    def __init__(self, rule: Rule) -> None:
        self.domain_filters = tuple(allowed for name, allowed in rule.when if name == "domain")
        self.field_filters = tuple((name, allowed) for name, allowed in rule.when if name != "domain")
        self.group_fields = tuple(rule.group_by)
        self.domain_slot = self.group_fields.index("domain") if "domain" in self.group_fields else -1
        self.needs_domains = bool(self.domain_filters) or self.domain_slot >= 0
        # The group of a rule without domains, read in one C call (a tuple even for one field).
        fields = self.group_fields
        self.group_of = itemgetter(*fields) if len(fields) > 1 else lambda event: (event[fields[0]],)

    def groups(self, event: Mapping[str, Any], domains: list[str] | None) -> Sequence[tuple[str, ...]]:
        """The group tuples ``event`` counts in (see :func:`matching_groups`)."""
        for name, allowed in self.field_filters:
            if event.get(name) not in allowed:
                return ()
        if self.needs_domains:
            if domains is None:
                domains = event_domains(event)
            for allowed in self.domain_filters:
                domains = [d for d in domains if d in allowed]
                if not domains:
                    return ()
        if not self.needs_domains:  # the usual rule: the group is the event's own fields
            try:
                group = self.group_of(event)
            except KeyError:
                return ()
            for value in group:
                if not isinstance(value, str) or not value:
                    return ()
            return (group,)
        fixed: list[str] = []
        slot = self.domain_slot
        for name in self.group_fields:
            if name == "domain":
                fixed.append("")
                continue
            value = event.get(name)
            if not isinstance(value, str) or not value:
                return ()
            fixed.append(value)
        if slot < 0:
            return (tuple(fixed),)
        assert domains is not None
        groups = []
        for domain in domains:
            fixed[slot] = domain
            groups.append(tuple(fixed))
        return groups


def matching_groups(
    rule: Rule, event: Mapping[str, Any], domains: list[str] | None = None
) -> Sequence[tuple[str, ...]]:
    """The group tuples an event counts in for a rule (none when it does not match).

    An event with two domains counts once in each domain group; an event with no domain
    matches no domain-grouped rule; an event missing a group_by field cannot be attributed
    and is not counted for that rule. ``domains`` is :func:`event_domains` of the event, when
    the caller has it already.
    """
    return RuleMatcher(rule).groups(event, domains)
