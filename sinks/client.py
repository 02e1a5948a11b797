"""Connecting to ClickHouse from `PXSTREAM_CLICKHOUSE_URL`, in either of its two forms.

`chdb://PATH` opens the embedded engine (chDB) on a directory; `http(s)://user:pass@host:port/db`
talks to a server. Both give a clickhouse-connect `Client`, so every other module runs the same
SQL against either.

`chdb://` is parsed here rather than by clickhouse-connect, whose DSN parser reads
`chdb://./.pxstream/clickhouse` as location "." and database ".pxstream".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from sinks.exceptions import ConfigError, EngineBusyError, UnreachableError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

CHDB_SCHEME = "chdb://"
_LOCKED_MARKERS = ("Cannot lock file", "Another server instance")


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
    """Read either URL form; everything after `chdb://` is a path relative to the cwd."""
    url = url.strip()
    if url.startswith(CHDB_SCHEME):
        raw_path = url[len(CHDB_SCHEME) :]
        if not raw_path:
            raise ConfigError(
                "PXSTREAM_CLICKHOUSE_URL: chdb:// needs a path, e.g. chdb://./.pxstream/clickhouse"
            )
        return ClickHouseTarget(kind="chdb", path=Path(raw_path).expanduser().absolute())
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ConfigError(
            f"PXSTREAM_CLICKHOUSE_URL: unsupported scheme {parts.scheme!r} "
            "(use chdb://PATH or http(s)://user:pass@host:port/db)"
        )
    secure = parts.scheme == "https"
    try:
        port = parts.port or (8443 if secure else 8123)
    except ValueError as exc:
        where = parts.netloc.rpartition("@")[2]
        raise ConfigError(f"PXSTREAM_CLICKHOUSE_URL: bad port in {where!r}") from exc
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


def connect(
    url_or_target: str | ClickHouseTarget,
    *,
    settings: dict[str, Any] | None = None,
    database: str | None = None,
) -> Client:
    """Open a client, turning the engine's failures into operator-readable errors.

    `database` overrides the URL's (tests use one scratch database per test).
    """
    import clickhouse_connect
    from clickhouse_connect.driver.exceptions import ClickHouseError

    target = parse_clickhouse_url(url_or_target) if isinstance(url_or_target, str) else url_or_target
    if target.kind == "chdb":
        assert target.path is not None
        target.path.mkdir(parents=True, exist_ok=True)
        try:
            return clickhouse_connect.get_client(
                interface="chdb", path=str(target.path), settings=settings or {}, database=database
            )
        except ClickHouseError as exc:
            if any(marker in str(exc) for marker in _LOCKED_MARKERS) or _locked_elsewhere(target.path):
                raise EngineBusyError(
                    f"{target.describe()} is in use by another process{_holder(target.path)}: the embedded "
                    "engine allows one process per data directory - stop it (e.g. a running "
                    "`pxstream worker` or `pxstream sink`) or point PXSTREAM_CLICKHOUSE_URL at a server"
                ) from None
            raise
    try:
        return clickhouse_connect.get_client(
            host=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            database=database or target.database,
            secure=target.secure,
            interface="https" if target.secure else "http",
            settings=settings or {},
            connect_timeout=5,
        )
    except ClickHouseError as exc:
        if _looks_unreachable(exc):
            raise UnreachableError(f"{target.describe()} does not answer ({_first_line(exc)})") from None
        raise


def is_unreachable(exc: BaseException) -> bool:
    """True for failures that mean "ClickHouse is not there right now" (worth a retry)."""
    return isinstance(exc, UnreachableError | EngineBusyError) or _looks_unreachable(exc)


def _looks_unreachable(exc: BaseException) -> bool:
    from clickhouse_connect.driver.exceptions import OperationalError

    return isinstance(exc, OperationalError | ConnectionError | TimeoutError)


def _locked_elsewhere(path: Path) -> bool:
    """Whether another process holds the engine's lock on `path` (ClickHouse flocks `status`).

    Asked only after chDB failed to open the directory: had this process held the engine, the
    open would have succeeded, so a held lock means someone else.
    """
    import fcntl

    try:
        with (path / "status").open("rb") as status:
            try:
                fcntl.flock(status, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(status, fcntl.LOCK_UN)
    except OSError:
        return False
    return False


def _holder(path: Path) -> str:
    """Best effort: the pid the engine wrote into its status file."""
    try:
        match = re.search(r"PID:\s*(\d+)", (path / "status").read_text())
    except OSError:
        return ""
    return f" (pid {match.group(1)})" if match else ""


def _first_line(exc: BaseException) -> str:
    """The useful part of a driver error: the OS reason when there is one."""
    text = str(exc)
    reason = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if reason:
        return reason.group(0).strip()
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
