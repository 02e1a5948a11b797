"""The evasion classes: hostile spellings of identifiers must not survive, and clinical or
operational numbers and phrases must not be redacted.

`tests/data/redaction_adversarial.jsonl` was written before the redactor was tuned against it
(docs/redaction.md gives the counts before and after). Each line is either a hostile spelling
(`kind`, `text`, `secrets`: fragments that must not be readable in the output) or a control
(`control: true`: the text must come out unchanged, with no redactions). A fragment counts as
readable when it is found in the output after both are squashed the same way: compatibility
forms folded, digits of every script mapped to 0-9, everything but letters and digits dropped,
lower case. So "9 4 3 4" left in the output leaks "9434" however it is spaced or written.

The lines whose kind starts with `heldout_` were written after tuning, to see how the redactor
did on spellings it had never been tuned on: 1 leak in 63 and 2 false redactions in 25 at first
(the old redactor: 21 and 5), both fixed since; an organisation named like a person ("Dr
Foster data showed") stays a known limit and is not in the set.

The test reports every leak and false redaction by kind, and fails on any.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from streams.redaction import redact

DATA = Path(__file__).resolve().parents[1] / "data" / "redaction_adversarial.jsonl"


def _load() -> list[dict[str, Any]]:
    with DATA.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


CASES = _load()


def squash(text: str) -> str:
    """Letters and ASCII digits only, lower case: how a reader would still recover a fragment."""
    out = []
    for char in unicodedata.normalize("NFKC", text):
        digit = unicodedata.decimal(char, None)
        if digit is not None:
            out.append(str(digit))
        elif char.isalpha():
            out.append(char.lower())
    return "".join(out)


def leaked(case: dict[str, Any]) -> list[str]:
    """The secrets of a hostile case that are still readable after redaction."""
    output = squash(redact(case["text"]).text)
    return [secret for secret in case["secrets"] if squash(secret) in output]


def falsely_redacted(case: dict[str, Any]) -> bool:
    result = redact(case["text"])
    return result.text != case["text"] or bool(result.counts)


def test_the_set_is_big_enough_and_covers_every_kind() -> None:
    hostile = [c for c in CASES if not c.get("control")]
    controls = [c for c in CASES if c.get("control")]
    assert len(hostile) >= 150 and len(controls) >= 40
    kinds = Counter(c["kind"] for c in hostile)
    for kind in (
        "digit_script",
        "invisible",
        "separators",
        "split_spaced",
        "phone_grouping",
        "email_obfuscated",
        "name_title",
        "name_role",
        "name_prefix",
        "name_non_ascii",
        "dob",
        "postcode",
        "address",
        "hospital_number",
    ):
        assert kinds[kind] >= 5, kind
    for case in hostile:
        # a secret must be in the input, or the case could never leak
        assert all(squash(s) in squash(case["text"]) for s in case["secrets"]), case


def test_no_hostile_spelling_leaks_and_no_control_is_redacted() -> None:
    leaks: dict[str, list[str]] = {}
    false: list[str] = []
    for case in CASES:
        if case.get("control"):
            if falsely_redacted(case):
                false.append(f"{case['text']!r} -> {redact(case['text']).text!r}")
        else:
            found = leaked(case)
            if found:
                leaks.setdefault(case["kind"], []).append(f"{case['text']!r} leaks {found}")
    report = [f"{kind}: {len(items)} leaks\n  " + "\n  ".join(items) for kind, items in sorted(leaks.items())]
    if false:
        report.append(f"false redactions: {len(false)}\n  " + "\n  ".join(false))
    if report:
        pytest.fail("\n".join(report))
