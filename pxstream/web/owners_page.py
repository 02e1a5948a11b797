"""The owners' page (docs/owners-page.md): where action owners see, acknowledge and complete actions.

Plain server-rendered HTML (Jinja2, autoescaped) in the NHS.UK design system, on the same server
as the ingest and actions APIs. It reads the same `ActionsView` and sends every change through
`ActionsApi.submit_change`, the API's own path onto `actions.commands`, so the actions stage stays
the single writer and a replayed form post is applied once (each rendered form carries a random
key that becomes the command's idempotency key).

Routes: `GET /actions` (my actions), `GET /actions/{id}` (one action; `?k=` a signed link from a
notification), `POST /actions/{id}` (a change), `GET /sign-in` (`?k=` a sign-in link),
`POST /sign-out`, and the design system's compiled assets under `/assets/`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from connectors.ingest.server import _read_capped
from pxstream.web.actions_api import ActionsApi
from pxstream.web.actions_requests import CHANGE_FIELDS, IDEMPOTENCY_KEY_PATTERN, Problem
from pxstream.web.actions_view import ActionsView
from pxstream.web.owners_auth import LIST_SCOPE, OwnerAuth, Session
from pxstream.web.owners_evidence import Evidence, EvidenceSource
from pxstream.web.owners_format import (
    CHANGE_LABELS,
    STATUS_LABELS,
    due_of,
    mine,
    plain_at,
    sentence,
    sort_for_owner,
    source_label,
)
from schemas.action import ACTIVE_STATUSES, STATUSES, change_allowed
from streams.actions.calendar import END_OF_DAY, LONDON, WorkingCalendar

log = logging.getLogger(__name__)

HERE: Final = Path(__file__).parent
ASSETS: Final = HERE / "static" / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
COOKIE: Final = "pxstream-session"
MAX_FORM_BYTES: Final = 32 * 1024
MAX_FILTER: Final = 200
FORM_CHANGES: Final = ("acknowledge", "comment", "reassign", "extend", "complete", "cancel")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Which form field shows a problem the API reports for a body field.
_FIELD_OF: Final = {"due_at": "due_date", "by": "change"}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "font-src 'self'; manifest-src 'self'; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on form posts
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class OwnersPageConfig:
    """What the page needs besides the API: the secret, the stage's calendar and directory."""

    secret: bytes | None
    calendar: WorkingCalendar
    chain_for: Callable[[Mapping[str, Any]], tuple[str, ...]]  # the action's escalation chain
    directory: frozenset[str]  # every owner id the actions file names (sign-in candidates)
    public_url: str
    grafana_url: str
    hotspot_dashboard_path: str = "/d/pxstream-hotspots"
    redirect_wait_s: float = 5.0  # how long a change waits for the stage before showing the page

    @property
    def secure_cookies(self) -> bool:
        """Secure + `__Host-` unless the page is served over plain HTTP (local demo and tests)."""
        return urlsplit(self.public_url).scheme == "https"


