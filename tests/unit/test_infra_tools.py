"""The monitoring configs as the real tools read them: promtool and amtool (Debian packages).

These are fast (no server is started) but need the tools installed, hence the integration mark:
a machine without them fails here, it does not skip.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from infra.config import InfraConfig
from infra.monitoring import (
    ALERTMANAGER_CONFIG,
    FAST_TIMINGS,
    PROMETHEUS_CONFIG,
    render_alertmanager_config,
    render_prometheus_config,
)
from schemas.settings import Settings

pytestmark = pytest.mark.integration

PROMETHEUS_TESTS = PROMETHEUS_CONFIG.parent / "tests" / "pipeline_test.yml"


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=60)


def test_prometheus_config_and_rules_are_valid() -> None:
    result = run("promtool", "check", "config", PROMETHEUS_CONFIG)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 rules found" in result.stdout + result.stderr


def test_rendered_prometheus_config_is_valid_and_points_at_this_machines_ports(tmp_path: Path) -> None:
    config = InfraConfig.from_settings(Settings.from_env(
        {"PXSTREAM_DATA_DIR": str(tmp_path), "PXSTREAM_ALERTMANAGER_URL": "http://localhost:19093",
         "PXSTREAM_PROMETHEUS_PORT": "19090", "PXSTREAM_METRICS_TARGET": "localhost:16066"}
    ))  # fmt: skip
    rendered = render_prometheus_config(config)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(rendered))
    result = run("promtool", "check", "config", path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:19093"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in rendered["scrape_configs"]}
    assert targets == {"pxstream-worker": ["localhost:16066"], "prometheus": ["127.0.0.1:19090"]}


def test_pipeline_alert_rules_pass_their_promtool_unit_tests() -> None:
    result = run("promtool", "test", "rules", PROMETHEUS_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rule_unit_tests_cover_every_alert() -> None:
    rules = yaml.safe_load((PROMETHEUS_CONFIG.parent / "rules" / "pipeline.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load(PROMETHEUS_TESTS.read_text())["tests"]
    fired = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    silent = {t["alertname"] for case in tests for t in case["alert_rule_test"] if not t["exp_alerts"]}
    assert fired == alerts, "every alert has a case where it fires"
    assert silent == alerts, "every alert has a near miss where it does not"
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["component"] == "pxstream"  # routes to operations
            assert rule["labels"]["severity"] in {"warning", "critical"}


@pytest.mark.parametrize("path_kind", ["checked-in", "rendered-for-tests"])
def test_alertmanager_config_is_valid(path_kind: str, tmp_path: Path) -> None:
    path = ALERTMANAGER_CONFIG
    if path_kind != "checked-in":
        path = tmp_path / "alertmanager.yml"
        path.write_text(yaml.safe_dump(render_alertmanager_config("http://127.0.0.1:1234", FAST_TIMINGS)))
    result = run("amtool", "check-config", path)
    assert result.returncode == 0, result.stdout + result.stderr


HOTSPOT = "alertname=PatientExperienceHotspot"
PIPELINE = "component=pxstream"


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        # by organisation, then by severity
        ([HOTSPOT, "organisation=QKK", "severity=warning", "rule=ward-incidents-24h"], "qkk-quality"),
        ([HOTSPOT, "organisation=QKK", "severity=critical", "ward=Ward 7"], "qkk-patient-safety"),
        ([HOTSPOT, "organisation=QKK", "severity=info", "rule=provider-domain-spc"], "qkk-digest"),
        ([HOTSPOT, "organisation=QWE", "severity=warning"], "qwe-quality"),
        ([HOTSPOT, "organisation=QWE", "severity=critical"], "qwe-patient-safety"),
        ([HOTSPOT, "organisation=QWE", "severity=info"], "qwe-digest"),
        # an organisation without a route: critical still reaches a person, the rest is collected
        ([HOTSPOT, "organisation=QOP", "severity=critical"], "patient-safety-oncall"),
        ([HOTSPOT, "organisation=QOP", "severity=warning"], "hotspots-unrouted"),
        ([HOTSPOT, "severity=warning", "provider=RJ1"], "hotspots-unrouted"),
        # pipeline health goes to operations, never to a commissioner — even with an organisation label
        (["alertname=PxstreamConsumerLagHigh", PIPELINE, "severity=warning"], "pxstream-operations"),
        (["alertname=PxstreamWorkerDown", PIPELINE, "severity=critical"], "pxstream-operations-pager"),
        (["alertname=PxstreamSinkErrors", PIPELINE, "organisation=QKK"], "pxstream-operations"),
        # anything else
        (["alertname=Watchdog"], "pxstream-unrouted"),
    ],
)  # fmt: skip
def test_alertmanager_routes(labels: list[str], receiver: str) -> None:
    result = run(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        f"--verify.receivers={receiver}", *labels,
    )  # fmt: skip
    assert result.returncode == 0, f"{labels} -> {result.stdout.strip()} (expected {receiver})"
    assert result.stdout.strip() == receiver


@pytest.mark.parametrize(
    ("severity", "receivers"),
    [
        ("warning", {"QKK": "qkk-quality", "QWE": "qwe-quality", "QOP": "hotspots-unrouted"}),
        ("critical", {"QKK": "qkk-patient-safety", "QWE": "qwe-patient-safety",
                      "QOP": "patient-safety-oncall"}),
    ],
)  # fmt: skip
def test_an_episode_reaches_every_organisation_whose_events_counted(
    severity: str, receivers: dict[str, str]
) -> None:
    """No shipped rule groups by organisation: the labels the worker posts for a provider-and-ward
    episode that three organisations' events counted toward still route to each one's receiver."""
    from streams.hotspots.alertmanager import PusherConfig, alertmanager_alerts
    from streams.hotspots.alerts import build_alert

    alert = build_alert(
        rule_id="ward-incidents-24h", status="firing", group={"provider": "RJ1", "ward": "Ward 7"},
        window_start=0, window_end=86400, count=6, threshold=5, severity=severity,
        description="Five or more incidents on one ward within 24 hours", fired_at=100,
        resolved_at=None, sample_event_ids=["e1"], organisations=["QWE", "QOP", "QKK"],
    )  # fmt: skip
    posted = alertmanager_alerts(alert, PusherConfig("http://127.0.0.1:9093"), now=200)
    assert sorted(p["labels"]["organisation"] for p in posted) == sorted(receivers)
    for postable in posted:
        receiver = receivers[postable["labels"]["organisation"]]
        labels = [f"{k}={v}" for k, v in postable["labels"].items()]
        result = run(
            "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
            f"--verify.receivers={receiver}", *labels,
        )  # fmt: skip
        assert result.returncode == 0, f"{labels} -> {result.stdout.strip()} (expected {receiver})"


def test_route_test_detects_a_wrong_receiver() -> None:
    """The route check above can fail: amtool exits non-zero when the receiver differs."""
    result = run(
        "amtool", "config", "routes", "test", f"--config.file={ALERTMANAGER_CONFIG}",
        "--verify.receivers=qkk-quality", HOTSPOT, "organisation=QKK", "severity=critical",
    )  # fmt: skip
    assert result.returncode != 0


def test_every_receiver_in_the_tree_is_reachable_and_rewritten_for_tests() -> None:
    rendered = render_alertmanager_config("http://127.0.0.1:1234", FAST_TIMINGS)
    names = {r["name"] for r in rendered["receivers"]}
    routed: set[str] = set()

    def walk(route: dict) -> None:  # type: ignore[type-arg]
        routed.add(route["receiver"]) if "receiver" in route else None
        assert route.get("group_wait", "0s") == "0s"
        assert route.get("group_interval", "1s") == "1s"
        for child in route.get("routes", []):
            walk(child)

    walk(rendered["route"])
    assert routed == names, "no receiver is defined but unreachable, none is routed but undefined"
    for receiver in rendered["receivers"]:
        assert [w["url"] for w in receiver["webhook_configs"]] == [
            f"http://127.0.0.1:1234/{receiver['name']}"
        ]
