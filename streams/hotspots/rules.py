"""Hotspot rules: load the YAML file named by ``PXSTREAM_RULES`` into frozen dataclasses.

The file is configuration written by people, so it is checked completely on load and every
refusal names the file, the rule id and the field (CONTRACTS.md, "Hotspot rules"). Unknown keys
are refused so that a typo (``treshold``) never silently turns a rule off.

Extensions to the contract, all optional:

- ``allowed_lateness`` (top level and per rule, default ``1h``): how far behind the partition's
  watermark an event may be and still be counted.
- ``spc.min_history`` (default ``min(baseline, 12)``, the NHS "Making Data Count" default baseline
  length): an SPC rule does not fire before this many previous windows have been observed, because a
  control limit drawn from two points means nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from schemas.alert import GROUP_FIELDS
from schemas.domains import DOMAIN_IDS
from schemas.errors import ConfigError

WHEN_FIELDS: tuple[str, ...] = (
    "source",
    "domain",
    "severity",
    "organisation",
    "provider",
    "site",
    "ward",
    "reporter",
)
SOURCES: frozenset[str] = frozenset(
    {
        "complaint",
        "pals",
        "incident",
        "fft",
        "ppi_survey",
        "gp_comment_card",
        "gp_clinical_concern",
        "mp_letter",
        "local_media",
        "social_media",
        "healthwatch",
        "partner",
        "web_form",
    }
)
SEVERITIES: frozenset[str] = frozenset({"no_harm", "low", "moderate", "severe", "death"})
REPORTERS: frozenset[str] = frozenset({"patient", "carer", "staff", "gp", "mp", "public", "partner"})
# `when` fields whose values are a closed vocabulary: a value outside it can never match, so it
# is a typo and refused.
WHEN_VOCABULARY: dict[str, frozenset[str]] = {
    "source": SOURCES,
    "severity": SEVERITIES,
    "reporter": REPORTERS,
    "domain": frozenset(DOMAIN_IDS),
}

DEFAULT_ALLOWED_LATENESS_S = 3600
DEFAULT_SPC_MIN_HISTORY = 12
_RULE_ID = re.compile(r"^[a-z0-9-]+$")
_DURATION = re.compile(r"^([0-9]+)([smhd])$")
_LABEL_VALUE = re.compile(r"^[a-z][a-z0-9_-]*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RULE_KEYS = frozenset(
    {"id", "description", "when", "group_by", "window", "threshold", "spc", "severity", "allowed_lateness"}
)
_TOP_KEYS = frozenset({"rules", "allowed_lateness"})
_SPC_KEYS = frozenset({"baseline", "sigma", "min_count", "min_history"})
_WINDOW_KEYS = frozenset({"size", "step"})


@dataclass(frozen=True)
class Window:
    """Event-time window; ``step_s == size_s`` is tumbling. Windows start at multiples of the step."""

    size_s: int
    step_s: int

    @property
    def tumbling(self) -> bool:
        return self.step_s == self.size_s

    @property
    def buckets_per_window(self) -> int:
        return self.size_s // self.step_s


@dataclass(frozen=True)
class Spc:
    """c-chart rule: fire when count >= min_count and count > mean + sigma*sqrt(mean) of history."""

    baseline: int
    sigma: float = 3.0
    min_count: int = 1
    min_history: int = DEFAULT_SPC_MIN_HISTORY


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    group_by: tuple[str, ...]
    window: Window
    severity: str = "warning"
    # ((field, frozenset(values)), ...) — a tuple keeps the dataclass hashable and ordered.
    when: tuple[tuple[str, frozenset[str]], ...] = ()
    threshold: int | None = None
    spc: Spc | None = None
    allowed_lateness_s: int = DEFAULT_ALLOWED_LATENESS_S

    def history_s(self) -> int:
        """How far before a window's start its SPC baseline reaches (0 for threshold rules)."""
        return self.spc.baseline * self.window.size_s if self.spc else 0


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    source: str = "<memory>"
    by_id: Mapping[str, Rule] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {rule.id: rule for rule in self.rules})

    @property
    def granularity_s(self) -> int:
        """The watermark's resolution: the gcd of every window step and size.

        Window boundaries are multiples of it, so a watermark floored to it decides liveness
        exactly as the raw one would, while changing far less often (see engine.py).
        """
        g = 0
        for rule in self.rules:
            g = math.gcd(g, rule.window.step_s, rule.window.size_s)
        return g or 1

    @property
    def max_lateness_s(self) -> int:
        """The longest allowed lateness of any rule: an event further behind counts for none."""
        return max((rule.allowed_lateness_s for rule in self.rules), default=0)


def parse_duration(text: Any) -> int | None:
    """``'24h'`` → 86400; None when it is not a positive duration with a unit."""
    if not isinstance(text, str):
        return None
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        return None
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class _Where:
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


def _duration(where: _Where, field_path: str, value: Any) -> int:
    seconds = parse_duration(value)
    if seconds is None:
        raise where.error(field_path, f"{value!r} is not a duration (use s, m, h, d, e.g. '24h')")
    return seconds


