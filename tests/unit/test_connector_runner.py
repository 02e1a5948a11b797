"""The YAML runner's configuration checks: every problem reported with its place, before any start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.runner import build_sources, load_config, parse_config
from schemas.settings import Settings
from tests.support.connectors import nottingham_reference


def test_valid_file_builds_every_source(tmp_path: Path) -> None:
    secrets = Settings.from_env({"CAREOPINION_API_KEY": "k", "MASTODON_TOKEN": "t", "IMAP_PASSWORD": "p"})
    path = tmp_path / "connectors.yaml"
    path.write_text(
        """
connectors:
  - name: news
    type: rss
    feeds: [https://news.example/health.rss, {url: https://nuh.example/p.rss, provider: RX1}]
  - {name: co, type: careopinion, filters: {healthservice: RX1}}
  - {name: bsky, type: bluesky}
  - {name: masto, type: mastodon, instance: https://mastodon.example, tags: [NHS]}
  - {name: mail, type: imap, host: mail.nuh.example, user: complaints, source: pals}
"""
    )
    config = load_config(path)
    sources = build_sources(config, nottingham_reference(), secrets.secret)
    assert [(spec.name, source.kind) for spec, source in sources] == [
        ("news", "rss"),
        ("co", "careopinion"),
        ("bsky", "bluesky"),
        ("masto", "mastodon"),
        ("mail", "imap"),
    ]


def test_every_problem_is_listed_with_its_place(tmp_path: Path) -> None:
    document = {
        "connectors": [
            {"name": "a", "type": "rss", "feedz": []},
            {"name": "a", "type": "rss"},
            {"name": "bad name!", "type": "twitter"},
        ],
        "metrics_port": 99999,
        "extra": 1,
    }
    with pytest.raises(ConnectorConfigError) as caught:
        parse_config(document, "connectors.yaml", tmp_path)
    message = str(caught.value)
    for expected in (
        "extra: unknown setting",
        "metrics_port: 99999",
        "connectors[0].feedz: unknown option for rss",
        "connectors[1].name: 'a' is used twice",
        "connectors[2].name: 'bad name!'",
        "connectors[2].type: 'twitter' is not one of",
    ):
        assert expected in message


def test_options_refused_by_a_connector_name_it(tmp_path: Path) -> None:
    config = parse_config({"connectors": [{"name": "co", "type": "careopinion"}]}, "f.yaml", tmp_path)
    with pytest.raises(
        ConnectorConfigError, match=r"connectors\[0\] \(co\): careopinion: no subscription key"
    ):
        build_sources(config, nottingham_reference(), Settings.from_env({}).secret)


def test_cli_reports_yaml_errors_with_line_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("connectors:\n  - name: a\n    type: [rss\n")
    result = subprocess.run(
        [sys.executable, "-m", "pxstream", "connect", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 2
    assert f"{path}:" in result.stderr and "not valid YAML" in result.stderr
