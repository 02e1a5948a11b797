"""Bluesky frame and Mastodon status mapping: which posts become events, and what they carry."""

from __future__ import annotations

import json

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.social.bluesky import BlueskySource, map_frame
from tests.support.connectors import data_file, nottingham_reference

REF = nottingham_reference()
FRAMES = [json.loads(line) for line in data_file("bluesky", "jetstream-frames.jsonl").splitlines()]


def test_only_post_creates_and_updates_naming_a_provider_become_events() -> None:
    mapped = [map_frame(frame, REF) for frame in FRAMES]
    kinds = [
        (f["kind"], f.get("commit", {}).get("operation")) for f, m in zip(FRAMES, mapped, strict=True) if m
    ]
    assert kinds == [("commit", "create")] * 5
    skipped = {f["kind"] for f, m in zip(FRAMES, mapped, strict=True) if m is None}
    assert skipped == {"commit", "identity", "account"}


def test_post_event_has_no_author_identifier_but_keeps_the_post_url() -> None:
    frame = FRAMES[1]
    event = map_frame(frame, REF)
    assert event is not None
    assert event["event_id"] == map_frame(json.loads(json.dumps(frame)), REF)["event_id"]  # stable
    assert frame["did"] not in event["event_id"]
    assert (
        event["attributes"]["url"]
        == f"https://bsky.app/profile/{frame['did']}/post/{frame['commit']['rkey']}"
    )
    assert event["occurred_at"] == frame["commit"]["record"]["createdAt"]
    assert (event["provider"], event["site"]) == ("RX1", "RX1RA")
    assert event["attributes"]["language"] == "en"


def test_update_of_a_post_keeps_the_same_event_id() -> None:
    frame = json.loads(json.dumps(FRAMES[1]))
    created = map_frame(frame, REF)
    frame["commit"]["operation"] = "update"
    updated = map_frame(frame, REF)
    assert created is not None and updated is not None
    assert created["event_id"] == updated["event_id"]


def test_reply_is_marked() -> None:
    elmwood = next(f for f in FRAMES if "Elmwood" in f.get("commit", {}).get("record", {}).get("text", ""))
    event = map_frame(elmwood, REF)
    assert event is not None and event["attributes"]["is_reply"] == "true"


def test_endpoint_must_be_a_websocket_url() -> None:
    with pytest.raises(ConnectorConfigError, match="ws://"):
        BlueskySource(REF, endpoint="https://jetstream.example/subscribe")


# ---- Mastodon --------------------------------------------------------------------------------

MASTODON = json.loads(data_file("mastodon", "statuses.json"))


def test_status_html_is_text_and_private_posts_are_skipped() -> None:
    from connectors.social.mastodon import map_status

    qmc = map_status(MASTODON["timeline"][0], REF, "mastodon.example")
    assert qmc is not None
    assert qmc["text"] == "Six hour wait for a bed at QMC again tonight. #NHS"
    assert qmc["occurred_at"] == "2026-11-24T08:00:05.000Z"
    assert qmc["attributes"]["hashtags"] == "nhs"
    assert map_status(MASTODON["timeline"][3], REF, "mastodon.example") is None  # followers-only
    assert map_status(MASTODON["timeline"][1], REF, "mastodon.example") is None  # names no provider


def test_boost_maps_to_the_boosted_post_with_its_id() -> None:
    from connectors.social.mastodon import map_status

    original = MASTODON["timeline"][0]
    boost = {**original, "id": "113500000000009999", "content": "", "reblog": original}
    assert map_status(boost, REF, "m")["event_id"] == map_status(original, REF, "m")["event_id"]  # type: ignore[index]


def test_sse_parser_handles_heartbeats_multiline_data_and_split_chunks() -> None:
    import asyncio

    from connectors.social.mastodon import sse_messages

    class FakeResponse:
        def __init__(self, lines: list[bytes]) -> None:
            self.content = self._iterate(lines)

        @staticmethod
        async def _iterate(lines: list[bytes]):  # type: ignore[no-untyped-def]
            for line in lines:
                yield line

    lines = [
        b":)\n",
        b"event: update\n",
        b'data: {"a":\n',
        b"data: 1}\n",
        b"\n",
        b":thump\n",
        b"event: delete\r\n",
        b"data: 42\r\n",
        b"\r\n",
    ]

    async def collect() -> list[tuple[str, str]]:
        return [item async for item in sse_messages(FakeResponse(lines))]  # type: ignore[arg-type]

    assert asyncio.run(collect()) == [("update", '{"a":\n1}'), ("delete", "42")]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"instance_url": "mastodon.social"}, "https://"),
        ({"tags": []}, "--tag"),
        ({"transport": "grpc"}, "transport"),
    ],
)
def test_mastodon_configuration_is_checked(kwargs: dict, match: str) -> None:  # type: ignore[type-arg]
    from connectors.social.mastodon import MastodonSource

    arguments = {"instance_url": "https://mastodon.social", "tags": ["NHS"], "token": "t", **kwargs}
    with pytest.raises(ConnectorConfigError, match=match):
        MastodonSource(reference=REF, **arguments)
