"""Process-wide settings read from the environment (docs/contracts.md, "Environment"), checked once here.

One frozen object, built once at start-up and passed down, so tests can build their own
without patching globals.

Every value is checked when it is read, so every command that reads the settings stops at once
with one `ConfigError` line naming the variable (exit 2) instead of failing later, deep in a
retry loop that never ends: an empty or malformed Kafka bootstrap, a ClickHouse URL with an
unknown scheme or a `chdb://` path that is a file, an Alertmanager URL that is not a URL, a data
directory that is a file (docs/operations-errors.md). Whether the services answer is the
command's business (exit 3), not this module's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from schemas.errors import ConfigError

DEFAULTS: dict[str, str] = {
    "PXSTREAM_KAFKA_BOOTSTRAP": "localhost:9092",
    "PXSTREAM_CLICKHOUSE_URL": "chdb://./.pxstream/clickhouse",
    "PXSTREAM_ALERTMANAGER_URL": "http://localhost:9093",
    "PXSTREAM_RULES": "infra/rules/hotspots.yaml",
    "PXSTREAM_DATA_DIR": "./.pxstream",
}
CHDB_SCHEME = "chdb://"


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str
    clickhouse_url: str
    alertmanager_url: str  # empty: do not push alerts
    rules_path: Path
    data_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of `env` (default: the process environment); ConfigError names a bad one."""
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, DEFAULTS[name])

        settings = cls(
            kafka_bootstrap=get("PXSTREAM_KAFKA_BOOTSTRAP").strip(),
            clickhouse_url=get("PXSTREAM_CLICKHOUSE_URL").strip(),
            alertmanager_url=get("PXSTREAM_ALERTMANAGER_URL").strip().rstrip("/"),
            rules_path=Path(get("PXSTREAM_RULES")),
            data_dir=Path(get("PXSTREAM_DATA_DIR")),
        )
        settings.check()
        return settings

    def check(self) -> None:
        bootstrap_addresses(self.kafka_bootstrap)
        parse_clickhouse_url(self.clickhouse_url)
        if self.alertmanager_url:
            check_http_url("PXSTREAM_ALERTMANAGER_URL", self.alertmanager_url)
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise ConfigError(f"PXSTREAM_DATA_DIR: {self.data_dir} is a file, not a directory")


def bootstrap_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """`host:port[,host:port…]` as (host, port) pairs; ConfigError for anything else."""
    name = "PXSTREAM_KAFKA_BOOTSTRAP"
    if not bootstrap.strip():
        raise ConfigError(f"{name} is empty: set it to host:port[,host:port…], e.g. localhost:9092")
    addresses = []
    for server in bootstrap.split(","):
        host, sep, port = server.strip().rpartition(":")
        if not sep or not host or "/" in host or " " in host:
            raise ConfigError(f"{name}={bootstrap!r}: {server.strip()!r} is not host:port")
        addresses.append((host.strip("[]"), _port(name, port, server.strip())))
    return addresses


def _port(name: str, text: str, where: str) -> int:
    port = int(text) if text.isdigit() and len(text) <= 5 else -1
    if not 0 < port < 65536:
        raise ConfigError(f"{name}: {text!r} in {where!r} is not a TCP port")
    return port


def check_http_url(name: str, url: str) -> None:
    """An http(s) URL with a host and, if any, a valid port; ConfigError naming the variable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={_without_password(url)!r} is not an http(s)://host[:port] URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"{name}: bad port in {parts.netloc.rpartition('@')[2]!r}") from None


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url[:200]
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()[:200]


@dataclass(frozen=True)
class ClickHouseTarget:
    """Where ClickHouse is; `describe()` is safe to print (never contains the password)."""

    kind: str  # "chdb" or "http"
    path: Path | None = None
    host: str = ""
    port: int = 0
    secure: bool = False
    username: str = "default"
    password: str = ""
    database: str = "default"

    def describe(self) -> str:
        if self.kind == "chdb":
            return f"embedded ClickHouse at {self.path}"
        return f"ClickHouse server at {self.host}:{self.port}"


def parse_clickhouse_url(url: str) -> ClickHouseTarget:
    """Read either URL form; everything after `chdb://` is a path relative to the cwd.

    `chdb://` is parsed here rather than by clickhouse-connect, whose DSN parser reads
    `chdb://./.pxstream/clickhouse` as location "." and database ".pxstream".
    """
    url = url.strip()
    if url.startswith(CHDB_SCHEME):
        raw_path = url[len(CHDB_SCHEME) :]
        if not raw_path:
            raise ConfigError(
                "PXSTREAM_CLICKHOUSE_URL: chdb:// needs a path, e.g. chdb://./.pxstream/clickhouse"
            )
        path = Path(raw_path).expanduser().absolute()
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"PXSTREAM_CLICKHOUSE_URL: chdb://{raw_path} is a file; it must name a directory"
            )
        return ClickHouseTarget(kind="chdb", path=path)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"PXSTREAM_CLICKHOUSE_URL: unsupported scheme {parts.scheme!r} "
            "(use chdb://PATH or http(s)://user:pass@host:port/db)"
        )
    secure = parts.scheme == "https"
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError:
        where = parts.netloc.rpartition("@")[2]
        raise ConfigError(f"PXSTREAM_CLICKHOUSE_URL: bad port in {where!r}") from None
    if not parts.hostname:
        raise ConfigError("PXSTREAM_CLICKHOUSE_URL: no host in the http(s) URL")
    database = unquote(parts.path.strip("/")) or "default"
    return ClickHouseTarget(
        kind="http",
        host=parts.hostname,
        port=port,
        secure=secure,
        username=unquote(parts.username) if parts.username else "default",
        password=unquote(parts.password) if parts.password else "",
        database=database,
    )
