"""Signed links, session cookies and form tokens of the owners' page (docs/owners-page.md)."""

from __future__ import annotations

import time

import pytest

from pxstream.web.owners_auth import LIST_SCOPE, OwnerAuth
from schemas.errors import ConfigError
from schemas.settings import Settings
from streams.actions.links import action_link, action_token, link_expiry

SECRET = b"s" * 40
NOW = 1_796_000_000.0  # 2026-11-30


def test_an_action_link_names_its_recipient_only_through_the_signature() -> None:
    link = action_link("https://px.example", "act-1", "r1a-ward-7", now=NOW, secret=SECRET)
    assert link.startswith("https://px.example/actions/act-1?k=") and "r1a" not in link.split("?")[1]
    token = link.split("k=")[1]
    auth = OwnerAuth(SECRET)
    assert auth.action_recipient("act-1", token, ["matron", "r1a-ward-7"], now=NOW) == "r1a-ward-7"
    assert auth.action_recipient("act-2", token, ["r1a-ward-7"], now=NOW) is None  # another action
    assert auth.action_recipient("act-1", token, ["matron"], now=NOW) is None  # not sent to them
    assert OwnerAuth(b"t" * 40).action_recipient("act-1", token, ["r1a-ward-7"], now=NOW) is None


def test_a_link_is_stable_for_a_day_and_expires() -> None:
    assert link_expiry(NOW) == link_expiry(NOW + 3600) or link_expiry(NOW + 3600) - link_expiry(NOW) == 86400
    expires = link_expiry(NOW)
    assert 14 * 86400 < expires - NOW <= 15 * 86400
    token = action_token(SECRET, "act-1", "x", expires)
    auth = OwnerAuth(SECRET)
    assert auth.action_recipient("act-1", token, ["x"], now=expires - 1) == "x"
    assert auth.action_recipient("act-1", token, ["x"], now=expires) is None
    forged_later = f"{expires + 86400}.{token.split('.')[1]}"  # expiry moved, signature kept
    assert auth.action_recipient("act-1", forged_later, ["x"], now=NOW) is None


def test_without_a_secret_links_are_plain_and_a_short_one_is_refused() -> None:
    assert Settings.from_env({}).web.secret_key is None
    with pytest.raises(ConfigError, match=r"^PXSTREAM_WEB_SECRET: 5 characters; use at least 32"):
        Settings.from_env({"PXSTREAM_WEB_SECRET": "short"})
    assert action_link("http://h", "act-1", "x", now=NOW, secret=None) == "http://h/actions/act-1"


def test_a_sign_in_link_is_for_one_organisation_and_owner() -> None:
    auth = OwnerAuth(SECRET)
    token = auth.sign_in_token("QWO", "r1a-ward-7", now=NOW)
    assert auth.sign_in_owner(token, ["icb-quality-team", "r1a-ward-7"], now=NOW) == ("QWO", "r1a-ward-7")
    assert auth.sign_in_owner("QM7" + token[3:], ["r1a-ward-7"], now=NOW) is None  # organisation swapped
    assert auth.sign_in_owner(token, ["r1a-ward-7"], now=NOW + 8 * 86400) is None  # expired
    for junk in ("", "a.b", "x" * 500, "QWO.notanumber.sig", "QWO.1.2.3"):
        assert auth.sign_in_owner(junk, ["r1a-ward-7"], now=NOW) is None


def test_sessions_are_signed_expire_and_carry_their_form_token() -> None:
    auth = OwnerAuth(SECRET, session_s=60)
    session = auth.new_session("QWO", "r1a-ward-7", LIST_SCOPE)
    cookie = auth.cookie_value(session)
    assert auth.session_from(cookie) == session
    assert auth.session_from(cookie, now=time.time() + 61) is None
    payload, mark = cookie.split(".")
    assert auth.session_from(f"{payload}x.{mark}") is None
    assert auth.session_from(None) is None and auth.session_from("a.b.c") is None
    assert auth.csrf_ok(session, auth.csrf_token(session))
    other = auth.new_session("QWO", "r1a-ward-7", LIST_SCOPE)
    assert not auth.csrf_ok(session, auth.csrf_token(other)) and not auth.csrf_ok(session, None)
    assert session.may_open("anything") and not auth.new_session("QWO", "x", "act-1").may_open("act-2")
