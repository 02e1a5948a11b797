"""What Bluesky and Mastodon posts have in common once they are text: provider match, ids.

Neither the author's handle nor their DID / account id is put in an event. The `event_id` is a
hash of the source's own post URI (stable, so replays collapse), because a raw `at://did:…` URI
would carry the author's identifier into ClickHouse key columns and into alerts'
`sample_event_ids`. The public post URL is kept in `attributes.url` so a person can open it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from connectors.mapping import ReferenceLike, clip, placement


def post_event_id(network: str, native_uri: str) -> str:
    return f"{network}:{hashlib.sha256(native_uri.encode('utf-8')).hexdigest()[:40]}"


def social_event(
    *,
    network: str,
    native_uri: str,
    text: str,
    occurred_at: str | None,
    url: str | None,
    reference: ReferenceLike,
    extra: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """A `social_media` event for a post that names a known organisation; None for any other post."""
    if not text.strip() or not occurred_at:
        return None
    organisations = reference.mentions(text)
    if not organisations:
        return None
    attributes = {"network": network}
    if url:
        attributes["url"] = url
    if len(organisations) > 1:
        attributes["also_mentions"] = ",".join(org.code for org in organisations[1:6])
    attributes.update(extra or {})
    return {
        "event_id": post_event_id(network, native_uri),
        "source": "social_media",
        "occurred_at": occurred_at,
        "text": clip(text),
        "reporter": "public",
        **placement(organisations[0]),
        "attributes": attributes,
    }
