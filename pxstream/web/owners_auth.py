"""Who may use the owners' page: signed links, a signed session cookie, CSRF tokens (docs/owners-page.md).

The owners' organisations share no identity provider, but every notification already goes to
the mailbox the directory names for an owner. So a link in that mailbox is the credential:

- an *action link* (streams/actions/links.py) opens one action, for the recipient it was sent to;
- a *sign-in link* (`pxstream web sign-in-link`) opens one owner's list in one organisation.

Both are HMAC-signed with the site's secret and expire. Neither carries a name: the page
recovers the owner id by checking the candidates it knows. Following a link only *reads* (mail
scanners that prefetch links change nothing) and starts a session: a cookie signed the same
way, HttpOnly, SameSite=Lax, Secure with the `__Host-` prefix over HTTPS, that expires after
`SESSION_S` whatever happens. Every form carries a token derived from the session's random
nonce, and a POST without the right one is refused.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import orjson

from streams.actions.links import action_token, link_expiry, signature

SESSION_S: Final = 8 * 3600  # one working shift; then follow a link again
SIGN_IN_DAYS: Final = 7
LIST_SCOPE: Final = "*"  # a session for an owner's whole list, rather than one action
MAX_TOKEN_CHARS: Final = 200
MAX_COOKIE_CHARS: Final = 1024


@dataclass(frozen=True)
class Session:
    """Who is signed in: an organisation, the owner id speaking, and one action or the whole list."""

    organisation: str
    owner: str
    scope: str  # LIST_SCOPE or one action id
    expires: int
    nonce: str

    def may_open(self, action_id: str) -> bool:
        return self.scope in (LIST_SCOPE, action_id)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _split_expiry(token: str, parts: int) -> tuple[list[str], int] | None:
    """A token's dot-separated fields with its expiry as an int; None when malformed."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    fields = token.split(".")
    if len(fields) != parts or not fields[-2].isdigit() or len(fields[-2]) > 12:
        return None
    return fields, int(fields[-2])


class OwnerAuth:
    """Issues and checks links, sessions and form tokens with one secret."""

    def __init__(self, secret: bytes, *, session_s: int = SESSION_S) -> None:
        self.secret = secret
        self.session_s = session_s

    # -- links --------------------------------------------------------------------------------------
    def action_recipient(
        self, action_id: str, token: str, candidates: Iterable[str], now: float | None = None
    ) -> str | None:
        """Which candidate the action link was sent to; None when forged, tampered or expired."""
        split = _split_expiry(token, 2)
        now = time.time() if now is None else now
        if split is None or split[1] <= now:
            return None
        found = None
        for candidate in dict.fromkeys(candidates):  # each candidate once, every one checked
            if hmac.compare_digest(action_token(self.secret, action_id, candidate, split[1]), token):
                found = candidate
        return found

    def sign_in_token(self, organisation: str, owner: str, now: float | None = None) -> str:
        expires = link_expiry(time.time() if now is None else now, SIGN_IN_DAYS)
        return self._sign_in_token(organisation, owner, expires)

    def _sign_in_token(self, organisation: str, owner: str, expires: int) -> str:
        mark = signature(self.secret, "sign-in", organisation, owner, str(expires))
        return f"{organisation}.{expires}.{mark}"

    def sign_in_owner(
        self, token: str, candidates: Iterable[str], now: float | None = None
    ) -> tuple[str, str] | None:
        """(organisation, owner) a sign-in link was made for; None when forged or expired."""
        split = _split_expiry(token, 3)
        now = time.time() if now is None else now
        if split is None or split[1] <= now:
            return None
        organisation = split[0][0]
        found = None
        for candidate in dict.fromkeys(candidates):
            if hmac.compare_digest(self._sign_in_token(organisation, candidate, split[1]), token):
                found = (organisation, candidate)
        return found

    # -- sessions -----------------------------------------------------------------------------------
    def new_session(self, organisation: str, owner: str, scope: str, now: float | None = None) -> Session:
        now = time.time() if now is None else now
        return Session(organisation, owner, scope, int(now) + self.session_s, secrets.token_urlsafe(16))

    def cookie_value(self, session: Session) -> str:
        payload = _b64(
            orjson.dumps(
                {
                    "o": session.organisation,
                    "w": session.owner,
                    "s": session.scope,
                    "e": session.expires,
                    "n": session.nonce,
                }
            )
        )
        return f"{payload}.{signature(self.secret, 'session', payload)}"

    def session_from(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session a cookie carries; None when absent, forged, malformed or expired."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS or cookie.count(".") != 1:
            return None
        payload, mark = cookie.split(".")
        if not hmac.compare_digest(signature(self.secret, "session", payload), mark):
            return None
        try:
            data = orjson.loads(_unb64(payload))
            session = Session(str(data["o"]), str(data["w"]), str(data["s"]), int(data["e"]), str(data["n"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None
        return session if session.expires > (time.time() if now is None else now) else None

    # -- forms --------------------------------------------------------------------------------------
    def csrf_token(self, session: Session) -> str:
        return signature(self.secret, "csrf", session.nonce)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(self.csrf_token(session), str(presented))
