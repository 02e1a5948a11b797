"""Bluesky connector against a local Jetstream: websocket text frames recorded in Jetstream's format.

The local server honours `wantedCollections` and `cursor` like Jetstream (frames with
`time_us >= cursor`, replayed then live), so a restart exercises the real resume path: the client
must rewind its cursor by a few seconds and the overlap must not produce duplicates.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from connectors.social.bluesky import BlueskySource
from tests.support.connectors import LocalServer, data_file, nottingham_reference, run_until_cursor
from tests.support.kafka import read_topic

pytestmark = pytest.mark.integration

FRAMES = [json.loads(line) for line in data_file("bluesky", "jetstream-frames.jsonl").splitlines()]
FIRST_RUN = 11  # frames that "happened" before the restart


class Jetstream:
    def __init__(self) -> None:
        self.available = FRAMES[:FIRST_RUN]
        self.connections: list[dict[str, Any]] = []
        self.app = web.Application()
        self.app.router.add_get("/subscribe", self.subscribe)

    async def subscribe(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        wanted = request.query.getall("wantedCollections", [])
        cursor = int(request.query.get("cursor", "0"))
        self.connections.append({"wanted": wanted, "cursor": cursor})
        for frame in self.available:
            if frame["time_us"] < cursor:
                continue
            collection = frame.get("commit", {}).get("collection")
            if frame["kind"] == "commit" and wanted and collection not in wanted:
                continue
            await ws.send_str(json.dumps(frame, ensure_ascii=False))
        async for message in ws:  # stay open, like a live stream, until the client leaves
            if message.type == WSMsgType.ERROR:
                break
        return ws


async def run_until_frame(base: str, topic: str, bootstrap: str, data_dir: Path, time_us: int) -> None:
    """Run the Jetstream connector until its cursor stands at the frame of `time_us`."""
    source = BlueskySource(nottingham_reference(), endpoint=f"{base}/subscribe", flush_interval_s=0.2)
    await run_until_cursor(
        source,
        name="bsky-test",
        topic=topic,
        bootstrap=bootstrap,
        data_dir=data_dir,
        reached=lambda position: position.get("time_us") == time_us,
    )


def test_jetstream_filters_locally_and_resumes_with_rewind_without_duplicates(
    kafka_bootstrap: str, new_topic: Any, tmp_path: Path
) -> None:
    topic = new_topic(partitions=1)
    server = Jetstream()

    async def scenario() -> list[dict[str, Any]]:
        async with LocalServer(server.app) as local:
            ws_base = local.base_url.replace("http://", "ws://")
            await run_until_frame(ws_base, topic, kafka_bootstrap, tmp_path, FRAMES[FIRST_RUN - 1]["time_us"])
            server.available = FRAMES  # three more posts happen while the connector is down
            await run_until_frame(ws_base, topic, kafka_bootstrap, tmp_path, FRAMES[-1]["time_us"])
        return await read_topic(kafka_bootstrap, topic, expected=5)

    events = asyncio.run(scenario())

    texts = [e["text"] for e in events]
    assert len(texts) == 5, texts
    assert len({e["event_id"] for e in events}) == 5
    assert [e["provider"] for e in events] == ["RX1", "RX1", "C84001", "RHA", "RX1"]
    assert [e.get("site") for e in events] == ["RX1RA", None, None, None, "RX1RA"]
    first = events[0]
    assert first["source"] == "social_media" and first["reporter"] == "public"
    assert first["attributes"]["url"].startswith("https://bsky.app/profile/did:plc:")
    assert first["event_id"].startswith("bluesky:") and "did:" not in first["event_id"]
    assert "handle" not in json.dumps(events)
    # resume asked for the last time_us minus five seconds, and that replay overlapped a match
    assert server.connections[0] == {"wanted": ["app.bsky.feed.post"], "cursor": 0}
    resume_cursor = server.connections[1]["cursor"]
    assert resume_cursor == FRAMES[FIRST_RUN - 1]["time_us"] - 5_000_000
    elmwood = next(f for f in FRAMES if "Elmwood" in f.get("commit", {}).get("record", {}).get("text", ""))
    assert elmwood["time_us"] >= resume_cursor  # replayed, and still sent only once
