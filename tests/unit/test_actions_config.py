"""A bad actions file is refused on load in one line naming the file, the rule or owners entry, the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.errors import ConfigError
from streams.actions.config import load_actions, parse_actions

REPO = Path(__file__).resolve().parents[2]

GOOD: dict[str, Any] = {
    "calendar": {"holidays": "england-and-wales", "closed": ["2026-12-29"]},
    "owners": [
        {
            "match": {"provider": "R1A", "ward": "Ward 7"},
            "owner": "r1a-ward-7",
            "escalate_to": ["r1a-matron"],
        },
        {"match": {"provider": "R1A"}, "owner": "r1a-pe"},
        {"match": {"source": "complaint"}, "owner": "complaints"},
        {"match": {}, "owner": "icb-quality"},
    ],
    "rules": [
        {
            "id": "ack",
            "on": "event",
            "when": {"source": ["complaint"]},
            "title": "Acknowledge",
            "due": "3 working days",
        },
        {
            "id": "review",
            "on": "alert",
            "when": {"severity": ["critical"], "rule": ["r1"]},
            "title": "Review",
            "due": "5 working days",
        },
    ],
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    target = document
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return document


_DELETE = object()


def test_the_shipped_files_load() -> None:
    for name in ("actions.yaml", "demo.yaml"):
        config = load_actions(REPO / "infra" / "actions" / name)
        assert config.rules and any(not o.match for o in config.owners)
    rules = {r.id: r for r in load_actions(REPO / "infra" / "actions" / "actions.yaml").rules}
    assert str(rules["complaint-acknowledgement"].due) == "3 working days"
    assert str(rules["duty-of-candour"].due) == "10 working days"
    assert str(rules["hotspot-review"].due) == "5 working days"
    assert rules["hotspot-review"].on == "alert"


def test_yaml_on_key_is_read_as_on_not_true(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("owners: [{match: {}, owner: x}]\nrules:\n  - {id: r, on: alert, title: T, due: 1 day}\n")
    assert load_actions(path).rules[0].on == "alert"


def test_most_specific_owner_wins() -> None:
    config = parse_actions(GOOD)
    assert (
        config.owner_for({"provider": "R1A", "ward": "Ward 7", "source": "complaint"}).owner == "r1a-ward-7"
    )
    assert config.owner_for({"provider": "R1A", "ward": "Ward 9", "source": "complaint"}).owner == "r1a-pe"
    assert config.owner_for({"provider": "R2B", "source": "complaint"}).owner == "complaints"
    assert config.owner_for({"provider": "R2B", "source": "pals"}).owner == "icb-quality"
    assert config.chain_for({"provider": "R1A", "ward": "Ward 7"}, "r1a-ward-7") == (
        "r1a-ward-7",
        "r1a-matron",
    )
    # reassigned to someone outside the directory: still chased up the matched line
    assert config.chain_for({"provider": "R1A", "ward": "Ward 7"}, "locum") == ("locum", "r1a-matron")
    assert config.calendar.closed == frozenset({__import__("datetime").date(2026, 12, 29)})


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "owners.3",
            {"match": {"ward": "W"}, "owner": "x"},
            "top level: owners: needs a fallback entry with `match: {}`",
        ),
        ("owners.0.match.bed", "7", "owners #1 (r1a-ward-7): match.bed: unknown field"),
        ("owners.1.owner", "has spaces", "owners #2: owner: 'has spaces' must be a name"),
        ("owners.0.escalate_to", ["r1a-ward-7"], "owners #1 (r1a-ward-7): escalate_to: names someone twice"),
        ("rules.0.due", "3 workdays", "rule 'ack': due: '3 workdays' is not a duration"),
        ("rules.0.due", _DELETE, "rule 'ack': due: None is not a duration"),
        ("rules.0.remind_before", "soon", "rule 'ack': remind_before: 'soon' is not a duration"),
        ("rules.0.escalate_every", "0 days", "rule 'ack': escalate_every: must be more than 0"),
        ("rules.0.on", "tick", "rule 'ack': on: 'tick' must be 'event' or 'alert'"),
        ("rules.0.when", {"source": ["complaints"]}, "rule 'ack': when.source: 'complaints' is not one of"),
        ("rules.0.when", {"rule": ["r1"]}, "rule 'ack': when.rule: unknown field"),
        ("rules.1.when", {"reporter": ["gp"]}, "rule 'review': when.reporter: unknown field"),
        ("rules.1.title", "", "rule 'review': title: '' must be a non-empty string"),
        ("rules.1.id", "ack", "rule 'ack': id: is used by more than one rule"),
        ("rules.1.id", "Bad Id", "rule #2: id: 'Bad Id' is not a rule id"),
        ("rules.1.id", "manual", "rule #2: id: 'manual' is not a rule id"),
        ("rules.1.tresh", 5, "rule 'review': tresh: unknown field"),
        ("calendar.holidays", "scotland", "calendar: holidays: 'scotland' is not one of: england-and-wales"),
        ("calendar.closed", ["2026-13-01"], "calendar: closed: '2026-13-01' is not a date"),
        ("colour", "red", "top level: colour: unknown field"),
    ],
)
def test_a_bad_file_is_refused_naming_file_rule_and_field(
    tmp_path: Path, path: str, value: Any, message: str
) -> None:
    file = tmp_path / "actions.yaml"
    file.write_text(yaml.safe_dump(with_change(path, value)))
    with pytest.raises(ConfigError) as refused:
        load_actions(file)
    text = str(refused.value)
    assert text.startswith(f"{file}: ") and "\n" not in text
    assert message in text, text
    assert refused.value.exit_code == 2


def test_unreadable_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read actions file"):
        load_actions(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("owners: [\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line \d+: not valid YAML"):
        load_actions(bad)


def test_the_notifications_section_sets_the_resend_interval_and_is_checked() -> None:
    from streams.actions.config import DEFAULT_RESEND_S, parse_actions

    base = {"owners": [{"match": {}, "owner": "q"}], "rules": []}
    assert parse_actions(base).resend_every_s == DEFAULT_RESEND_S == 60.0
    assert parse_actions({**base, "notifications": {"resend_every": "10 seconds"}}).resend_every_s == 10.0
    assert parse_actions({**base, "notifications": {"resend_every": "2 minutes"}}).resend_every_s == 120.0
    for bad, message in (
        ({"resend_every": "1 working day"}, "must be between 1 second and 1 hour"),
        ({"resend_every": "2 hours"}, "must be between 1 second and 1 hour"),
        ({"resend_every": "soon"}, "is not a duration"),
        ({"resend": "10 seconds"}, "unknown field"),
        ("10 seconds", "must be a mapping"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_actions({**base, "notifications": bad}, source="a.yaml")
        assert str(caught.value).startswith("a.yaml: notifications: ") and message in str(caught.value)
