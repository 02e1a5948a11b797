"""Rules that would cost the worker seconds per event, or state without end, are refused on load.

Each refusal names the file, the rule and the field, as a careless operator needs to fix it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from schemas.errors import ConfigError
from streams.hotspots.rules import MAX_BUCKETS_PER_WINDOW, load_rules
from tests.unit.test_hotspot_rules import mutate, write


@pytest.mark.parametrize(
    ("field", "value", "index", "message"),
    [
        (
            "window",
            {"size": "365d", "step": "1s"},
            0,
            "rule 'ward-incidents-24h': window.step: '365d' stepping",
        ),
        ("window", {"size": "24h", "step": "1m"}, 0, None),  # 1,440 windows per event: the limit, accepted
        ("window", {"size": "24h", "step": "59s"}, 0, "window.step: '59s' must divide"),
        ("window", {"size": "400d"}, 0, "rule 'ward-incidents-24h': window.size: '400d' is longer than"),
        (
            "window",
            {"size": "99999999999999999999999d"},
            0,
            "window.size: '99999999999999999999999d' is longer",
        ),
        (
            "spc.baseline",
            100_000_000,
            1,
            "rule 'provider-domain-spc': spc.baseline: 100,000,000 is more than",
        ),
        ("spc.baseline", 520, 1, None),
        ("spc.baseline", 521, 1, "spc.baseline: 521 is more than the limit 520"),
        (
            "allowed_lateness",
            "100000d",
            0,
            "rule 'ward-incidents-24h': allowed_lateness: '100000d' is longer",
        ),
        ("allowed_lateness", "31d", 0, None),
        ("threshold", 10**12, 0, "rule 'ward-incidents-24h': threshold: 1,000,000,000,000 is more than"),
        (
            "spc.sigma",
            1e300,
            1,
            "rule 'provider-domain-spc': spc.sigma: 1e+300 is not a number > 0 and <= 10",
        ),
        ("spc.min_count", 10**9, 1, "spc.min_count: 1,000,000,000 is more than"),
        ("description", "x" * 5000, 0, "rule 'ward-incidents-24h': description: is 5,000 characters"),
    ],
)
def test_bounds_name_file_rule_and_field(tmp_path: Path, field, value, index, message) -> None:
    path = write(tmp_path, yaml.safe_dump(mutate(field, value, index)))
    if message is None:
        load_rules(path)
        return
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_an_spc_baseline_reaching_back_more_than_ten_years_is_refused(tmp_path: Path) -> None:
    document = mutate("window", {"size": "30d"}, 1)
    document["rules"][1]["spc"]["baseline"] = 200  # 200 × 30 days
    path = write(tmp_path, yaml.safe_dump(document))
    with pytest.raises(
        ConfigError, match=r"provider-domain-spc': spc.baseline: 200 windows of 30d reach back"
    ):
        load_rules(path)


def test_top_level_lateness_is_bounded(tmp_path: Path) -> None:
    path = write(tmp_path, "allowed_lateness: 100000d\nrules: []\n")
    with pytest.raises(
        ConfigError, match=r"top level: allowed_lateness: '100000d' is longer than the limit 31d"
    ):
        load_rules(path)


def test_a_rules_file_that_is_not_utf8_is_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_bytes(b"rules:\n  - id: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert str(caught.value) == f"{path}: line 2: not UTF-8 (byte 19); save it as UTF-8"


def test_a_huge_rules_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules: []\n" + "#" * (2 << 20))
    with pytest.raises(ConfigError, match="larger than 1024 KiB"):
        load_rules(path)


def test_the_largest_accepted_window_costs_one_event_little(tmp_path: Path) -> None:
    """The bound is not arbitrary: at the limit, counting one event stays far under a second."""
    from datetime import UTC, datetime

    from streams.hotspots.windows import windows_containing

    document = mutate("window", {"size": "24h", "step": "1m"}, 0)
    rule = load_rules(write(tmp_path, yaml.safe_dump(document))).rules[0]
    assert rule.window.buckets_per_window == MAX_BUCKETS_PER_WINDOW
    started = time.perf_counter()
    windows = list(windows_containing(int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()), rule.window))
    assert len(windows) == MAX_BUCKETS_PER_WINDOW
    assert time.perf_counter() - started < 0.1
