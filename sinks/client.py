"""Connecting to ClickHouse from `PXSTREAM_CLICKHOUSE_URL`, in either of its two forms.

`chdb://PATH` opens the embedded engine (chDB) on a directory; `http(s)://user:pass@host:port/db`
talks to a server. Both give a clickhouse-connect `Client`, so every other module runs the same
SQL against either.

Both URL forms are parsed and checked in `schemas.settings` (once, for every command); this
module turns what the engine or server answers into one operator-readable line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schemas.settings import CHDB_SCHEME, ClickHouseTarget, parse_clickhouse_url
from sinks.exceptions import ConfigError, EngineBusyError, UnreachableError

__all__ = ["CHDB_SCHEME", "ClickHouseTarget", "connect", "is_unreachable", "parse_clickhouse_url"]

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

_LOCKED_MARKERS = ("Cannot lock file", "Another server instance")


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
        try:
            target.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"PXSTREAM_CLICKHOUSE_URL: cannot use {target.path} as the embedded engine's directory: "
                f"{exc.strerror or exc}"
            ) from None
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
        # Something answered, but not as ClickHouse would (an HTTP 404 from another service, a
        # refused login): the URL is wrong, and no retry will fix it.
        raise ConfigError(
            f"PXSTREAM_CLICKHOUSE_URL: {target.describe()} answered, but not as ClickHouse: {_answer(exc)}"
        ) from None


def check_answers_as_clickhouse(url: str) -> None:
    """For a command about to start a sink: a server URL that answers as something else is a
    ConfigError now (exit 2), not a sink failing later. A server that does not answer yet, or an
    embedded engine another process holds, is left to the sink, which waits for it (a standby)."""
    import logging

    target = parse_clickhouse_url(url)
    if target.kind != "http":
        return
    try:
        connect(target).close()
    except UnreachableError as exc:
        logging.getLogger(__name__).warning("%s; the sink will keep trying", exc)


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


def _answer(exc: BaseException) -> str:
    """The status or error code of a refusal, never the body (which may echo anything)."""
    text = str(exc)
    status = re.search(r"HTTP status (\d+)", text)
    if status:
        return f"HTTP {status.group(1)}"
    code = re.search(r"Code: (\d+)\. DB::Exception: ([^.(]{0,120})", text)
    if code:
        return f"error {code.group(1)}: {code.group(2).strip()}"
    return type(exc).__name__


def _first_line(exc: BaseException) -> str:
    """The useful part of a driver error: the OS reason when there is one."""
    text = str(exc)
    reason = re.search(r"\[Errno -?\d+\] [^'\")]+", text)
    if reason:
        return reason.group(0).strip()
    lines = text.strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
