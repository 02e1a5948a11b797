"""pxstream's one configuration object, read from the environment once, at the command's edge.

Every variable of docs/contracts.md "Environment variables" (and of the README's table) is read
here and nowhere else: `pxstream.cli` builds one `Settings` before it runs any command and
hands it down; library modules take the values they need as parameters. Tests build their own
from a plain dict (`Settings.from_env({...})`) instead of patching the process environment.

Every value is checked when it is read, so a bad one stops the command at once with one
`ConfigError` line naming the variable and the fault (exit 2) instead of failing later, deep in
a retry loop that never ends (docs/operations-errors.md). Whether the services answer is the
command's business (exit 3), not this module's.

Connector secrets are named by the connector's options (`token_env: MASTODON_TOKEN`), so they
cannot be listed here in advance: `Settings.secret(name)` reads them from the same snapshot of
the environment, which stays the one place pxstream reads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar

from schemas.errors import ConfigError
from schemas.settings_checks import (
    CHDB_SCHEME,
    MIN_SECRET_CHARS,
    ClickHouseTarget,
    boolean,
    bootstrap_addresses,
    check_http_url,
    heap_size,
    host_port,
    http_url,
    kafka_name,
    parse_clickhouse_url,
    port,
    positive_float,
    positive_int,
    retention_days,
    web_secret,
)

__all__ = [
    "CHDB_SCHEME",
    "DEFAULTS",
    "MIN_SECRET_CHARS",
    "ClickHouseTarget",
    "Settings",
    "bootstrap_addresses",
    "check_http_url",
    "parse_clickhouse_url",
]

DEFAULTS: Final[dict[str, str]] = {
    "PXSTREAM_KAFKA_BOOTSTRAP": "localhost:9092",
    "PXSTREAM_CLICKHOUSE_URL": "chdb://./.pxstream/clickhouse",
    "PXSTREAM_ALERTMANAGER_URL": "http://localhost:9093",
    "PXSTREAM_RULES": "infra/rules/hotspots.yaml",
    "PXSTREAM_DATA_DIR": "./.pxstream",
    "PXSTREAM_APP_ID": "pxstream-worker",
    "PXSTREAM_TOPIC_PREFIX": "",
    "PXSTREAM_SINK_BATCH_SIZE": "5000",
    "PXSTREAM_SINK_LINGER_S": "1",
    "PXSTREAM_CLICKHOUSE_RETENTION_DAYS": "",
    "PXSTREAM_ACTIONS": "",  # empty: infra/actions/actions.yaml here, else the shipped one
    "PXSTREAM_WEB_SECRET": "",
    "PXSTREAM_PUBLIC_URL": "http://localhost:8080",
    "PXSTREAM_INGEST_TOKENS": "",
    "PXSTREAM_GRAFANA_URL": "http://localhost:3000",
    "PXSTREAM_GRAFANA_TOKEN": "",
    "PXSTREAM_GRAFANA_CLICKHOUSE_PORT": "8443",
    "PXSTREAM_GRAFANA_CLICKHOUSE_SECURE": "true",
    "PXSTREAM_GRAFANA_PROMETHEUS_URL": "http://localhost:9090",
    "PXSTREAM_KAFKA_CONTROLLER_PORT": "9095",
    "PXSTREAM_PROMETHEUS_PORT": "9090",
    "PXSTREAM_KAFKA_HEAP": "512m",
    "PXSTREAM_METRICS_TARGET": "localhost:6066",
    "PXSTREAM_ALERT_WEBHOOK_URL": "",
    "PXSTREAM_FFT_DATA": "",  # empty: the shared data directory beside the checkout (lab/)
    "USER": "operator",
}
T = TypeVar("T")


@dataclass(frozen=True)
class WorkerSettings:
    """What the worker's consumer groups and topics are called (`pxstream worker` flags win)."""

    app_id: str = "pxstream-worker"
    topic_prefix: str = ""  # prepended to every topic name: tests and benchmarks share one broker


@dataclass(frozen=True)
class SinkSettings:
    batch_size: int = 5000  # records per ClickHouse flush
    linger_s: float = 1.0  # seconds before a partial flush
    retention_days: int | None = None  # None: keep stored rows


@dataclass(frozen=True)
class WebSettings:
    """The owners' page, the actions API and the links the actions stage sends (docs/owners-page.md)."""

    # Signs links and sessions; empty: links are plain and sign-in is off.
    secret: str = field(default="", repr=False)
    public_url: str = "http://localhost:8080"
    ingest_tokens: Path | None = None  # `pxstream connect http`'s tokens file

    @property
    def secret_key(self) -> bytes | None:
        return self.secret.encode("utf-8") if self.secret else None


@dataclass(frozen=True)
class GrafanaSettings:
    url: str = "http://localhost:3000"  # base of dashboard links in alerts and on the owners' page
    token: str = field(default="", repr=False)  # default for `grafana publish --token`
    # Written as values into the data-source provisioning by `grafana export`.
    clickhouse_port: int = 8443
    clickhouse_secure: bool = True
    prometheus_url: str = "http://localhost:9090"


