"""Rules file validation: every refusal names the file, the rule id and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from schemas.errors import ConfigError
from streams.hotspots.rules import Spc, Window, load_rules, parse_duration, parse_rules

REPO = Path(__file__).resolve().parents[2]

GOOD = """
rules:
  - id: ward-incidents-24h
    description: Five or more incidents on one ward within 24 hours
    when:
      source: [incident]
      domain: [safe_high_quality_care]
      severity: [low, moderate, severe, death]
    group_by: [provider, ward]
    window: {size: 24h, step: 1h}
    threshold: 5
    severity: warning
  - id: provider-domain-spc
    group_by: [provider, domain]
    window: {size: 1d}
    spc: {baseline: 28, sigma: 3, min_count: 3}
    severity: info
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def test_contract_example_loads(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    first, second = rules.rules
    assert first.window == Window(size_s=86400, step_s=3600)
    assert first.threshold == 5 and first.spc is None
    assert dict(first.when)["severity"] == frozenset({"low", "moderate", "severe", "death"})
    assert first.group_by == ("provider", "ward")
    assert second.window.tumbling
    assert second.spc == Spc(baseline=28, sigma=3.0, min_count=3, min_history=12)
    assert rules.granularity_s == 3600
    assert rules.by_id["provider-domain-spc"] is second


def test_default_rules_file_is_valid() -> None:
    rules = load_rules(REPO / "infra/rules/hotspots.yaml")
    assert len(rules.rules) >= 4
    assert any(rule.spc for rule in rules.rules)
    assert any(not rule.window.tumbling for rule in rules.rules)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1s", 1),
        ("90m", 5400),
        ("24h", 86400),
        ("7d", 604800),
        ("24x", None),
        ("0h", None),
        (24, None),
        ("h", None),
    ],
)
def test_parse_duration(text: object, expected: int | None) -> None:
    assert parse_duration(text) == expected


def mutate(path_in_rule: str, value: object, rule_index: int = 0) -> dict:
    document = yaml.safe_load(GOOD)
    target = document["rules"][rule_index]
    *parents, last = path_in_rule.split(".")
    for name in parents:
        target = target[name]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return document


DELETE = object()


@pytest.mark.parametrize(
    ("field", "value", "index", "message"),
    [
        ("window.size", "24x", 0, "rule 'ward-incidents-24h': window.size: '24x' is not a duration"),
        ("window.step", "5h", 0, "rule 'ward-incidents-24h': window.step: '5h' must divide window.size"),
        ("window.step", "2d", 0, "rule 'ward-incidents-24h': window.step: '2d' must divide"),
        ("window", DELETE, 0, "rule 'ward-incidents-24h': window: is required"),
        ("window.hop", "1h", 0, "rule 'ward-incidents-24h': window.hop: unknown field"),
        ("treshold", 5, 0, "rule 'ward-incidents-24h': treshold: unknown field"),
        ("threshold", 0, 0, "rule 'ward-incidents-24h': threshold: 0 is not an integer >= 1"),
        ("threshold", True, 0, "rule 'ward-incidents-24h': threshold: True is not an integer"),
        (
            "threshold",
            DELETE,
            0,
            "rule 'ward-incidents-24h': threshold: give exactly one of threshold or spc",
        ),
        ("spc", {"baseline": 5}, 0, "give exactly one of threshold or spc"),
        ("group_by", ["provider", "bed"], 0, "rule 'ward-incidents-24h': group_by: 'bed' is not one of"),
        ("group_by", [], 0, "rule 'ward-incidents-24h': group_by: must be a non-empty list"),
        ("group_by", ["ward", "ward"], 0, "group_by: lists a field twice"),
        ("when.colour", ["red"], 0, "rule 'ward-incidents-24h': when.colour: unknown field"),
        ("when.source", ["incidnet"], 0, "rule 'ward-incidents-24h': when.source: 'incidnet' is not one of"),
        ("when.domain", ["safety"], 0, "when.domain: 'safety' is not one of"),
        ("when.severity", [], 0, "when.severity: [] must be a non-empty list of strings"),
        ("severity", "Very Bad", 0, "rule 'ward-incidents-24h': severity: 'Very Bad' is not a label value"),
        (
            "allowed_lateness",
            "soon",
            0,
            "rule 'ward-incidents-24h': allowed_lateness: 'soon' is not a duration",
        ),
        ("spc.baseline", 1, 1, "rule 'provider-domain-spc': spc.baseline: 1 is not an integer >= 2"),
        ("spc.baseline", DELETE, 1, "rule 'provider-domain-spc': spc.baseline: is required"),
        ("spc.sigma", -1, 1, "rule 'provider-domain-spc': spc.sigma: -1 is not a number > 0"),
        (
            "spc.min_history",
            40,
            1,
            "rule 'provider-domain-spc': spc.min_history: 40 is more than spc.baseline",
        ),
        ("spc.limit", 3, 1, "rule 'provider-domain-spc': spc.limit: unknown field"),
        ("id", "Ward Incidents", 0, "rule #1: id: 'Ward Incidents' is not a rule id"),
        ("id", "provider-domain-spc", 0, "rule 'provider-domain-spc': id: is used by more than one rule"),
    ],
)
def test_each_error_names_file_rule_and_field(
    tmp_path: Path, field: str, value: object, index: int, message: str
) -> None:
    path = write(tmp_path, yaml.safe_dump(mutate(field, value, index)))
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: "), text
    assert message in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: {}", "top level: rules: must be a list"),
        ("[]", "top level: rules: the file must be a mapping"),
        ("rules: []\nrulez: []", "top level: rulez: unknown field"),
        ("rules: []\nallowed_lateness: 1x", "top level: allowed_lateness: '1x' is not a duration"),
        ("rules: [1]", "rule #1: each rule must be a mapping"),
        ("rules: [\n  {id: a", "not valid YAML"),
    ],
)
def test_top_level_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read rules file"):
        load_rules(tmp_path / "nope.yaml")


def test_lateness_default_top_level_and_per_rule() -> None:
    document = yaml.safe_load(GOOD)
    document["allowed_lateness"] = "2d"
    document["rules"][1]["allowed_lateness"] = "30m"
    first, second = parse_rules(document).rules
    assert first.allowed_lateness_s == 2 * 86400
    assert second.allowed_lateness_s == 1800
    assert parse_rules(yaml.safe_load(GOOD)).rules[0].allowed_lateness_s == 3600


def test_scalar_when_value_and_default_severity() -> None:
    rule = parse_rules(
        {
            "rules": [
                {
                    "id": "a",
                    "group_by": "ward",
                    "window": {"size": "1h"},
                    "threshold": 2,
                    "when": {"ward": "A"},
                }
            ]
        }
    ).rules[0]
    assert rule.severity == "warning"
    assert rule.when == (("ward", frozenset({"A"})),)
    assert rule.group_by == ("ward",)
