"""Mastodon connector against a local server speaking the streaming API (SSE and WebSocket) and
the tag timeline, with recorded Status JSON; a restart catches up by `min_id` with no gap and no
duplicate."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from connectors.exceptions import ConnectorConfigError
from connectors.runtime import RunOptions, run_source
from connectors.social.mastodon import MastodonSource
from tests.support.connectors import LocalServer, data_file, nottingham_reference, run_until_cursor
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

TOKEN = "user-token-with-read-statuses"
RECORDED = json.loads(data_file("mastodon", "statuses.json"))
LIVE_IDS = [s["id"] for s in RECORDED["live"]]


def posted_while_down() -> dict[str, Any]:
    status = copy.deepcopy(RECORDED["timeline"][0])
    status.update(
        id="113500000000000008",
        created_at="2026-11-24T10:00:00.000Z",
        content="<p>A&amp;E at QMC was calm this morning, seen in 40 minutes</p>",
        uri="https://mastodon.example/users/notts_nurse/statuses/113500000000000008",
        url="https://mastodon.example/@notts_nurse/113500000000000008",
    )
    return status


class MastodonServer:
    def __init__(self) -> None:
        self.timeline: list[dict[str, Any]] = list(RECORDED["timeline"])
        self.timeline_queries: list[dict[str, str]] = []
        self.stream_connections = 0
        self.subscriptions: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_get("/api/v1/timelines/tag/{tag}", self.tag_timeline)
        self.app.router.add_get("/api/v1/streaming/hashtag", self.sse)
        self.app.router.add_get("/api/v1/streaming", self.websocket)

    def _authorised(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": "The access token is invalid"}), content_type="application/json"
            )

    async def tag_timeline(self, request: web.Request) -> web.Response:
        self._authorised(request)
        query = dict(request.query)
        self.timeline_queries.append(query)
        limit = int(query.get("limit", 20))
        ordered = sorted(self.timeline, key=lambda s: int(s["id"]))
        if "min_id" in query:
            page = [s for s in ordered if int(s["id"]) > int(query["min_id"])][:limit]
        else:
            page = ordered[-limit:]
        return web.json_response(list(reversed(page)))  # newest first, like Mastodon

    def _live_messages(self) -> list[tuple[str, str]]:
        """First connection: the recorded live statuses. Later: an edit of the last one (a replay)."""
        self.stream_connections += 1
        if self.stream_connections == 1:
            self.timeline.extend(RECORDED["live"])
            return [("update", json.dumps(s)) for s in RECORDED["live"]] + [("delete", LIVE_IDS[1])]
        edited = dict(RECORDED["live"][-1], edited_at="2026-11-24T10:05:00.000Z")
        return [("status.update", json.dumps(edited))]

    async def sse(self, request: web.Request) -> web.StreamResponse:
        self._authorised(request)
        assert request.query["tag"] == "NHS"
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        if self.stream_connections == 0:
            # the recorded bytes, split mid-line to exercise buffering
            recording = data_file("mastodon", "hashtag-stream.sse")
            self._live_messages()
            for start in range(0, len(recording), 700):
                await response.write(recording[start : start + 700])
        else:
            for event, data in self._live_messages():
                await response.write(f":thump\nevent: {event}\ndata: {data}\n\n".encode())
        try:
            while True:
                await asyncio.sleep(0.3)
                await response.write(b":thump\n")
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        self._authorised(request)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        message = await ws.receive()
        self.subscriptions.append(json.loads(message.data))
        if self.stream_connections == 0:
            self._live_messages()
            for line in data_file("mastodon", "streaming-websocket.jsonl").splitlines():
                await ws.send_str(line.decode())
        else:
            for event, data in self._live_messages():
                await ws.send_str(json.dumps({"stream": ["hashtag", "nhs"], "event": event, "payload": data}))
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
        return ws


async def run_until(source: MastodonSource, topic: str, bootstrap: str, data_dir: Path, last_id: str) -> None:
    """Run the Mastodon connector until its cursor for #NHS stands at `last_id`."""
    await run_until_cursor(
        source,
        name="masto",
        topic=topic,
        bootstrap=bootstrap,
        data_dir=data_dir,
        reached=lambda position: position.get("since", {}).get("NHS") == last_id,
    )


