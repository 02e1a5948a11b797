"""JSON over HTTP for review APIs: rate-limited, and patient with 429s.

A 429 is answered by waiting until the server's own reset time and asking again (the page is
not lost and the pass continues); only repeated 429s escape as `RateLimited` to the run loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from connectors.exceptions import SourceUnavailable
from connectors.http_limits import RateLimited, check_status
from connectors.ratelimit import RequestPacer
from connectors.runtime import aiohttp

log = logging.getLogger(__name__)


async def get_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    where: str,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    limiter: RequestPacer | None = None,
    max_rate_limited: int = 5,
    longest_wait_s: float = 300.0,
) -> Any:
    for _attempt in range(max_rate_limited + 1):
        if limiter is not None:
            await limiter.acquire()
        try:
            async with session.get(url, params=params, headers=headers, allow_redirects=False) as response:
                try:
                    check_status(response.status, response.headers, where)
                except RateLimited as limited:
                    wait = min(limited.retry_after, longest_wait_s)
                    log.info("%s: rate limited; waiting %.1fs as the server asked", where, wait)
                    await asyncio.sleep(wait)
                    continue
                content_type = response.headers.get("Content-Type", "")
                if "json" not in content_type:
                    raise SourceUnavailable(
                        f"{where}: expected JSON, got {content_type or 'no content type'}"
                    )
                return await response.json(content_type=None)
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"{where}: {exc}") from exc
    raise RateLimited(f"{where}: still rate limited after {max_rate_limited} waits", retry_after=60.0)
