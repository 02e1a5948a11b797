"""HTTP limits for the connectors: the error each HTTP status means to the run loop (bad
credentials stop, overload waits honouring `Retry-After`, a server error retries). Pacing a
connector's own requests is connectors/ratelimit.py's RequestPacer."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from connectors.exceptions import ConnectorConfigError, SourceUnavailable


class RateLimited(SourceUnavailable):
    """The source asked us to slow down; `retry_after` is how long it wants us to wait (seconds)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(headers: Any, now: float | None = None) -> float:
    """Seconds to wait from `Retry-After` (seconds or HTTP date) or `X-RateLimit-Reset` (epoch s).

    Care Opinion documents `X-RateLimit-Reset` as "when the current period refreshes in UNIX epoch
    seconds"; a small value is read as a delay in seconds, which is what some gateways send.
    """
    from email.utils import parsedate_to_datetime

    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            with contextlib.suppress(TypeError, ValueError):
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        with contextlib.suppress(ValueError):
            number = float(reset)
            return max(0.0, number - now) if number > 1_000_000_000 else max(0.0, number)
    return 1.0


def check_status(status: int, headers: Any, where: str) -> None:
    """Raise the error that matches an HTTP status: bad credentials stop, overload waits, 5xx retries."""
    if 200 <= status < 300 or status == 304:
        return
    if status in (401, 403):
        raise ConnectorConfigError(f"{where}: HTTP {status} — the key or token was refused; check it")
    if 300 <= status < 400:
        raise ConnectorConfigError(
            f"{where}: HTTP {status} redirect to {headers.get('Location', '?')} — "
            "an invalid key is redirected to a login page; check the key and the URL"
        )
    if status == 404:
        raise ConnectorConfigError(f"{where}: HTTP 404 — check the URL, instance or code")
    if status == 429:
        raise RateLimited(f"{where}: HTTP 429 too many requests", retry_after_seconds(headers))
    raise SourceUnavailable(f"{where}: HTTP {status}")
