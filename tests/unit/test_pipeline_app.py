"""The app factory: configuration from docs/faust.md, unique ids and topics, nothing at import time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from schemas.settings import Settings
from streams.app import create_app
from streams.pipeline import Pipeline
from streams.worker_config import WorkerConfig
from tests.unit.test_pipeline import StandInTagger, standin_redact


def test_importing_the_stream_modules_creates_no_app_and_loads_no_faust() -> None:
    code = (
        "import sys, streams.app, streams.pipeline, streams.cli, pxstream.worker; "
        "print('faust' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_config_from_settings_with_cli_overrides_on_top() -> None:
    settings = Settings.from_env({"PXSTREAM_APP_ID": "tenant-a", "PXSTREAM_TOPIC_PREFIX": "a."})
    config = WorkerConfig.from_settings(settings, web_port=7000, app_id=None)
    assert (config.app_id, config.topic_prefix, config.web_port) == ("tenant-a", "a.", 7000)
    assert config.raw_topic == "a.feedback.raw"
    assert config.tagged_topic == "a.feedback.tagged"
    assert config.dlq_topic == "a.feedback.dlq"
    assert config.alerts_topic == "a.hotspots.alerts"
    assert WorkerConfig.from_settings(Settings.from_env({})).raw_topic == "feedback.raw"


def test_app_is_configured_for_at_least_once_on_local_disk(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PXSTREAM_KAFKA_BOOTSTRAP": "h1:9092,h2:9093", "PXSTREAM_DATA_DIR": str(tmp_path)}
    )
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    app = create_app(
        settings, WorkerConfig(app_id="unit-app", web_port=7123, hotspots=False), pipeline=pipeline
    )
    conf = app.conf
    assert conf.id == "unit-app"
    assert conf.processing_guarantee.value == "at_least_once"
    assert conf.topic_partitions == 4 and conf.topic_replication_factor == 1
    assert [str(url) for url in conf.broker] == ["kafka://h1:9092", "kafka://h2:9093"]
    assert str(conf.store) == "memory:"
    assert not app.tables  # no stage keeps state in Faust
    assert Path(conf.datadir) == tmp_path / "worker" / "unit-app"
    assert (conf.web_host, conf.web_port) == ("127.0.0.1", 7123)
    assert conf.broker_max_poll_records == 1000
    assert conf.broker_session_timeout == 60.0  # failover time; `pxstream worker --session-timeout`
    assert {"/metrics", "/healthz"} <= set(app.web.views)


def test_apps_with_hotspot_rules_build_and_report_their_rules(tmp_path: Path) -> None:
    """Two apps in one process (as in tests and the bench): metrics register once, both report."""
    from prometheus_client import REGISTRY

    from streams.hotspots.rules import load_rules

    rules = load_rules(Path(__file__).resolve().parents[2] / "infra" / "rules" / "hotspots.yaml")
    settings = Settings.from_env({"PXSTREAM_DATA_DIR": str(tmp_path), "PXSTREAM_ALERTMANAGER_URL": ""})
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    apps = [
        create_app(settings, WorkerConfig(app_id=f"unit-hotspots-{n}"), pipeline=pipeline, rules=rules)
        for n in range(2)
    ]
    assert all("unit-hotspots" in app.conf.id for app in apps)
    firing = {
        sample.labels["rule"]: sample.value
        for family in REGISTRY.collect()
        if family.name == "pxstream_alerts_firing"
        for sample in family.samples
    }
    # Nothing counted yet: none firing. (Apps other tests built in this process may report too.)
    assert {rule_id: firing.get(rule_id) for rule_id in rules.by_id} == {rule.id: 0 for rule in rules.rules}


def test_worker_flags_reach_the_hotspot_stage(tmp_path: Path, monkeypatch) -> None:
    """`pxstream worker`'s clock, re-send and session options land in WorkerConfig and from there
    in Faust's settings and `streams.hotspots.agent.attach`: the tests' worker is the production one."""
    import argparse

    import streams.hotspots.agent
    from pxstream.worker import register, worker_config
    from streams.hotspots.rules import load_rules

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(
        [
            "worker",
            "--tick-interval",
            "0.5",
            "--quiet-after",
            "1",
            "--resend-interval",
            "3",
            "--session-timeout",
            "9",
            "--hotspot-batch-size",
            "250",
            "--hotspot-batch-within",
            "0.2",
        ]
    )
    config = worker_config(args, Settings.from_env({}))
    assert (config.hotspot_tick_interval_s, config.hotspot_quiet_after_s) == (0.5, 1.0)
    assert (config.alertmanager_resend_s, config.session_timeout_s) == (3.0, 9.0)
    assert (config.hotspot_batch_size, config.hotspot_batch_within_s) == (250, 0.2)
    defaults = worker_config(parser.parse_args(["worker"]), Settings.from_env({}))
    assert (defaults.hotspot_tick_interval_s, defaults.hotspot_quiet_after_s) == (2.0, 5.0)
    assert (defaults.alertmanager_resend_s, defaults.session_timeout_s) == (60.0, 60.0)
    assert (defaults.hotspot_batch_size, defaults.hotspot_batch_within_s) == (1000, 0.05)

    seen: dict = {}
    monkeypatch.setattr(streams.hotspots.agent, "attach", lambda app, settings, rules, **kw: seen.update(kw))
    rules = load_rules(Path(__file__).resolve().parents[2] / "infra" / "rules" / "hotspots.yaml")
    settings = Settings.from_env(
        {"PXSTREAM_DATA_DIR": str(tmp_path), "PXSTREAM_ALERTMANAGER_URL": "http://am:9093"}
    )
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    app = create_app(settings, config, pipeline=pipeline, rules=rules)
    assert app.conf.broker_session_timeout == 9.0
    assert (seen["tick_interval_s"], seen["quiet_after_s"]) == (0.5, 1.0)
    assert (seen["batch_size"], seen["batch_within_s"]) == (250, 0.2)
    assert seen["pusher_config"].resend_interval_s == 3.0
    assert seen["pusher_config"].alertmanager_url == "http://am:9093"


def test_worker_refuses_seconds_that_are_not_above_zero(capsys) -> None:
    import argparse

    from pxstream.worker import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    for bad in ("0", "-1", "soon", "nan"):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["worker", "--tick-interval", bad])
        assert exit_.value.code == 2
        assert "--tick-interval" in capsys.readouterr().err


def test_worker_refuses_batch_sizes_that_are_not_whole_numbers_above_zero(capsys) -> None:
    import argparse

    from pxstream.worker import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    for flag in ("--batch-size", "--hotspot-batch-size"):
        for bad in ("0", "-5", "1.5", "many"):
            with pytest.raises(SystemExit) as exit_:
                parser.parse_args(["worker", flag, bad])
            assert exit_.value.code == 2
            assert flag in capsys.readouterr().err


def test_the_tagging_stage_fails_over_within_10_s_or_a_shorter_session_timeout(tmp_path: Path) -> None:
    """Stateless, so quick: 10 s under the default 60 s session; `--session-timeout 3` gives 3 s."""
    from streams.agents import tagging_loop

    settings = Settings.from_env({"PXSTREAM_DATA_DIR": str(tmp_path)})
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    assert tagging_loop(settings, WorkerConfig(), pipeline).config.session_timeout_s == 10.0
    short = WorkerConfig(session_timeout_s=3.0)
    assert tagging_loop(settings, short, pipeline).config.session_timeout_s == 3.0
    app = create_app(settings, short, pipeline=pipeline)
    assert (app.conf.broker_session_timeout, app.conf.broker_heartbeat_interval) == (3.0, 1.0)
    assert create_app(settings, WorkerConfig(), pipeline=pipeline).conf.broker_heartbeat_interval == 3.0


def test_the_worker_app_refuses_a_faust_table(tmp_path: Path) -> None:
    """Its table manager skips Faust's 1 s start-up wait for tables (streams/no_tables.py), so a
    table must not slip in unnoticed."""
    settings = Settings.from_env({"PXSTREAM_DATA_DIR": str(tmp_path)})
    pipeline = Pipeline(redact=standin_redact, tagger=StandInTagger(), tagger_version="t")
    app = create_app(settings, WorkerConfig(hotspots=False), pipeline=pipeline)
    with pytest.raises(RuntimeError, match="keeps no Faust table"):
        app.Table("counts", default=int)
