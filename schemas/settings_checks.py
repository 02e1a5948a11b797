"""How each environment value is checked: one `ConfigError` line naming the variable and the fault.

Kept beside `schemas/settings.py` (which says *which* variables exist) so the object that reads
the environment stays short enough to read as the list of pxstream's settings
(docs/contracts.md, "Environment variables"; docs/operations-errors.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from schemas.errors import ConfigError

CHDB_SCHEME = "chdb://"
MIN_SECRET_CHARS = 32  # an HMAC key of 32+ characters (docs/owners-page.md)
_HEAP = re.compile(r"[1-9][0-9]{0,6}[kKmMgG]?")
_KAFKA_NAME = re.compile(r"[A-Za-z0-9._-]*")  # Kafka's legal topic and group characters
MAX_PREFIX = 100  # leaves room under Kafka's 249 for the longest topic and changelog names
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


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


def kafka_name(name: str, text: str) -> str:
    """A topic prefix or app id: Kafka's own characters only, so every topic and group name built
    from it is legal (and an app id, also a directory name, cannot climb out with `/` or `..`)."""
    text = text.strip()
    if not _KAFKA_NAME.fullmatch(text) or text in (".", ".."):
        raise ConfigError(f"{name}={text[:200]!r}: use letters, digits, '.', '_' and '-' only")
    if len(text) > MAX_PREFIX:
        raise ConfigError(f"{name}: {len(text)} characters; at most {MAX_PREFIX}")
    return text


def host_port(name: str, value: str) -> str:
    """One `host:port` (a scrape target); ConfigError naming the variable otherwise."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or "/" in host or " " in host:
        raise ConfigError(f"{name}={value[:200]!r} is not host:port")
    _port(name, port, value.strip())
    return value.strip()


def port(name: str, text: str) -> int:
    """A TCP port, 1-65535."""
    return _port(name, text.strip(), text.strip())


def _port(name: str, text: str, where: str) -> int:
    number = int(text) if text.isdigit() and len(text) <= 5 else -1
    if not 0 < number < 65536:
        if text == where:
            raise ConfigError(f"{name}={text[:200]!r}: not a TCP port (1-65535)")
        raise ConfigError(f"{name}: {text!r} in {where!r} is not a TCP port")
    return number


def positive_int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"{name}={text[:200]!r}: expected a whole number") from None
    if value <= 0:
        raise ConfigError(f"{name}={text!r}: must be positive")
    return value


def positive_float(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ConfigError(f"{name}={text[:200]!r}: expected a number") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name}={text!r}: must be a positive number")
    return value


def retention_days(name: str, text: str) -> int | None:
    """Days to keep stored rows; unset, empty or 0 keeps them forever (None)."""
    if not text.strip():
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigError(f"{name}={text[:200]!r}: expected a whole number of days (0 = keep)") from None
    if value < 0:
        raise ConfigError(f"{name}={text!r}: must not be negative (0 = keep)")
    return value or None


def boolean(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ConfigError(f"{name}={text[:200]!r}: expected true or false")


def heap_size(name: str, text: str) -> str:
    """A JVM heap size as `-Xmx` takes it: a number with an optional k, m or g."""
    if not _HEAP.fullmatch(text.strip()):
        raise ConfigError(f"{name}={text[:200]!r}: expected a JVM heap size such as 512m or 2g")
    return text.strip()


def web_secret(name: str, text: str) -> str:
    """Unset is allowed (signing is off); set but too short is a mistake worth stopping for, not a
    reason to switch signing off quietly."""
    if text and len(text) < MIN_SECRET_CHARS:
        raise ConfigError(
            f"{name}: {len(text)} characters; use at least {MIN_SECRET_CHARS} (or leave it unset)"
        )
    return text


def check_http_url(name: str, url: str) -> None:
    """An http(s) URL with a host and, if any, a valid port; ConfigError naming the variable."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name}={_without_password(url)!r} is not an http(s)://host[:port] URL")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise ConfigError(f"{name}: bad port in {parts.netloc.rpartition('@')[2]!r}") from None


def http_url(name: str, url: str) -> str:
    """`check_http_url`, returning the URL without a trailing slash (a base others append to)."""
    url = url.strip().rstrip("/")
    check_http_url(name, url)
    return url


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