class OwnersPage:
    def __init__(
        self,
        config: OwnersPageConfig,
        view: ActionsView,
        api: ActionsApi,
        evidence: EvidenceSource | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.view = view
        self.api = api
        self.evidence = evidence
        self.clock = clock
        self.auth = OwnerAuth(config.secret) if config.secret else None
        self.cookie = ("__Host-" if config.secure_cookies else "") + COOKIE
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters["plain"] = plain_at
        self.templates.filters["sentence"] = sentence
        self.templates.filters["source"] = source_label

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/actions", self.list_page)
        app.router.add_get("/actions/{action_id}", self.action_page)
        app.router.add_post("/actions/{action_id}", self.post_change)
        app.router.add_get("/sign-in", self.sign_in)
        app.router.add_post("/sign-out", self.sign_out)
        app.router.add_get("/assets/owners.js", self.init_script)
        if ASSETS.is_dir():
            app.router.add_static("/assets/nhsuk", ASSETS, show_index=False, follow_symlinks=False)
        else:
            log.warning("owners' page: %s is missing (run scripts/setup.sh); pages render unstyled", ASSETS)

    # -- rendering -----------------------------------------------------------------------------------
    def _render(
        self, name: str, status: int = 200, session: Session | None = None, **context: Any
    ) -> web.Response:
        csrf = self.auth.csrf_token(session) if self.auth and session else ""
        html = self.templates.get_template(name).render(session=session, csrf=csrf, **context)
        return web.Response(text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS)

    def _message(self, status: int, title: str, text: str, session: Session | None = None) -> web.Response:
        return self._render("message.html", status, session, title=title, text=text)

    def _redirect(self, location: str, session: Session | None = None, clear: bool = False) -> web.Response:
        response = web.Response(status=303, headers={**SECURITY_HEADERS, "Location": location})
        if session is not None and self.auth is not None:
            response.set_cookie(
                self.cookie,
                self.auth.cookie_value(session),
                max_age=max(0, session.expires - int(time.time())),
                path="/",
                secure=self.config.secure_cookies,
                httponly=True,
                samesite="Lax",
            )
        if clear:
            response.del_cookie(self.cookie, path="/")
        return response

    def _session(self, request: web.Request) -> Session | None:
        return self.auth.session_from(request.cookies.get(self.cookie)) if self.auth else None

    def _not_signed_in(self, signed_out: bool = False) -> web.Response:
        return self._render("sign_in.html", 401, None, signed_out=signed_out, signed=self.auth is not None)

    def _loading(self, session: Session | None) -> web.Response:
        response = self._message(
            503, "Please wait", "The actions are still loading. Try again in a few seconds.", session
        )
        response.headers["Retry-After"] = "5"
        return response

    async def init_script(self, request: web.Request) -> web.Response:
        return web.FileResponse(HERE / "static" / "owners.js", headers={"Cache-Control": "max-age=3600"})

    # -- sign in and out -----------------------------------------------------------------------------
    async def sign_in(self, request: web.Request) -> web.Response:
        token = request.query.get("k")
        if not token or self.auth is None:
            return self._not_signed_in(signed_out="signed-out" in request.query)
        if not self.view.ready:
            return self._loading(None)
        organisation = token.split(".", 1)[0]
        candidates = set(self.config.directory)
        for action in self.view.of_organisation(organisation):
            candidates.update(str(action.get(name) or "") for name in ("owner", "notify"))
        found = self.auth.sign_in_owner(token, sorted(candidates - {""}))
        if found is None:
            log.info("owners' page: a sign-in link was refused (expired or not valid)")
            return self._message(
                403,
                "This sign-in link has expired or is not valid",
                "Ask your organisation's pxstream administrator for a new sign-in link.",
            )
        session = self.auth.new_session(found[0], found[1], LIST_SCOPE)
        log.info("owners' page: signed in for the list organisation=%s", found[0])
        return self._redirect("/actions", session)

    async def sign_out(self, request: web.Request) -> web.Response:
        session = self._session(request)
        form = await self._form(request)
        if session is not None and (refused := self._refuse_forgery(request, session, form)) is not None:
            return refused
        return self._redirect("/sign-in?signed-out", clear=True)

    def _refuse_forgery(
        self, request: web.Request, session: Session, form: Mapping[str, str] | None
    ) -> web.Response | None:
        """403 for a post without this session's form token, or from another site's page."""
        origin = request.headers.get("Origin")
        same_origin = origin is None or urlsplit(origin).netloc == request.host
        assert self.auth is not None
        if form is None or not same_origin or not self.auth.csrf_ok(session, form.get("csrf")):
            log.warning("owners' page: a form post without a valid form token was refused")
            return self._message(
                403,
                "This form has expired",
                _RELOAD,
                session,
            )
        return None

    async def _form(self, request: web.Request) -> dict[str, str] | None:
        body = await _read_capped(request, MAX_FORM_BYTES)
        if body is None:
            return None
        try:
            parsed = parse_qs(body.decode("utf-8"), max_num_fields=20, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return None
        return {name: values[0] for name, values in parsed.items() if values}

    # -- the list ------------------------------------------------------------------------------------
    async def list_page(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session is None or session.scope != LIST_SCOPE:
            return self._not_signed_in()
        if not self.view.ready:
            return self._loading(session)
        now = self.clock()
        own = [a for a in self.view.of_organisation(session.organisation) if mine(a, session.owner)]
        status = request.query.get("status", "active")
        provider = request.query.get("provider", "")[:MAX_FILTER]
        ward = request.query.get("ward", "")[:MAX_FILTER]
        wanted = ACTIVE_STATUSES if status not in STATUSES else frozenset({status})
        shown = [
            a
            for a in own
            if a.get("status") in wanted
            and (not provider or a.get("provider") == provider)
            and (not ward or a.get("ward") == ward)
        ]
        rows = [
            {"action": a, "due": due_of(a, now, self.config.calendar), "status": STATUS_LABELS[a["status"]]}
            for a in sort_for_owner(shown)
        ]
        return self._render(
            "list.html",
            session=session,
            rows=rows,
            status_filter="active" if status not in STATUSES else status,
            provider=provider,
            ward=ward,
            statuses=[("active", "Open or acknowledged")] + [(s, STATUS_LABELS[s]) for s in STATUSES],
            providers=sorted({str(a["provider"]) for a in own if a.get("provider")}),
            wards=sorted({str(a["ward"]) for a in own if a.get("ward")}),
            overdue=sum(1 for r in rows if r["due"].overdue),
        )

    # -- one action ----------------------------------------------------------------------------------
    async def action_page(self, request: web.Request) -> web.Response:
        action_id = request.match_info["action_id"]
        if "k" in request.query:
            return self._follow_link(request, action_id, request.query["k"])
        session = self._session(request)
        if session is None:
            return self._not_signed_in()
        if not self.view.ready:
            return self._loading(session)
        action = self._visible(session, action_id)
        if action is None:
            return self._no_such_action(session)
        sent = request.query.get("sent")
        return await self._action_view(session, action, sent=sent if sent in FORM_CHANGES else None)

    def _visible(self, session: Session, action_id: str) -> dict[str, Any] | None:
        """The action if this session may see it: its organisation's, and the link's one action."""
        if not session.may_open(action_id):
            return None
        return self.view.get(action_id, session.organisation)

    def _no_such_action(self, session: Session | None) -> web.Response:
        return self._message(
            404,
            "Action not found",
            "There is no such action for your organisation. It may belong to another organisation, "
            "or the link may be mistyped.",
            session,
        )

    def _follow_link(self, request: web.Request, action_id: str, token: str) -> web.Response:
        """A notification's signed link: check it, start a session for that action, drop the token."""
        current = self._session(request)
        if self.auth is None:
            return self._not_signed_in()
        if not self.view.ready:
            return self._loading(current)
        action = self.view.find(action_id)
        recipient = None
        if action is not None:
            candidates = [action.get("owner"), action.get("notify")]
            history = [entry for entry in action.get("history") or [] if isinstance(entry, dict)]
            candidates += [entry.get("notify") for entry in history]
            recipient = self.auth.action_recipient(action_id, token, [str(c) for c in candidates if c])
        organisations = list(action.get("organisations") or []) if action is not None else []
        if action is None or recipient is None or not organisations:  # no organisation: nobody's to see
            log.info("owners' page: an action link was refused (expired, altered or unknown)")
            return self._message(
                403,
                "This link has expired or is not valid",
                "Links in notifications work for about two weeks. Use the link in the latest "
                "notification, or sign in to see your actions.",
                current,
            )
        if current is not None and current.organisation not in organisations:
            log.info("owners' page: a link to another organisation's action was refused")
            return self._message(
                403,
                "This link is for another organisation",
                "You are signed in for a different organisation. Sign out, then follow the link again.",
                current,
            )
        if current is not None and current.may_open(action_id):
            return self._redirect(f"/actions/{action_id}")  # already allowed: keep the session
        assert self.auth is not None
        session = self.auth.new_session(organisations[0], recipient, action_id)
        return self._redirect(f"/actions/{action_id}", session)

    async def _action_view(
        self,
        session: Session,
        action: Mapping[str, Any],
        *,
        status: int = 200,
        sent: str | None = None,
        problems: list[Problem] | None = None,
        open_form: str | None = None,
        values: Mapping[str, str] | None = None,
        message: str | None = None,
    ) -> web.Response:
        now = self.clock()
        evidence: Evidence | None = None
        if self.evidence is not None:
            evidence = await self.evidence.lookup(action, session.organisation)
        trigger = action.get("trigger") or {}
        hotspot_link = None
        if trigger.get("alert_id"):
            query = urlencode({"var-alert_id": trigger["alert_id"]})
            hotspot_link = f"{self.config.grafana_url}{self.config.hotspot_dashboard_path}?{query}"
        errors = {_FIELD_OF.get(p.path, p.path): p.message for p in problems or []}
        return self._render(
            "action.html",
            status,
            session,
            action=action,
            due=due_of(action, now, self.config.calendar),
            status_label=STATUS_LABELS.get(str(action.get("status")), str(action.get("status"))),
            chain=self.config.chain_for(action),
            history=[
                {
                    **entry,
                    "label": CHANGE_LABELS.get(str(entry.get("change")), ""),
                    "when": plain_at(entry["at"]),
                }
                for entry in reversed(action.get("history") or [])
            ],
            created=plain_at(action.get("created_at")),
            completed=plain_at(action.get("completed_at")),
            trigger=trigger,
            evidence=evidence,
            hotspot_link=hotspot_link,
            allowed={change: change_allowed(change, str(action.get("status"))) for change in FORM_CHANGES},
            form_key=secrets.token_urlsafe(16),
            sent=sent,
            sent_label=CHANGE_LABELS.get(sent or "", ""),
            errors=errors,
            open_form=open_form,
            values=values or {},
            message=message,
            today=now.astimezone(LONDON).date().isoformat(),
        )

    # -- a change ------------------------------------------------------------------------------------
    async def post_change(self, request: web.Request) -> web.Response:
        session = self._session(request)
        if session is None:
            return self._not_signed_in()
        form = await self._form(request)
        if (refused := self._refuse_forgery(request, session, form)) is not None:
            return refused
        assert form is not None
        if not self.view.ready:
            return self._loading(session)
        action = self._visible(session, request.match_info["action_id"])
        if action is None:
            return self._no_such_action(session)
        change = form.get("change", "")
        key = form.get("form_key", "")
        if change not in FORM_CHANGES or not IDEMPOTENCY_KEY_PATTERN.match(key):
            return self._message(400, "Something went wrong", _RELOAD, session)
        body, problems = self._change_body(change, form, session)
        if not problems:
            result = await self.api.submit_change(session.organisation, dict(action), body, f"page-{key}")
            problems = list(result.problems)
            if result.status == 503:
                return self._message(503, "Sorry, there is a problem", result.message, session)
            if result.status == 409:
                return await self._action_view(
                    session, action, status=409, message="This action has changed since you opened it."
                )
            if not problems:
                if not result.already_applied:
                    await self._wait_for_version(action, int(action["version"]))
                return self._redirect(f"/actions/{action['action_id']}?sent={change}")
        return await self._action_view(
            session, action, status=400, problems=problems, open_form=change, values=form
        )

    def _change_body(
        self, change: str, form: Mapping[str, str], session: Session
    ) -> tuple[dict[str, Any], list[Problem]]:
        """The API body for a form's change; the form's own problems (the date) in its words."""
        body: dict[str, Any] = {"change": change, "by": session.owner}
        problems: list[Problem] = []
        text = {name: (form.get(name) or "").strip() for name in ("note", "outcome", "reason", "owner")}
        required = {"comment": "note", "complete": "outcome", "cancel": "reason", "extend": "reason"}
        for name, value in text.items():
            if value:
                body[name] = value
        if change in required and not text[required[change]]:
            problems.append(Problem(required[change], _REQUIRED_MESSAGES[change]))
        if change == "reassign" and not text["owner"]:
            problems.append(Problem("owner", "Enter the owner to give this action to"))
        if change == "extend":
            due = _end_of_day(form.get("due_date", ""))
            if due is None:
                problems.append(Problem("due_date", "Enter the new due date, for example 2027-01-15"))
            else:
                body["due_at"] = due
        body = {k: v for k, v in body.items() if k in CHANGE_FIELDS[change]}  # the API's own list
        return body, problems

    async def _wait_for_version(self, action: Mapping[str, Any], version: int) -> None:
        """Give the stage a moment to apply the change, so the page shows it; never an error."""
        deadline = time.monotonic() + self.config.redirect_wait_s
        while time.monotonic() < deadline:
            current = self.view.find(str(action["action_id"]))
            if current is not None and int(current["version"]) > version:
                return
            await asyncio.sleep(0.1)


_RELOAD: Final = "Go back, reload the page and try again."
_REQUIRED_MESSAGES: Final = {
    "comment": "Enter a comment",
    "complete": "Enter what was done (the outcome)",
    "cancel": "Enter why the action is cancelled",
    "extend": "Enter why the due date needs to move",
}


def _end_of_day(value: str) -> str | None:
    """A `YYYY-MM-DD` from the form as the end of that day in Europe/London, ISO 8601 in UTC."""
    value = value.strip()
    if not _DATE.match(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    moment = datetime.combine(day, END_OF_DAY, LONDON)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