@dataclass(frozen=True)
class LocalPartsSettings:
    """What `pxstream infra up` runs on this machine besides the ports in the core URLs."""

    kafka_controller_port: int = 9095
    prometheus_port: int = 9090
    kafka_heap: str = "512m"
    metrics_target: str = "localhost:6066"  # the worker /metrics address Prometheus scrapes
    alert_webhook_url: str = ""  # when set, every Alertmanager receiver posts to URL/<receiver>


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = DEFAULTS["PXSTREAM_KAFKA_BOOTSTRAP"]
    clickhouse_url: str = DEFAULTS["PXSTREAM_CLICKHOUSE_URL"]
    alertmanager_url: str = DEFAULTS["PXSTREAM_ALERTMANAGER_URL"]  # empty: do not push alerts
    rules_path: Path = Path(DEFAULTS["PXSTREAM_RULES"])
    data_dir: Path = Path(DEFAULTS["PXSTREAM_DATA_DIR"])
    actions_path: Path | None = None  # None: infra/actions/actions.yaml here, else the shipped one
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    sink: SinkSettings = field(default_factory=SinkSettings)
    web: WebSettings = field(default_factory=WebSettings)
    grafana: GrafanaSettings = field(default_factory=GrafanaSettings)
    local: LocalPartsSettings = field(default_factory=LocalPartsSettings)
    fft_data: Path | None = None  # lab/ only; None: the shared data directory beside the checkout
    user: str = "operator"  # who `pxstream actions complete` records by default ($USER)
    # The snapshot `secret` and `child_environment` read: never compared or printed.
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of `env` (default: the process environment); ConfigError names a bad one."""
        snapshot = MappingProxyType(dict(os.environ if env is None else env))
        get = _Reader(snapshot)
        settings = cls(
            kafka_bootstrap=get("PXSTREAM_KAFKA_BOOTSTRAP").strip(),
            clickhouse_url=get("PXSTREAM_CLICKHOUSE_URL").strip(),
            alertmanager_url=get("PXSTREAM_ALERTMANAGER_URL").strip().rstrip("/"),
            rules_path=Path(get("PXSTREAM_RULES")),
            data_dir=Path(get("PXSTREAM_DATA_DIR")),
            actions_path=get.path("PXSTREAM_ACTIONS"),
            worker=WorkerSettings(
                app_id=get.checked("PXSTREAM_APP_ID", kafka_name),
                topic_prefix=kafka_name("PXSTREAM_TOPIC_PREFIX", get("PXSTREAM_TOPIC_PREFIX")),
            ),
            sink=SinkSettings(
                batch_size=get.checked("PXSTREAM_SINK_BATCH_SIZE", positive_int),
                linger_s=get.checked("PXSTREAM_SINK_LINGER_S", positive_float),
                retention_days=get.checked("PXSTREAM_CLICKHOUSE_RETENTION_DAYS", retention_days),
            ),
            web=WebSettings(
                secret=get.checked("PXSTREAM_WEB_SECRET", web_secret),
                public_url=get.checked("PXSTREAM_PUBLIC_URL", http_url),
                ingest_tokens=get.path("PXSTREAM_INGEST_TOKENS"),
            ),
            grafana=GrafanaSettings(
                url=get.checked("PXSTREAM_GRAFANA_URL", http_url),
                token=get("PXSTREAM_GRAFANA_TOKEN").strip(),
                clickhouse_port=get.checked("PXSTREAM_GRAFANA_CLICKHOUSE_PORT", port),
                clickhouse_secure=get.checked("PXSTREAM_GRAFANA_CLICKHOUSE_SECURE", boolean),
                prometheus_url=get.checked("PXSTREAM_GRAFANA_PROMETHEUS_URL", http_url),
            ),
            local=LocalPartsSettings(
                kafka_controller_port=get.checked("PXSTREAM_KAFKA_CONTROLLER_PORT", port),
                prometheus_port=get.checked("PXSTREAM_PROMETHEUS_PORT", port),
                kafka_heap=get.checked("PXSTREAM_KAFKA_HEAP", heap_size),
                metrics_target=get.checked("PXSTREAM_METRICS_TARGET", host_port),
                alert_webhook_url=get.url_or_empty("PXSTREAM_ALERT_WEBHOOK_URL"),
            ),
            fft_data=get.path("PXSTREAM_FFT_DATA"),
            user=get.or_default("USER").strip() or DEFAULTS["USER"],
            environ=snapshot,
        )
        settings.check()
        return settings

    def check(self) -> None:
        """The core values' checks; the groups' values are checked as they are read."""
        bootstrap_addresses(self.kafka_bootstrap)
        parse_clickhouse_url(self.clickhouse_url)
        if self.alertmanager_url:
            check_http_url("PXSTREAM_ALERTMANAGER_URL", self.alertmanager_url)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ConfigError(f"PXSTREAM_DATA_DIR: {self.data_dir} is a file, not a directory")
        if self.actions_path is not None and self.actions_path.is_dir():
            raise ConfigError(f"PXSTREAM_ACTIONS: {self.actions_path} is a directory, not a YAML file")

    def secret(self, name: str) -> str:
        """A connector secret from the variable its options name (e.g. `MASTODON_TOKEN`); "" when unset."""
        return self.environ.get(name, "")

    def child_environment(self, **overrides: str) -> dict[str, str]:
        """The environment a child process (worker, HTTP server) starts with: this one plus `overrides`."""
        return {**self.environ, **overrides}


class _Reader:
    """Reads the snapshot; a name missing from `DEFAULTS` is a KeyError, so that table stays the
    complete list of variables (tests/unit/test_settings_docs.py checks the docs against it)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def __call__(self, name: str) -> str:
        return self.env.get(name, DEFAULTS[name])

    def or_default(self, name: str) -> str:
        """Set-but-empty means the default (a shell's `VAR=` is a common way to say "unset")."""
        return self(name).strip() or DEFAULTS[name]

    def checked(self, name: str, check: Callable[[str, str], T]) -> T:
        """The value (or its default, when empty) through `check`, which names `name` in its error."""
        return check(name, self.or_default(name))

    def path(self, name: str) -> Path | None:
        value = self(name).strip()
        return Path(value) if value else None

    def url_or_empty(self, name: str) -> str:
        value = self(name).strip()
        return http_url(name, value) if value else ""
