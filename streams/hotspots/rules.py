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

Every number is bounded (the ``MAX_*`` constants below), because each one is a cost the worker pays
per event or keeps in state: an event updates every window that contains it (``size / step`` of
them), an SPC rule keeps ``baseline`` windows per group, and the worker remembers every event id
for the allowed lateness. A 365-day window stepping every second would cost one event seconds and
hundreds of MiB; it is refused with the file, rule and field instead (docs/operations-errors.md).
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
MAX_WINDOW_S = 366 * 86400  # a year and a day: the longest window a person reasons about
MAX_BUCKETS_PER_WINDOW = 1440  # windows one event updates: a day by minutes, 60 days by hours
MAX_SPC_BASELINE = 520  # previous windows per group: ten years of weeks
MAX_SPC_HISTORY_S = 10 * 366 * 86400  # how far back a baseline may reach (baseline × size)
MAX_ALLOWED_LATENESS_S = 31 * 86400  # event ids are remembered this long
MAX_THRESHOLD = 1_000_000
MAX_SPC_SIGMA = 10.0
MAX_RULES = 500
MAX_DESCRIPTION_CHARS = 1000
MAX_RULES_FILE_BYTES = 1 << 20
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


def _duration(where: _Where, field_path: str, value: Any, maximum_s: int) -> int:
    seconds = parse_duration(value)
    if seconds is None:
        raise where.error(field_path, f"{_shown(value)} is not a duration (use s, m, h, d, e.g. '24h')")
    if seconds > maximum_s:
        raise where.error(field_path, f"{value!r} is longer than the limit {_as_duration(maximum_s)}")
    return seconds


def _positive_int(where: _Where, field_path: str, value: Any, minimum: int = 1, maximum: int = 10**9) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise where.error(field_path, f"{_shown(value)} is not an integer >= {minimum}")
    if value > maximum:
        raise where.error(field_path, f"{value:,} is more than the limit {maximum:,}")
    return value


def _shown(value: Any) -> str:
    """A value for an error line: never a whole pasted document."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _as_duration(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


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
    size = _duration(where, "window.size", raw["size"], MAX_WINDOW_S)
    step = size if raw.get("step") is None else _duration(where, "window.step", raw["step"], MAX_WINDOW_S)
    if step > size or size % step:
        raise where.error("window.step", f"{raw.get('step')!r} must divide window.size {raw['size']!r}")
    if size // step > MAX_BUCKETS_PER_WINDOW:
        raise where.error(
            "window.step",
            f"{raw['size']!r} stepping every {raw['step']!r} makes each event count in {size // step:,} "
            f"windows; the limit is {MAX_BUCKETS_PER_WINDOW:,} (use a longer step)",
        )
    return Window(size_s=size, step_s=step)


def _parse_spc(where: _Where, raw: Any, window: Window) -> Spc:
    if not isinstance(raw, Mapping):
        raise where.error("spc", "must be a mapping {baseline, sigma, min_count, min_history}")
    _unknown_keys(where, "spc.", raw, _SPC_KEYS)
    if "baseline" not in raw:
        raise where.error("spc.baseline", "is required (number of previous windows)")
    baseline = _positive_int(where, "spc.baseline", raw["baseline"], minimum=2, maximum=MAX_SPC_BASELINE)
    if baseline * window.size_s > MAX_SPC_HISTORY_S:
        raise where.error(
            "spc.baseline",
            f"{baseline} windows of {_as_duration(window.size_s)} reach back further than the limit "
            f"{_as_duration(MAX_SPC_HISTORY_S)}",
        )
    sigma = raw.get("sigma", 3)
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not 0 < sigma <= MAX_SPC_SIGMA:
        raise where.error("spc.sigma", f"{_shown(sigma)} is not a number > 0 and <= {MAX_SPC_SIGMA:g}")
    min_count = _positive_int(where, "spc.min_count", raw.get("min_count", 1), maximum=MAX_THRESHOLD)
    min_history = _positive_int(
        where,
        "spc.min_history",
        raw.get("min_history", min(baseline, DEFAULT_SPC_MIN_HISTORY)),
        maximum=MAX_SPC_BASELINE,
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
    threshold = (
        _positive_int(where, "threshold", raw["threshold"], maximum=MAX_THRESHOLD) if has_threshold else None
    )
    spc = _parse_spc(where, raw["spc"], window) if has_spc else None

    severity = raw.get("severity", "warning")
    if not isinstance(severity, str) or not _LABEL_VALUE.match(severity):
        raise where.error("severity", f"{severity!r} is not a label value like warning, critical, info")
    description = raw.get("description")
    if description is None:
        description = f"Hotspot rule {rule_id}"
    if not isinstance(description, str):
        raise where.error("description", "must be a string")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise where.error(
            "description", f"is {len(description):,} characters; the limit is {MAX_DESCRIPTION_CHARS:,}"
        )
    lateness = default_lateness
    if raw.get("allowed_lateness") is not None:
        lateness = _duration(where, "allowed_lateness", raw["allowed_lateness"], MAX_ALLOWED_LATENESS_S)
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
    if len(raw_rules) > MAX_RULES:
        raise top.error("rules", f"{len(raw_rules):,} rules; the limit is {MAX_RULES:,}")
    default_lateness = DEFAULT_ALLOWED_LATENESS_S
    if document.get("allowed_lateness") is not None:
        default_lateness = _duration(
            top, "allowed_lateness", document["allowed_lateness"], MAX_ALLOWED_LATENESS_S
        )
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
        with path.open("rb") as handle:
            data = handle.read(MAX_RULES_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read rules file (PXSTREAM_RULES): {exc.strerror or exc}") from None
    if len(data) > MAX_RULES_FILE_BYTES:
        raise ConfigError(f"{path}: the rules file is larger than {MAX_RULES_FILE_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}: line {line}: not UTF-8 (byte {exc.start + 1}); save it as UTF-8"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{at}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return parse_rules(document, source=str(path))
