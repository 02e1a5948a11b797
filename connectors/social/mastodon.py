"""`pxstream connect mastodon`: public posts on hashtags that name a provider, as `social_media`.

Transports (`--transport`):
* `sse` (default) — `GET /api/v1/streaming/hashtag?tag=…` per tag: `event:` / `data:` lines,
  `:` heartbeats, blank line ends a message;
* `websocket` — `/api/v1/streaming` with `{"type":"subscribe","stream":"hashtag","tag":…}` per
  tag; each message is `{"stream": [...], "event": "update", "payload": "<Status JSON as a string>"}`
  (the payload is JSON inside JSON: parsed twice);
* `poll` — `GET /api/v1/timelines/tag/:tag?min_id=…` every `--interval` seconds.
Streaming needs a user token with `read:statuses` (Mastodon 4.2+); it goes in the Authorization
header, never in a URL.

Streaming has no replay, so "no gap" comes from the cursor: the newest status id seen per tag.
Every (re)connect first polls each tag's timeline from that id (`min_id`), then streams. Known
limit: Mastodon gives late-federated remote posts ids from their creation time, so a post that
reaches the instance long after it was written can sort below the cursor and be missed by the
catch-up poll (it is still seen live when it arrives while the stream is connected).

HTML content is reduced to text; boosts are mapped to the boosted post (one event per post, not
per boost); deletes are ignored. Posts that name no known organisation are dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import orjson

from connectors.exceptions import ConnectorConfigError, SourceUnavailable
from connectors.http_limits import check_status
from connectors.mapping import ReferenceLike, iso_utc, strip_html
from connectors.runtime import Batch, Source, aiohttp
from connectors.social.common import social_event

log = logging.getLogger(__name__)

TRANSPORTS = ("sse", "websocket", "poll")
TOKEN_ENV = "MASTODON_TOKEN"  # the default variable of the access token (`token_env` names another)
PAGE_LIMIT = 40  # the most the tag timeline returns per request


def map_status(status: dict[str, Any], reference: ReferenceLike, instance: str) -> dict[str, Any] | None:
    original = status.get("reblog") or status
    if not isinstance(original, dict) or original.get("visibility") not in (None, "public", "unlisted"):
        return None
    spoiler = strip_html(str(original.get("spoiler_text") or ""))
    body = strip_html(str(original.get("content") or ""))
    text = f"{spoiler}\n\n{body}".strip() if spoiler else body
    native = str(original.get("uri") or original.get("url") or f"{instance}/statuses/{original.get('id')}")
    extra = {"instance": instance}
    if original.get("language"):
        extra["language"] = str(original["language"])
    if original.get("in_reply_to_id"):
        extra["is_reply"] = "true"
    tags = [str(t.get("name")) for t in original.get("tags") or [] if isinstance(t, dict) and t.get("name")]
    if tags:
        extra["hashtags"] = ",".join(tags[:10])
    # hashtags are in the HTML as links; the tag names are matched as well, in case markup hides them
    searchable = text if not tags else f"{text}\n" + " ".join(f"#{t}" for t in tags)
    event = social_event(
        network="mastodon",
        native_uri=native,
        text=searchable,
        occurred_at=iso_utc(original.get("created_at")),
        url=str(original.get("url") or original.get("uri") or "") or None,
        reference=reference,
        extra=extra,
    )
    if event is not None:
        event["text"] = text
    return event


async def sse_messages(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream body, per the EventSource rules we need."""
    event, data = "message", []
    async for raw in response.content:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue  # heartbeat / comment
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def _newer(a: str | None, b: str) -> bool:
    """Mastodon ids are decimal strings ordered numerically."""
    if a is None:
        return True
    try:
        return int(b) > int(a)
    except ValueError:
        return b > a


