"""Bluesky frame and Mastodon status mapping: which posts become events, and what they carry."""

from __future__ import annotations

import json

import pytest

from connectors.exceptions import ConnectorConfigError
from connectors.social.bluesky import BlueskySource, map_frame
from tests.connector_support import StandInReference, data_file

REF = StandInReference()
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
