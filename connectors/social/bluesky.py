"""`pxstream connect bluesky`: public Bluesky posts naming a provider, from Jetstream.

Jetstream (`wss://<host>/subscribe?wantedCollections=app.bsky.feed.post`) sends every new post
on the network as a JSON text frame; it has no keyword filter, so posts are matched locally
against provider names, aliases and hashtags from the reference data and the rest are dropped
without being stored anywhere.

Resume: the cursor is the `time_us` of the last frame processed, saved at least every
`flush_interval_s` (also when nothing matched, so a quiet filter does not force a long replay).
A restart reconnects with `cursor = time_us − rewind` (5 s by default, as Jetstream's README
advises for gapless playback); the replayed posts carry the same `event_id` and the run loop
drops them. Post creates and updates are mapped; deletes, identity and account frames are not
feedback and are skipped.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from connectors.exceptions import ConnectorConfigError, SourceUnavailable
from connectors.mapping import ReferenceLike, iso_utc
from connectors.runtime import Batch, Source, aiohttp
from connectors.social.common import social_event

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "wss://jetstream2.us-east.bsky.network/subscribe"
POST_COLLECTION = "app.bsky.feed.post"


def post_url(did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{did}/post/{rkey}"


def map_frame(frame: dict[str, Any], reference: ReferenceLike) -> dict[str, Any] | None:
    """One Jetstream frame → a candidate event, or None when it is not a matching post."""
    if frame.get("kind") != "commit":
        return None
    commit = frame.get("commit") or {}
    if commit.get("collection") != POST_COLLECTION or commit.get("operation") not in ("create", "update"):
        return None
    record = commit.get("record") or {}
    did, rkey = str(frame.get("did", "")), str(commit.get("rkey", ""))
    if not did or not rkey:
        return None
    extra = {}
    langs = record.get("langs")
    if isinstance(langs, list) and langs:
        extra["language"] = ",".join(str(lang) for lang in langs[:3])
    if record.get("reply"):
        extra["is_reply"] = "true"
    return social_event(
        network="bluesky",
        native_uri=f"at://{did}/{POST_COLLECTION}/{rkey}",
        text=str(record.get("text") or ""),
        occurred_at=iso_utc(record.get("createdAt")),
        url=post_url(did, rkey),
        reference=reference,
        extra=extra,
    )


class BlueskySource(Source):
    kind = "bluesky"
    poll_interval_s = 1.0  # a closed stream reconnects after a second (errors back off)

    def __init__(
        self,
        reference: ReferenceLike,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        rewind_s: float = 5.0,
        flush_interval_s: float = 1.0,
        max_batch: int = 200,
    ) -> None:
        if not endpoint.startswith(("ws://", "wss://")):
            raise ConnectorConfigError(f"bluesky: --endpoint {endpoint!r} must be a ws:// or wss:// URL")
        self.reference = reference
        self.endpoint = endpoint
        self.rewind_us = int(rewind_s * 1_000_000)
        self.flush_interval_s = flush_interval_s
        self.max_batch = max_batch
        self.frames_seen = 0
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self, cursor: dict[str, Any]) -> str:
        time_us = cursor.get("time_us")
        if not time_us:
            return f"{self.frames_seen} frames read, live"
        lag = time.time() - time_us / 1_000_000
        return f"{self.frames_seen} frames read, cursor {time_us} ({lag:.0f}s behind)"

    async def batches(self, cursor: dict[str, Any]) -> AsyncIterator[Batch]:
        assert self._session is not None, "open() first"
        params = [("wantedCollections", POST_COLLECTION)]
        if cursor.get("time_us"):
            params.append(("cursor", str(max(0, int(cursor["time_us"]) - self.rewind_us))))
        try:
            async with self._session.ws_connect(self.endpoint, params=params, heartbeat=30.0) as ws:
                pending: list[dict[str, Any]] = []
                last_time_us = cursor.get("time_us")
                flushed_time_us = last_time_us
                deadline = time.monotonic() + self.flush_interval_s
                while True:
                    try:
                        message = await ws.receive(timeout=max(0.01, deadline - time.monotonic()))
                    except TimeoutError:
                        message = None
                    if message is not None:
                        if message.type == aiohttp.WSMsgType.TEXT:
                            frame = orjson.loads(message.data)
                            self.frames_seen += 1
                            event = map_frame(frame, self.reference)
                            if event is not None:
                                pending.append(event)
                            if isinstance(frame.get("time_us"), int):
                                last_time_us = frame["time_us"]
                        elif message.type in (
                            aiohttp.WSMsgType.CLOSE,
                            aiohttp.WSMsgType.CLOSING,
                            aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.ERROR,
                        ):
                            reason = ws.close_code or message.type.name
                            raise SourceUnavailable(f"bluesky {self.endpoint}: stream closed ({reason})")
                    if len(pending) >= self.max_batch or time.monotonic() >= deadline:
                        if pending or last_time_us != flushed_time_us:
                            yield Batch(pending, cursor={"time_us": last_time_us} if last_time_us else None)
                            pending = []
                            flushed_time_us = last_time_us
                        deadline = time.monotonic() + self.flush_interval_s
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"bluesky {self.endpoint}: {exc}") from exc
        except orjson.JSONDecodeError as exc:
            raise SourceUnavailable(f"bluesky {self.endpoint}: a frame was not JSON ({exc})") from exc


def build_source(
    options: dict[str, Any], reference: ReferenceLike, secret: Callable[[str], str]
) -> BlueskySource:
    return BlueskySource(
        reference,
        endpoint=str(options.get("endpoint", DEFAULT_ENDPOINT)),
        rewind_s=float(options.get("rewind_s", 5.0)),
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser(
        "bluesky", help="Bluesky posts naming a provider, from Jetstream (source social_media)"
    )
    parser.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="Jetstream subscribe URL (wss://…)")
    parser.add_argument("--reference", required=True, help="reference data directory: the names to match")
    parser.add_argument("--rewind", type=float, default=5.0, help="seconds to replay on resume (default 5)")
    add_run_arguments(parser, "bluesky")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from connectors.command_line import load_reference, run_source_from_args

    source = BlueskySource(load_reference(Path(args.reference)), endpoint=args.endpoint, rewind_s=args.rewind)
    return run_source_from_args(args, source)
