"""Where the local parts listen and keep their state, from the settings (schemas/settings.py).

Ports follow the contract variables where one exists (the Kafka port is the one in
`PXSTREAM_KAFKA_BOOTSTRAP`, the Alertmanager port the one in `PXSTREAM_ALERTMANAGER_URL`), so a
test can run a second, private stack next to the shared one just by setting those variables.

The Kafka controller listens on 9095, not on Kafka's customary 9093: that is Alertmanager's port,
and 9094 is Alertmanager's default cluster (gossip) port.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from schemas.errors import ConfigError
from schemas.settings import DEFAULTS, Settings, bootstrap_addresses

LOOPBACK = "127.0.0.1"
LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

REPO_ROOT = Path(__file__).resolve().parent.parent
INFRA_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class InfraConfig:
    data_dir: Path  # absolute
    kafka_host: str  # as the bootstrap names it: clients connect here
    kafka_port: int
    controller_port: int
    alertmanager_port: int
    prometheus_port: int
    kafka_heap: str
    metrics_target: str  # host:port of the worker's /metrics, scraped by Prometheus
    clickhouse_url: str = DEFAULTS["PXSTREAM_CLICKHOUSE_URL"]  # `infra down --purge` clears an embedded one
    alert_webhook_url: str = ""  # when set, every Alertmanager receiver posts to URL/<receiver>

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.kafka_host}:{self.kafka_port}"

    @property
    def alertmanager_url(self) -> str:
        return f"http://{LOOPBACK}:{self.alertmanager_port}"

    @property
    def prometheus_url(self) -> str:
        return f"http://{LOOPBACK}:{self.prometheus_port}"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @classmethod
    def from_settings(cls, settings: Settings) -> InfraConfig:
        host, kafka_port = _first_bootstrap(settings.kafka_bootstrap)
        return cls(
            data_dir=settings.data_dir.expanduser().resolve(),
            kafka_host=host,
            kafka_port=kafka_port,
            controller_port=settings.local.kafka_controller_port,
            alertmanager_port=_url_port(settings.alertmanager_url, default=9093),
            prometheus_port=settings.local.prometheus_port,
            kafka_heap=settings.local.kafka_heap,
            metrics_target=settings.local.metrics_target,
            clickhouse_url=settings.clickhouse_url,
            alert_webhook_url=settings.local.alert_webhook_url,
        )

    @property
    def kafka_is_local(self) -> bool:
        """`infra up` runs a broker on this machine only; a remote cluster is not ours to start."""
        return self.kafka_host in LOCAL_NAMES


def _first_bootstrap(bootstrap: str) -> tuple[str, int]:
    """The first bootstrap server: the one `infra up` runs when it is local."""
    host, port = bootstrap_addresses(bootstrap)[0]
    return host, port


def _url_port(url: str, default: int) -> int:
    if not url:
        return default
    try:
        port = urlsplit(url).port
    except ValueError as exc:
        raise ConfigError(f"PXSTREAM_ALERTMANAGER_URL={url!r}: {exc}") from exc
    return port or default
