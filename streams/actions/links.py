"""Signed links to the owners' page (docs/owners-page.md), written once for the stage and the page.

A notification's `link` opens one action. Owners' organisations share no identity provider, so the
link itself proves who may use it: an HMAC over (purpose, action id, recipient, expiry) with the
site's secret (`PXSTREAM_WEB_SECRET`, read into `Settings.web` by schemas/settings.py), which the
stage and the web server both hold. The URL
carries only the action id, the expiry and the signature - never the recipient (an owner id may
name a person) - and the page recovers the recipient by checking the candidates it knows (the
action's owner and everyone its history has chased). Without a secret the link is the bare
action URL and the page asks the reader to sign in.

The expiry is the start of the current UTC day plus `LINK_DAYS`, so every re-send of the same
alert on one day carries the same link (Alertmanager sees no change) and a notification
repeated weeks later still carries a link that works for two more weeks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final

SECRET_ENV: Final = "PXSTREAM_WEB_SECRET"
LINK_DAYS: Final = 15
_DAY: Final = 86_400


def signature(secret: bytes, purpose: str, *parts: str) -> str:
    """URL-safe HMAC-SHA256 of the parts; a unit separator keeps ("a", "bc") apart from ("ab", "c")."""
    message = "\x1f".join((purpose, *parts)).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def link_expiry(now: float, days: int = LINK_DAYS) -> int:
    """Midnight UTC of `now`'s day plus `days`: stable for a day, so re-sends carry one link."""
    return int(now // _DAY) * _DAY + days * _DAY


def action_token(secret: bytes, action_id: str, recipient: str, expires: int) -> str:
    """`EXPIRES.SIGNATURE` for the action link sent to `recipient`."""
    return f"{expires}.{signature(secret, 'action', action_id, recipient, str(expires))}"


def action_link(base_url: str, action_id: str, recipient: str, *, now: float, secret: bytes | None) -> str:
    """The owners' page URL for one action; signed for `recipient` when there is a secret."""
    url = f"{base_url}/actions/{action_id}"
    if secret is None:
        return url
    return f"{url}?k={action_token(secret, action_id, recipient, link_expiry(now))}"