@pytest.mark.parametrize("transport", ["sse", "websocket"])
def test_stream_then_restart_catches_up_without_gap_or_duplicate(
    transport: str, kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    server = MastodonServer()

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:

            def source() -> MastodonSource:
                return MastodonSource(
                    local.base_url, ["#NHS"], nottingham_reference(), token=TOKEN, transport=transport
                )

            await run_until(source(), topic, kafka_bootstrap, tmp_path, LIVE_IDS[-1])
            server.timeline.append(posted_while_down())
            await run_until(source(), topic, kafka_bootstrap, tmp_path, "113500000000000008")
            # the edit of an already-sent post arrives on the second stream and must not double it
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while server.stream_connections < 2:
                assert loop.time() < deadline
                await asyncio.sleep(0.05)
        return await read_topic(kafka_bootstrap, topic, expected=5)

    events = asyncio.run(scenario())
    urls = [e["attributes"]["url"].rsplit("/", 1)[1] for e in events]
    assert sorted(urls) == sorted(
        ["113500000000000001", "113500000000000003", LIVE_IDS[0], LIVE_IDS[2], "113500000000000008"]
    )
    assert len({e["event_id"] for e in events}) == 5
    by_id = {e["attributes"]["url"].rsplit("/", 1)[1]: e for e in events}
    assert by_id["113500000000000003"]["provider"] == "RHA"
    assert by_id[LIVE_IDS[0]]["provider"] == "C84001"
    assert by_id[LIVE_IDS[0]]["text"] == "Elmwood Surgery's new phone system actually works! #NHS"
    assert by_id[LIVE_IDS[2]]["text"].startswith("birth story\n\nMaternity ward at Nottingham University")
    assert all(e["source"] == "social_media" and e["reporter"] == "public" for e in events)
    assert "notts_nurse" not in json.dumps([e["event_id"] for e in events])
    assert "A Nurse" not in json.dumps(events)
    # the restart asked the timeline for what came after the last streamed post
    assert {"limit": "40", "min_id": LIVE_IDS[-1]} in server.timeline_queries
    if transport == "websocket":
        assert server.subscriptions[0] == {"type": "subscribe", "stream": "hashtag", "tag": "NHS"}


def test_polling_fallback_resumes_with_min_id(kafka_bootstrap: str, new_topic: Any, tmp_path: Path) -> None:
    topic = new_topic(partitions=1)
    server = MastodonServer()

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:
            options = RunOptions(name="masto-poll", data_dir=tmp_path, once=True, max_retries=0)
            for run in range(3):
                source = MastodonSource(
                    local.base_url, ["NHS"], nottingham_reference(), token=TOKEN, transport="poll"
                )
                await run_source(source, bootstrap=kafka_bootstrap, topic=topic, options=options)
                if run == 0:
                    server.timeline.append(posted_while_down())
        return await read_topic(kafka_bootstrap, topic, expected=3)

    events = asyncio.run(scenario())
    assert len(events) == 3 and len({e["event_id"] for e in events}) == 3
    assert [q.get("min_id") for q in server.timeline_queries] == [
        None,
        "113500000000000004",
        "113500000000000008",
    ]


def test_streaming_without_token_is_refused() -> None:
    with pytest.raises(ConnectorConfigError, match="read:statuses"):
        MastodonSource("https://mastodon.example", ["NHS"], nottingham_reference())


def test_rejected_token_stops_with_a_clear_error(kafka_bootstrap: str, tmp_path: Path) -> None:
    server = MastodonServer()

    async def scenario() -> None:
        async with LocalServer(server.app) as local:
            source = MastodonSource(
                local.base_url, ["NHS"], nottingham_reference(), token="revoked", transport="sse"
            )
            await run_source(
                source,
                bootstrap=kafka_bootstrap,
                topic="unused",
                options=RunOptions(name="masto-bad", data_dir=tmp_path, max_retries=2),
            )

    with pytest.raises(ConnectorConfigError, match="HTTP 401"):
        asyncio.run(scenario())
