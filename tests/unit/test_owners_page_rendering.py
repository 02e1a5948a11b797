"""The owners' page over HTTP, with the view filled by hand and the API's send recorded.

The real broker, stage, Alertmanager and browser are in tests/integration/test_owners_page.py;
here every refusal is checked quickly: no session, another organisation, a forged form post,
an expired or altered link, and what the page sends for each form.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pxstream.web.actions_api import ChangeResult
from pxstream.web.actions_requests import Problem
from pxstream.web.actions_view import ActionsView
from pxstream.web.owners_auth import LIST_SCOPE, OwnerAuth
from pxstream.web.owners_evidence import Evidence
from pxstream.web.owners_page import OwnersPage, OwnersPageConfig
from streams.actions.calendar import WorkingCalendar
from streams.actions.links import action_token, link_expiry
from tests.integration._action_records import NOW
from tests.integration._action_records import action as action_record
from tests.integration._action_records import iso as _iso

SECRET = b"k" * 40
AUTH = OwnerAuth(SECRET)


def action(action_id: str, organisation: str, **fields: Any) -> dict[str, Any]:
    return action_record(
        action_id, [organisation], **{"title": f"Acknowledge complaint {action_id}", **fields}
    )


@dataclass
class RecordingApi:
    """Stands in for ActionsApi.submit_change (which needs Kafka): records, answers like it."""

    sent: list[tuple[str, str, dict[str, Any], str | None]] = field(default_factory=list)
    answer: ChangeResult = field(default_factory=lambda: ChangeResult(202, already_applied=True))

    async def submit_change(self, organisation: str, action: dict[str, Any], body: Any, key: str | None):
        self.sent.append((organisation, action["action_id"], body, key))
        return self.answer


@dataclass
class FixedEvidence:
    """Stands in for the ClickHouse lookup (tested on chDB in tests/integration/test_owners_evidence.py)."""

    asked: list[tuple[str, str]] = field(default_factory=list)

    async def lookup(self, action: dict[str, Any], organisation: str) -> Evidence:
        self.asked.append((action["action_id"], organisation))
        item = {"event_id": "e-1", "source": "gp_comment_card", "received_at": "2026-12-01T09:30:00Z",
                "text": "Waited [DURATION] for the call bell"}  # fmt: skip
        hotspot = {"rule_id": "ward-falls-24h", "window_start": "2026-12-01T00:00:00Z",
                   "window_end": "2026-12-02T00:00:00Z", "count": 7, "threshold": 5.0}  # fmt: skip
        return Evidence(True, [item], hotspot if action["trigger"].get("alert_id") else None)


def run(
    test: Callable[[TestClient, RecordingApi], Awaitable[None]], evidence: FixedEvidence | None = None
) -> None:
    view = ActionsView("localhost:1")
    for record in (
        action("act-mine", "QWO"),
        action("act-late", "QWO", overdue=True, due_at=_iso(NOW - timedelta(days=7)), escalation_level=1),
        action("act-other-owner", "QWO", owner="r1a-ward-9", notify="r1a-ward-9"),
        action("act-qm7", "QM7", title="QM7 private action"),
        {**action("act-nobodys", "QWO"), "organisations": []},  # e.g. a hotspot with no organisation
        action("act-hotspot", "QWO", rule_id="hotspot-review", trigger={"alert_id": "al-9"}, source=None),
    ):
        view.apply(orjson.dumps(record))
    view._ready.set()
    api = RecordingApi()
    config = OwnersPageConfig(
        secret=SECRET,
        calendar=WorkingCalendar(),
        chain_for=lambda a: (a["owner"], "r1a-matron"),
        directory=frozenset({"r1a-ward-7", "r1a-matron"}),
        public_url="http://localhost",
        grafana_url="http://grafana.example",
        redirect_wait_s=0,
    )
    app = web.Application()
    OwnersPage(config, view, api, evidence).add_routes(app)  # type: ignore[arg-type]

    async def go() -> None:
        async with TestClient(TestServer(app)) as client:
            await test(client, api)

    asyncio.run(go())


def signed_in(client: TestClient, organisation: str = "QWO", scope: str = LIST_SCOPE) -> str:
    session = AUTH.new_session(organisation, "r1a-ward-7", scope)
    client.session.cookie_jar.update_cookies({"pxstream-session": AUTH.cookie_value(session)})
    return AUTH.csrf_token(session)


def test_the_list_needs_a_sign_in_and_shows_only_mine_overdue_first() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        response = await client.get("/actions")
        assert response.status == 401 and "Sign in" in await response.text()
        signed_in(client)
        page = await (await client.get("/actions")).text()
        assert page.index("act-late") < page.index("act-mine")
        assert "working days overdue" in page and "act-other-owner" not in page and "QM7" not in page

    run(test)


def test_a_sign_in_link_starts_a_list_session_without_keeping_the_token() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        token = AUTH.sign_in_token("QWO", "r1a-ward-7")
        response = await client.get(f"/sign-in?k={token}", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/actions"
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and token not in cookie
        assert (await client.get("/actions")).status == 200
        refused = await client.get(f"/sign-in?k={token[:-2]}xx", allow_redirects=False)
        assert refused.status == 403

    run(test)


def test_another_organisations_action_is_not_found_and_cannot_be_changed() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        csrf = signed_in(client, "QM7")
        assert (await client.get("/actions/act-mine")).status == 404
        posted = await client.post(
            "/actions/act-mine", data={"csrf": csrf, "form_key": "k1", "change": "acknowledge"}
        )
        assert posted.status == 404 and api.sent == []

    run(test)


def test_a_form_post_without_the_sessions_token_is_refused() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        csrf = signed_in(client)
        form = {"form_key": "k1", "change": "complete", "outcome": "Done"}
        assert (await client.post("/actions/act-mine", data=form)).status == 403
        assert (await client.post("/actions/act-mine", data={**form, "csrf": "x" * 43})).status == 403
        foreign = await client.post(
            "/actions/act-mine", data={**form, "csrf": csrf}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status == 403 and api.sent == []
        done = await client.post("/actions/act-mine", data={**form, "csrf": csrf}, allow_redirects=False)
        assert done.status == 303 and done.headers["Location"] == "/actions/act-mine?sent=complete"
        sent = {"change": "complete", "by": "r1a-ward-7", "outcome": "Done"}
        assert api.sent == [("QWO", "act-mine", sent, "page-k1")]

    run(test)


def test_required_fields_are_asked_for_in_plain_words_and_nothing_is_sent() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        csrf = signed_in(client)
        response = await client.post(
            "/actions/act-mine", data={"csrf": csrf, "form_key": "k2", "change": "extend", "due_date": "soon"}
        )
        page = await response.text()
        assert response.status == 400 and api.sent == []
        assert "There is a problem" in page and "Enter the new due date" in page
        assert 'href="#extend-reason"' in page and 'id="extend-reason"' in page
        api.answer = ChangeResult(400, (Problem("owner", "must be an owner id"),))
        response = await client.post(
            "/actions/act-mine", data={"csrf": csrf, "form_key": "k3", "change": "reassign", "owner": "a b"}
        )
        assert response.status == 400 and "must be an owner id" in await response.text()

    run(test)


def test_a_notification_link_opens_one_action_and_is_refused_when_altered_expired_or_foreign() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        expires = link_expiry(NOW.timestamp())
        token = action_token(SECRET, "act-late", "r1a-ward-7", expires)
        response = await client.get(f"/actions/act-late?k={token}", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/actions/act-late"
        page = await (await client.get("/actions/act-late")).text()
        assert "Acknowledge complaint act-late" in page and "Complete action" in page
        assert (await client.get("/actions/act-mine")).status == 404  # the link opened one action
        assert (await client.get("/actions")).status == 401  # and not the list
        client.session.cookie_jar.clear()
        assert (await client.get(f"/actions/act-mine?k={token}")).status == 403  # another action
        old = action_token(SECRET, "act-late", "r1a-ward-7", int(NOW.timestamp()) - 60)
        assert (await client.get(f"/actions/act-late?k={old}")).status == 403  # expired
        nobodys = action_token(SECRET, "act-nobodys", "r1a-ward-7", expires)
        assert (await client.get(f"/actions/act-nobodys?k={nobodys}")).status == 403  # no organisation
        signed_in(client, "QM7")
        foreign = await client.get(f"/actions/act-late?k={token}")
        assert foreign.status == 403 and "another organisation" in await foreign.text()

    run(test)


def test_pages_send_the_security_headers_and_no_personal_data_in_urls() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        signed_in(client)
        response = await client.get("/actions/act-mine")
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["Referrer-Policy"] == "same-origin" and headers["Cache-Control"] == "no-store"
        page = await response.text()
        for url in re.findall(r'(?:href|action|src)="([^"]+)"', page):
            assert url.startswith(("/", "#", "http://grafana.example")), url

    run(test)


def test_sign_out_needs_the_form_token_and_ends_the_session() -> None:
    async def test(client: TestClient, api: RecordingApi) -> None:
        csrf = signed_in(client)
        assert (await client.post("/sign-out", data={})).status == 403
        out = await client.post("/sign-out", data={"csrf": csrf}, allow_redirects=False)
        assert out.status == 303 and out.headers["Location"] == "/sign-in?signed-out"
        assert "Max-Age=0" in out.headers["Set-Cookie"] or 'pxstream-session=""' in out.headers["Set-Cookie"]
        client.session.cookie_jar.clear()
        page = await (await client.get("/sign-in?signed-out")).text()
        assert "You have signed out." in page

    run(test)


def test_what_started_the_action_shows_the_items_text_and_the_hotspot_with_its_dashboard() -> None:
    evidence = FixedEvidence()

    async def test(client: TestClient, api: RecordingApi) -> None:
        signed_in(client)
        page = await (await client.get("/actions/act-hotspot")).text()
        assert "rule <strong>ward-falls-24h</strong> counted 7 items (limit 5.0)" in page
        assert "between Tuesday 1 December 2026 at midnight" not in page  # plain English, not ISO
        assert "Tuesday 1 December 2026 at 12am" in page
        assert 'href="http://grafana.example/d/pxstream-hotspots?var-alert_id=al-9"' in page
        page = await (await client.get("/actions/act-mine")).text()
        assert "Waited [DURATION] for the call bell" in page and "GP comment card, received" in page
        assert evidence.asked == [("act-hotspot", "QWO"), ("act-mine", "QWO")]

    run(test, evidence)
