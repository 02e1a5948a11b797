"""`pxstream connect rss`: local news from RSS and Atom feeds, as `local_media` events.

Each poll fetches every feed with a conditional GET (ETag / If-Modified-Since from the cursor),
so an unchanged feed costs one 304. New entries are recognised by `guid` (RSS) / `id` (Atom),
remembered per feed in the cursor, and matched to providers by name, alias and hashtag through
the reference data. An entry that names no known provider is skipped unless the feed is bound to
one provider (`--provider`, e.g. a trust's own press feed or a news search for it).
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.exceptions import ConnectorConfigError, SourceUnavailable
from connectors.http_limits import check_status
from connectors.mapping import ReferenceLike, clip, iso_utc, placement, source_id, strip_html
from connectors.runtime import Batch, Source, aiohttp

log = logging.getLogger(__name__)

SEEN_PER_FEED = 2000  # entries remembered per feed: far more than any feed carries at once
USER_AGENT = "pxstream-connector/0.1 (+https://github.com/pxstream)"


@dataclass(frozen=True)
class FeedConfig:
    url: str
    provider: str | None = None  # bind every entry of this feed to one provider code


class RssSource(Source):
    kind = "rss"

    def __init__(
        self,
        feeds: Sequence[FeedConfig],
        reference: ReferenceLike,
        *,
        poll_interval_s: float = 300.0,
        timeout_s: float = 30.0,
    ) -> None:
        if not feeds:
            raise ConnectorConfigError("rss: give at least one --feed URL")
        for feed in feeds:
            if not feed.url.startswith(("http://", "https://")):
                raise ConnectorConfigError(f"rss: feed {feed.url!r} is not an http(s) URL")
        self.feeds = list(feeds)
        self.reference = reference
        self.poll_interval_s = poll_interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self, cursor: dict[str, Any]) -> str:
        feeds = cursor.get("feeds", {})
        return f"{len(feeds)} feed(s), {sum(len(f.get('seen', [])) for f in feeds.values())} entries seen"

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        state: dict[str, Any] = {"feeds": dict(cursor.get("feeds", {}))}
        for feed in self.feeds:
            feed_state = dict(state["feeds"].get(feed.url, {}))
            events, feed_state = await self._poll_feed(feed, feed_state)
            state["feeds"][feed.url] = feed_state
            yield Batch(events, cursor={"feeds": dict(state["feeds"])})

    async def _poll_feed(
        self, feed: FeedConfig, feed_state: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        import feedparser

        assert self._session is not None, "open() first"
        headers = {}
        if feed_state.get("etag"):
            headers["If-None-Match"] = feed_state["etag"]
        if feed_state.get("modified"):
            headers["If-Modified-Since"] = feed_state["modified"]
        try:
            async with self._session.get(feed.url, headers=headers) as response:
                check_status(response.status, response.headers, f"rss {feed.url}")
                if response.status == 304:
                    return [], feed_state
                body = await response.read()
                response_headers = {k.lower(): v for k, v in response.headers.items()}
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"rss {feed.url}: {exc}") from exc
        parsed = feedparser.parse(body, response_headers=response_headers)
        if parsed.bozo and not parsed.entries:
            raise SourceUnavailable(f"rss {feed.url}: not a feed ({parsed.get('bozo_exception')})")
        seen: list[str] = list(feed_state.get("seen", []))
        seen_set = set(seen)
        feed_title = str(parsed.feed.get("title", ""))
        events = []
        # Oldest first, so a cut-off pass still leaves the newest for next time in order.
        for entry in reversed(parsed.entries):
            native = entry_id(entry)
            if native in seen_set:
                continue
            seen.append(native)
            seen_set.add(native)
            event = map_entry(entry, feed, feed_title, self.reference)
            if event is not None:
                events.append(event)
        new_state = {"seen": seen[-SEEN_PER_FEED:]}
        if response_headers.get("etag"):
            new_state["etag"] = response_headers["etag"]
        if response_headers.get("last-modified"):
            new_state["modified"] = response_headers["last-modified"]
        return events, new_state


def entry_id(entry: Any) -> str:
    """guid / id as the feed gives it; the link, or a hash of title and date, for feeds without one."""
    native = entry.get("id") or entry.get("guid") or entry.get("link")
    if native:
        return str(native)
    basis = f"{entry.get('title', '')}|{entry.get('published', entry.get('updated', ''))}"
    return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()


def _entry_time(entry: Any) -> str | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            # feedparser normalises every date to a UTC struct_time
            return iso_utc(datetime.fromtimestamp(calendar.timegm(value), tz=UTC))
    return iso_utc(entry.get("published") or entry.get("updated"))


def map_entry(
    entry: Any, feed: FeedConfig, feed_title: str, reference: ReferenceLike
) -> dict[str, Any] | None:
    title = strip_html(str(entry.get("title", "")))
    content = entry.get("content")
    body_html = content[0].get("value", "") if content else entry.get("summary", "")
    body = strip_html(str(body_html or ""))
    text = f"{title}\n\n{body}".strip() if body and body != title else title
    if not text:
        return None
    if feed.provider:
        fields = placement(reference.get(feed.provider), feed.provider)
    else:
        orgs = reference.mentions(text)
        if not orgs:
            return None
        fields = placement(orgs[0])
    attributes = {"feed_url": feed.url}
    if entry.get("link"):
        attributes["url"] = str(entry["link"])
    if feed_title:
        attributes["feed_title"] = feed_title[:200]
    return {
        "event_id": source_id("news", entry_id(entry)),
        "source": "local_media",
        "occurred_at": _entry_time(entry) or iso_utc(datetime.now(UTC)),
        "text": clip(text),
        **fields,
        "attributes": attributes,
    }


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> RssSource:
    """From the YAML runner's options: feeds: [URL or {url, provider}], poll_interval_s."""
    feeds = []
    for item in options.get("feeds") or []:
        if isinstance(item, str):
            feeds.append(FeedConfig(item))
        elif isinstance(item, dict) and "url" in item:
            feeds.append(FeedConfig(str(item["url"]), item.get("provider")))
        else:
            raise ConnectorConfigError(f"rss: feed entry {item!r} needs a url")
    return RssSource(feeds, reference, poll_interval_s=float(options.get("poll_interval_s", 300)))


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser("rss", help="local news from RSS/Atom feeds (source local_media)")
    parser.add_argument("--feed", action="append", default=[], metavar="URL", help="feed URL (repeatable)")
    parser.add_argument(
        "--feed-provider",
        action="append",
        default=[],
        metavar="URL=CODE",
        help="a feed about one provider: every entry is attributed to CODE (repeatable)",
    )
    parser.add_argument("--reference", help="reference data directory (ODS files) for provider matching")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between polls (default 300)")
    add_run_arguments(parser, "rss")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args

    feeds = [FeedConfig(url) for url in args.feed]
    for pair in args.feed_provider:
        url, sep, code = pair.rpartition("=")
        if not sep or not url or not code:
            raise ConnectorConfigError(f"--feed-provider {pair!r}: expected URL=ODS_CODE")
        feeds.append(FeedConfig(url, code))
    reference = load_reference(Path(args.reference) if args.reference else None)
    source = RssSource(feeds, reference, poll_interval_s=args.interval)
    return run_source_from_args(args, source)
