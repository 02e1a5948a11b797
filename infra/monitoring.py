"""Alertmanager and Prometheus from the Debian packages, on loopback, with pxstream's configs.

The checked-in configs (`infra/alertmanager/alertmanager.yml`, `infra/prometheus/prometheus.yml`)
are the source of truth and are what `amtool`/`promtool` test. At start-up a copy is rendered into
the data dir with this machine's ports (and, for Alertmanager, the webhook base URL), so what runs
is exactly what was tested apart from addresses.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from infra.config import INFRA_DIR, LOOPBACK, InfraConfig
from infra.parts import LocalPart, Progress, require_program

ALERTMANAGER_CONFIG = INFRA_DIR / "alertmanager" / "alertmanager.yml"
PROMETHEUS_CONFIG = INFRA_DIR / "prometheus" / "prometheus.yml"
PROMETHEUS_RULES = INFRA_DIR / "prometheus" / "rules"

# Short timings for tests: notifications within a second or two instead of minutes.
FAST_TIMINGS = {"group_wait": "0s", "group_interval": "1s", "repeat_interval": "1h"}


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def render_alertmanager_config(
    webhook_base: str | None = None, timings: dict[str, str] | None = None
) -> dict[str, Any]:
    """The project's routing tree, with every webhook sent to `webhook_base/<receiver>` if given."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    if webhook_base:
        base = webhook_base.rstrip("/")
        for receiver in config["receivers"]:
            for webhook in receiver.get("webhook_configs", []):
                webhook["url"] = f"{base}/{receiver['name']}"
    if timings:
        _override_timings(config["route"], timings)
    return config


def _override_timings(route: dict[str, Any], timings: dict[str, str], root: bool = True) -> None:
    """Set the root's timings and replace the ones a child route sets itself (the rest inherit)."""
    for key, value in timings.items():
        if root or key in route:
            route[key] = value
    for child in route.get("routes", []):
        _override_timings(child, timings, root=False)


def alertmanager_command(binary: str, config_file: Path, storage: Path, port: int) -> list[str]:
    return [
        binary,
        f"--config.file={config_file}",
        f"--storage.path={storage}",
        f"--web.listen-address={LOOPBACK}:{port}",
        "--cluster.listen-address=",  # no HA gossip: one node, and its default port 9094 stays free
        "--log.level=info",
    ]


class _DebianServer(LocalPart):
    """A server from a Debian package with its own home under the data dir: the home is its
    state, and the rendered config file, named in its command line, marks the process as ours."""

    package: str
    config_name: str
    port_variable: str

    def __init__(self, config: InfraConfig) -> None:
        super().__init__(config)
        self.home = config.data_dir / self.name

    @property
    def port_variables(self) -> dict[int, str]:
        return {self.port: self.port_variable}

    @property
    def config_file(self) -> Path:
        return self.home / self.config_name

    @property
    def state_dirs(self) -> tuple[Path, ...]:
        return (self.home,)

    @property
    def marker(self) -> str:
        return str(self.config_file)

    def check_installed(self) -> None:
        require_program(self.binary_name, self.package)


class AlertmanagerPart(_DebianServer):
    name = "alertmanager"
    title = "Alertmanager"
    startup_timeout = 30.0
    binary_name = "prometheus-alertmanager"
    package = "prometheus-alertmanager"
    config_name = "alertmanager.yml"
    port_variable = "PXSTREAM_ALERTMANAGER_URL"

    @property
    def port(self) -> int:
        return self.config.alertmanager_port

    @property
    def url(self) -> str:
        return self.config.alertmanager_url

    @property
    def storage_dir(self) -> Path:
        return self.home / "data"

    def prepare(self, progress: Progress) -> None:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        webhook_base = self.config.alert_webhook_url or None
        self.config_file.write_text(yaml.safe_dump(render_alertmanager_config(webhook_base), sort_keys=False))

    def command(self) -> list[str]:
        binary = require_program(self.binary_name, self.package)
        return alertmanager_command(binary, self.config_file, self.storage_dir, self.port)

    def answers(self, timeout: float = 3.0) -> bool:
        # /-/ready alone would also accept a Prometheus on this port; only Alertmanager has /api/v2/status.
        base = f"http://{LOOPBACK}:{self.port}"
        return http_ok(f"{base}/-/ready", timeout) and http_ok(f"{base}/api/v2/status", timeout)


def render_prometheus_config(config: InfraConfig) -> dict[str, Any]:
    """The checked-in Prometheus config with this machine's ports and absolute rule paths."""
    rendered = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    rendered["rule_files"] = [str(PROMETHEUS_RULES / "*.yml")]
    rendered["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"{LOOPBACK}:{config.alertmanager_port}"]}]}
    ]
    for job in rendered["scrape_configs"]:
        if job["job_name"] == "pxstream-worker":
            job["static_configs"] = [{"targets": [config.metrics_target]}]
        elif job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [f"{LOOPBACK}:{config.prometheus_port}"]}]
    return rendered


class PrometheusPart(_DebianServer):
    name = "prometheus"
    title = "Prometheus"
    startup_timeout = 30.0
    binary_name = "prometheus"
    package = "prometheus"
    config_name = "prometheus.yml"
    port_variable = "PXSTREAM_PROMETHEUS_PORT"

    @property
    def port(self) -> int:
        return self.config.prometheus_port

    @property
    def url(self) -> str:
        return self.config.prometheus_url

    def prepare(self, progress: Progress) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(yaml.safe_dump(render_prometheus_config(self.config), sort_keys=False))

    def command(self) -> list[str]:
        return [
            require_program(self.binary_name, self.package),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.home / 'data'}",
            "--storage.tsdb.retention.time=7d",
            f"--web.listen-address={LOOPBACK}:{self.port}",
        ]

    def answers(self, timeout: float = 3.0) -> bool:
        base = f"http://{LOOPBACK}:{self.port}"  # buildinfo: Prometheus's own API, not Alertmanager's
        return http_ok(f"{base}/-/ready", timeout) and http_ok(f"{base}/api/v1/status/buildinfo", timeout)