class MastodonSource(Source):
    kind = "mastodon"

    def __init__(
        self,
        instance_url: str,
        tags: Sequence[str],
        reference: ReferenceLike,
        *,
        token: str | None = None,
        transport: str = "sse",
        streaming_url: str | None = None,
        poll_interval_s: float = 60.0,
    ) -> None:
        parts = urlsplit(instance_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConnectorConfigError(f"mastodon: --instance {instance_url!r} must be an https:// URL")
        clean_tags = [t.lstrip("#").strip() for t in tags if t.lstrip("#").strip()]
        if not clean_tags:
            raise ConnectorConfigError("mastodon: give at least one --tag")
        if transport not in TRANSPORTS:
            raise ConnectorConfigError(f"mastodon: --transport must be one of {', '.join(TRANSPORTS)}")
        if transport != "poll" and not token:
            raise ConnectorConfigError(
                "mastodon: streaming needs a user access token with read:statuses (Mastodon 4.2+); "
                "set MASTODON_TOKEN or use --transport poll"
            )
        self.instance_url = instance_url.rstrip("/")
        self.instance = parts.netloc
        self.streaming_url = (streaming_url or self.instance_url).rstrip("/")
        self.tags = clean_tags
        self.reference = reference
        self.token = token
        self.transport = transport
        self.poll_interval_s = poll_interval_s if transport == "poll" else 1.0
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(sock_connect=30))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self, cursor: dict[str, Any]) -> str:
        since = cursor.get("since", {})
        return ", ".join(f"#{tag} after {since.get(tag, '-')}" for tag in self.tags)

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        since: dict[str, str] = dict(cursor.get("since", {}))
        for tag in self.tags:
            async for batch in self._catch_up(tag, since):
                yield batch
        if self.transport == "poll":
            return
        stream = self._sse(since) if self.transport == "sse" else self._websocket(since)
        async for batch in stream:
            yield batch

    def _track(self, since: dict[str, str], tag: str, status: dict[str, Any]) -> Batch:
        status_id = str(status.get("id", ""))
        if status_id and _newer(since.get(tag), status_id):
            since[tag] = status_id
        event = map_status(status, self.reference, self.instance)
        return Batch([event] if event else [], cursor={"since": dict(since)})

    async def _catch_up(self, tag: str, since: dict[str, str]) -> AsyncIterator[Batch]:
        assert self._session is not None, "open() first"
        url = f"{self.instance_url}/api/v1/timelines/tag/{tag}"
        while True:
            params: dict[str, str | int] = {"limit": PAGE_LIMIT}
            if since.get(tag):
                params["min_id"] = since[tag]
            try:
                async with self._session.get(url, params=params) as response:
                    check_status(response.status, response.headers, f"mastodon {url}")
                    statuses = await response.json()
            except aiohttp.ClientError as exc:
                raise SourceUnavailable(f"mastodon {url}: {exc}") from exc
            if not statuses:
                return
            events = []
            for status in sorted(statuses, key=lambda s: int(s["id"])):  # oldest first
                events.extend(self._track(since, tag, status).events)
            yield Batch(events, cursor={"since": dict(since)})
            if "min_id" not in params or len(statuses) < PAGE_LIMIT:
                return  # first run: only the newest page, not the tag's whole history

    async def _sse(self, since: dict[str, str]) -> AsyncIterator[Batch]:
        queue: asyncio.Queue[Batch | BaseException] = asyncio.Queue()

        async def follow(tag: str) -> None:
            assert self._session is not None
            url = f"{self.streaming_url}/api/v1/streaming/hashtag"
            try:
                async with self._session.get(
                    url,
                    params={"tag": tag},
                    headers={"Accept": "text/event-stream"},
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=120),
                ) as response:
                    check_status(response.status, response.headers, f"mastodon {url}")
                    async for event, data in sse_messages(response):
                        if event in ("update", "status.update"):
                            await queue.put(self._track(since, tag, orjson.loads(data)))
                raise SourceUnavailable(f"mastodon {url}?tag={tag}: stream ended")
            except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
                await queue.put(SourceUnavailable(f"mastodon {url}?tag={tag}: {exc!r}"))
            except BaseException as exc:  # configuration errors and the like reach the run loop
                await queue.put(exc)
                raise

        tasks = [asyncio.create_task(follow(tag)) for tag in self.tags]
        try:
            while True:
                item = await queue.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task

    async def _websocket(self, since: dict[str, str]) -> AsyncIterator[Batch]:
        assert self._session is not None
        url = (
            self.streaming_url.replace("https://", "wss://").replace("http://", "ws://") + "/api/v1/streaming"
        )
        try:
            async with self._session.ws_connect(url, heartbeat=30.0) as ws:
                for tag in self.tags:
                    await ws.send_str(
                        orjson.dumps({"type": "subscribe", "stream": "hashtag", "tag": tag}).decode()
                    )
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    envelope = orjson.loads(message.data)
                    if envelope.get("event") not in ("update", "status.update"):
                        continue
                    stream = envelope.get("stream") or []
                    named = str(stream[1]).casefold() if len(stream) > 1 else ""
                    # the server names the stream with the tag lower-cased
                    tag = next((t for t in self.tags if t.casefold() == named), self.tags[0])
                    status = orjson.loads(envelope["payload"])  # JSON inside JSON
                    yield self._track(since, tag, status)
        except aiohttp.WSServerHandshakeError as exc:
            check_status(exc.status, exc.headers or {}, f"mastodon {url}")
            raise SourceUnavailable(f"mastodon {url}: {exc}") from exc
        except (aiohttp.ClientError, orjson.JSONDecodeError) as exc:
            raise SourceUnavailable(f"mastodon {url}: {exc!r}") from exc
        raise SourceUnavailable(f"mastodon {url}: stream closed")


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> MastodonSource:
    """From the YAML runner; `secret` reads the variable `token_env` names (`Settings.secret`)."""
    return MastodonSource(
        str(options.get("instance", "")),
        [str(t) for t in options.get("tags") or []],
        reference,
        token=secret(str(options.get("token_env", TOKEN_ENV))) or None,
        transport=str(options.get("transport", "sse")),
        streaming_url=options.get("streaming_url"),
        poll_interval_s=float(options.get("poll_interval_s", 60)),
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser("mastodon", help="Mastodon hashtag posts naming a provider (social_media)")
    parser.add_argument("--instance", required=True, help="instance base URL, e.g. https://mastodon.social")
    parser.add_argument(
        "--tag", action="append", default=[], help="hashtag to follow, without # (repeatable)"
    )
    parser.add_argument(
        "--transport", choices=TRANSPORTS, default="sse", help="sse (default), websocket or poll"
    )
    parser.add_argument("--token-file", help="file holding the access token (default $MASTODON_TOKEN)")
    parser.add_argument("--streaming-url", help="streaming server base URL, if not the instance's")
    parser.add_argument("--reference", required=True, help="reference data directory: the names to match")
    parser.add_argument("--interval", type=float, default=60.0, help="poll transport: seconds between polls")
    add_run_arguments(parser, "mastodon")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args
    from connectors.reviews.careopinion import read_key

    source = MastodonSource(
        args.instance,
        args.tag,
        load_reference(Path(args.reference)),
        token=read_key(args.settings, TOKEN_ENV, args.token_file) or None,
        transport=args.transport,
        streaming_url=args.streaming_url,
        poll_interval_s=args.interval,
    )
    return run_source_from_args(args, source)