def _positive_int(where: _Where, field_path: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(field_path, f"{value!r} is not an integer >= {minimum}")
    return value


def _unknown_keys(where: _Where, prefix: str, mapping: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(str(key) for key in mapping if key not in allowed)
    if unknown:
        raise where.error(f"{prefix}{unknown[0]}", f"unknown field (allowed: {', '.join(sorted(allowed))})")


def _parse_when(where: _Where, raw: Any) -> tuple[tuple[str, frozenset[str]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise where.error("when", "must be a mapping of field → list of values")
    _unknown_keys(where, "when.", raw, frozenset(WHEN_FIELDS))
    parsed: list[tuple[str, frozenset[str]]] = []
    for name in WHEN_FIELDS:
        if name not in raw:
            continue
        values = raw[name]
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
            raise where.error(f"when.{name}", f"{values!r} must be a non-empty list of strings")
        vocabulary = WHEN_VOCABULARY.get(name)
        if vocabulary is not None:
            for value in values:
                if value not in vocabulary:
                    raise where.error(
                        f"when.{name}", f"{value!r} is not one of: {', '.join(sorted(vocabulary))}"
                    )
        parsed.append((name, frozenset(values)))
    return tuple(parsed)


def _parse_window(where: _Where, raw: Any) -> Window:
    if not isinstance(raw, Mapping):
        raise where.error("window", "is required: {size: 24h, step: 1h} (no step = tumbling)")
    _unknown_keys(where, "window.", raw, _WINDOW_KEYS)
    if "size" not in raw:
        raise where.error("window.size", "is required")
    size = _duration(where, "window.size", raw["size"])
    step = size if raw.get("step") is None else _duration(where, "window.step", raw["step"])
    if step > size or size % step:
        raise where.error("window.step", f"{raw.get('step')!r} must divide window.size {raw['size']!r}")
    return Window(size_s=size, step_s=step)


def _parse_spc(where: _Where, raw: Any) -> Spc:
    if not isinstance(raw, Mapping):
        raise where.error("spc", "must be a mapping {baseline, sigma, min_count, min_history}")
    _unknown_keys(where, "spc.", raw, _SPC_KEYS)
    if "baseline" not in raw:
        raise where.error("spc.baseline", "is required (number of previous windows)")
    baseline = _positive_int(where, "spc.baseline", raw["baseline"], minimum=2)
    sigma = raw.get("sigma", 3)
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not sigma > 0:
        raise where.error("spc.sigma", f"{sigma!r} is not a number > 0")
    min_count = _positive_int(where, "spc.min_count", raw.get("min_count", 1))
    min_history = _positive_int(
        where, "spc.min_history", raw.get("min_history", min(baseline, DEFAULT_SPC_MIN_HISTORY))
    )
    if min_history > baseline:
        raise where.error("spc.min_history", f"{min_history} is more than spc.baseline {baseline}")
    return Spc(baseline=baseline, sigma=float(sigma), min_count=min_count, min_history=min_history)


def _parse_rule(source: str, index: int, raw: Any, default_lateness: int) -> Rule:
    where = _Where(source, index=index)
    if not isinstance(raw, Mapping):
        raise where.error("", "each rule must be a mapping")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise where.error("id", f"{rule_id!r} is not a rule id ([a-z0-9-]+)")
    where = _Where(source, rule_id=rule_id)
    _unknown_keys(where, "", raw, _RULE_KEYS)

    group_by = raw.get("group_by")
    if isinstance(group_by, str):
        group_by = [group_by]
    if not isinstance(group_by, list) or not group_by:
        raise where.error("group_by", f"must be a non-empty list of: {', '.join(GROUP_FIELDS)}")
    for name in group_by:
        if name not in GROUP_FIELDS:
            raise where.error("group_by", f"{name!r} is not one of: {', '.join(GROUP_FIELDS)}")
    if len(set(group_by)) != len(group_by):
        raise where.error("group_by", "lists a field twice")

    window = _parse_window(where, raw.get("window"))
    has_threshold, has_spc = raw.get("threshold") is not None, raw.get("spc") is not None
    if has_threshold == has_spc:
        raise where.error("threshold", "give exactly one of threshold or spc")
    threshold = _positive_int(where, "threshold", raw["threshold"]) if has_threshold else None
    spc = _parse_spc(where, raw["spc"]) if has_spc else None

    severity = raw.get("severity", "warning")
    if not isinstance(severity, str) or not _LABEL_VALUE.match(severity):
        raise where.error("severity", f"{severity!r} is not a label value like warning, critical, info")
    description = raw.get("description")
    if description is None:
        description = f"Hotspot rule {rule_id}"
    if not isinstance(description, str):
        raise where.error("description", "must be a string")
    lateness = default_lateness
    if raw.get("allowed_lateness") is not None:
        lateness = _duration(where, "allowed_lateness", raw["allowed_lateness"])
    return Rule(
        id=rule_id,
        description=description.strip(),
        group_by=tuple(group_by),
        window=window,
        severity=severity,
        when=_parse_when(where, raw.get("when")),
        threshold=threshold,
        spc=spc,
        allowed_lateness_s=lateness,
    )


def parse_rules(document: Any, source: str = "<memory>") -> RuleSet:
    """Validate an already-parsed YAML document (a mapping with ``rules:``)."""
    top = _Where(source)
    if not isinstance(document, Mapping):
        raise top.error("rules", "the file must be a mapping with a 'rules' list")
    _unknown_keys(top, "", document, _TOP_KEYS)
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list):
        raise top.error("rules", "must be a list of rules")
    default_lateness = DEFAULT_ALLOWED_LATENESS_S
    if document.get("allowed_lateness") is not None:
        default_lateness = _duration(top, "allowed_lateness", document["allowed_lateness"])
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        rule = _parse_rule(source, index, raw, default_lateness)
        if rule.id in seen:
            raise _Where(source, rule_id=rule.id).error("id", "is used by more than one rule")
        seen.add(rule.id)
        rules.append(rule)
    return RuleSet(rules=tuple(rules), source=source)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a rules file; any problem raises ConfigError naming file, rule and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rules file: {exc.strerror or exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{at}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_rules(document, source=str(path))
