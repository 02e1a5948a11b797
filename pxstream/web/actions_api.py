"""The actions HTTP API (docs/actions-api.md): list, read, create and change follow-up actions.

The server never changes an action itself. Reads come from `ActionsView` (the `actions` topic read
back); a create or a change becomes one command on `actions.commands` (schemas/action.py), and the
actions stage - the single writer of `actions` - applies it. So:

- `POST /v1/actions/{id}/changes` answers 202 once Kafka has acknowledged the command. 404 and 409
  are decided on the view, which the stage re-checks when it applies the command.
- `POST /v1/actions` sends a `create` command and then waits, at most `create_wait_s`, for the
  stage's record to appear on `actions`: 201 with that Action v1 (owner, due date and history as
  the stage made them), or 202 `{"action_id", "status": "pending"}` with a `Location` to poll.
- Retries never apply twice: a command's id comes from the `Idempotency-Key` header when given,
  otherwise from the request itself (for a change, with the version of the action it was made
  against), and the stage applies each command id once. A retry that arrives after the stage
  applied it is recognised in the action's history and answered 202 again, sending nothing. A
  manual action's id derives from its command id, so a retried create returns the same action.

Tenancy: a token speaks for one organisation. Every read is filtered to actions whose
`organisations` include it, and another organisation's action is answered exactly like an
unknown one (404), so ids cannot be probed. Nothing here logs text fields or tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web
from aiokafka.errors import KafkaError

from connectors.exceptions import BrokerUnavailable
from connectors.ingest.kafka_link import KafkaLink

# The ingest server's own response and body helpers, so both APIs answer alike.
from connectors.ingest.server import _error, _json, _read_capped
from connectors.ingest.server import _refused as _problems
from connectors.ingest.tokens import Caller, TokenStore
from connectors.ratelimit import CallerRateLimit, retry_after_header
from pxstream.web.actions_requests import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    DueClock,
    Problem,
    parse_change,
    parse_list_query,
    parse_new_action,
)
from pxstream.web.actions_view import ActionsView
from schemas import topics
from schemas.action import CREATE, EXTEND, MANUAL_RULE, action_id_for, change_allowed
from schemas.feedback_event import format_timestamp as iso

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionsApiConfig:
    bootstrap: str
    actions_topic: str = topics.ACTIONS
    commands_topic: str = topics.ACTION_COMMANDS
    create_wait_s: float = 10.0  # how long POST /v1/actions waits for the stage's record
    send_timeout_s: float = 15.0
    connect_timeout_s: float = 5.0


def _refused(problems: list[Problem]) -> web.Response:
    return _problems([p.as_json() for p in problems])


def command_id_for(
    organisation: str, scope: str, idempotency_key: str | None, request: dict[str, Any]
) -> str:
    """The command's id: the same retried request always gives the same id.

    `scope` is the action id and the version the change was made against (or "create"); with an
    `Idempotency-Key` the key replaces the request's content and the version, so a client can
    make two identical changes on purpose and still retry each safely.
    """
    if idempotency_key is not None:
        scope, material = scope.split("@", 1)[0], "key\x1f" + idempotency_key
    else:
        material = "body\x1f" + orjson.dumps(request, option=orjson.OPT_SORT_KEYS).decode()
    digest = hashlib.sha256("\x1f".join((organisation, scope, material)).encode()).hexdigest()
    return f"cmd-{digest[:32]}"


def _already_applied(action: dict[str, Any], organisation: str, key: str | None, body: Any) -> bool:
    """Whether this request is a retry of a change the stage has already applied.

    The stage records each command's id in the history entry it appends, one entry per version.
    With an Idempotency-Key the id is the key's, whatever the version. Without one, the id was
    made against the version the action had then: a retry matches the *latest* command entry
    (entry i made version i+1 from version i), so an identical change made on purpose after
    another one is still a new change.
    """
    history = action.get("history") if isinstance(action.get("history"), list) else []
    action_id = action["action_id"]
    if key is not None:
        wanted = command_id_for(organisation, f"{action_id}@", key, body)
        return any(isinstance(e, dict) and e.get("command_id") == wanted for e in history)
    for index in range(len(history) - 1, -1, -1):
        entry = history[index]
        if isinstance(entry, dict) and entry.get("command_id"):
            return entry["command_id"] == command_id_for(organisation, f"{action_id}@{index}", None, body)
    return False


def _later(new: str | None, current: Any) -> bool:
    """Whether an extension's `due_at` is after the current one (absent values never block)."""
    if new is None or not isinstance(current, str):
        return True
    try:
        return datetime.fromisoformat(new) > datetime.fromisoformat(current)
    except ValueError:
        return True


@dataclass(frozen=True)
class ChangeResult:
    """What became of a change: 202 (sent, or already applied), 400 with problems, 409, 503."""

    status: int
    problems: tuple[Problem, ...] = ()
    message: str = ""
    already_applied: bool = False


class ActionsApi:
    """The `/v1/actions` routes; shares the ingest server's tokens and rate limiter."""

    def __init__(
        self,
        config: ActionsApiConfig,
        tokens: TokenStore,
        limiter: CallerRateLimit,
        view: ActionsView,
        due_clock: DueClock,
    ) -> None:
        self.config = config
        self.tokens = tokens
        self.limiter = limiter
        self.view = view
        self.due_clock = due_clock
        self.kafka = KafkaLink(
            config.bootstrap, config.commands_topic, connect_timeout_s=config.connect_timeout_s
        )

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/actions", self.list_actions)
        app.router.add_post("/v1/actions", self.create_action)
        app.router.add_get("/v1/actions/{action_id}", self.show_action)
        app.router.add_post("/v1/actions/{action_id}/changes", self.post_change)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._close)

    async def _start(self, app: web.Application) -> None:
        await self.view.start()

    async def _close(self, app: web.Application) -> None:
        await self.view.stop()
        await self.kafka.close()

    # -- common steps ------------------------------------------------------------------------------
    def _admit(self, request: web.Request) -> Caller | web.Response:
        caller = self.tokens.authenticate(request.headers.get("Authorization"))
        if caller is None:
            return _error(
                401,
                "missing or unknown bearer token (header `Authorization: Bearer <token>`)",
                {"WWW-Authenticate": 'Bearer realm="pxstream"'},
            )
        wait = self.limiter.take(caller.key)
        if wait > 0:
            seconds = retry_after_header(wait)
            return _error(
                429, f"over the rate limit for this token; retry after {seconds} s", {"Retry-After": seconds}
            )
        return caller

    def _not_ready(self) -> web.Response | None:
        if self.view.ready:
            return None
        return _error(503, "still reading the actions from Kafka; retry shortly", {"Retry-After": "5"})

    def _own_action(self, request: web.Request) -> tuple[Caller, dict[str, Any]] | web.Response:
        """The caller and the action named in the path; 404 when unknown or another organisation's."""
        caller = self._admit(request)
        if isinstance(caller, web.Response):
            return caller
        if (busy := self._not_ready()) is not None:
            return busy
        action = self.view.get(request.match_info["action_id"], caller.organisation)
        if action is None:
            return _error(404, "no such action for this organisation")
        return caller, action

    @staticmethod
    def _idempotency_key(request: web.Request) -> tuple[str | None, list[Problem]]:
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
            return None, [
                Problem("Idempotency-Key", "must be 1-128 printable ASCII characters without spaces")
            ]
        return key, []

    async def _body(self, request: web.Request) -> Any | web.Response:
        body = await _read_capped(request, MAX_BODY_BYTES)
        if body is None:
            return _error(413, f"body is larger than {MAX_BODY_BYTES // 1024} KiB")
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            return _refused([Problem("", "the body is not JSON")])

    async def _send(self, action_id: str, command: dict[str, Any]) -> web.Response | None:
        """Put the command on Kafka keyed by its action; a 503 the client may retry on failure."""
        try:
            producer = await self.kafka.producer()
            await asyncio.wait_for(
                producer.send_raw([(action_id.encode(), orjson.dumps(command))]), self.config.send_timeout_s
            )
        except (BrokerUnavailable, KafkaError, TimeoutError, OSError) as exc:
            log.warning("Kafka at %s refused a command: %s", self.config.bootstrap, type(exc).__name__)
            return _error(
                503,
                f"Kafka is not reachable; nothing was sent. Retry later, safely ({type(exc).__name__})",
                {"Retry-After": "5"},
            )
        return None

    # -- handlers ----------------------------------------------------------------------------------
    async def list_actions(self, request: web.Request) -> web.Response:
        caller = self._admit(request)
        if isinstance(caller, web.Response):
            return caller
        query, problems = parse_list_query(request.query)
        if problems:
            return _refused(problems)
        if (busy := self._not_ready()) is not None:
            return busy
        found = [a for a in self.view.of_organisation(caller.organisation) if query.matches(a)]
        found.sort(key=lambda a: (str(a.get("due_at") or ""), a["action_id"]))
        return _json({"actions": found[: query.limit], "truncated": len(found) > query.limit})

    async def show_action(self, request: web.Request) -> web.Response:
        found = self._own_action(request)
        return found if isinstance(found, web.Response) else _json(found[1])

    async def create_action(self, request: web.Request) -> web.Response:
        caller = self._admit(request)
        if isinstance(caller, web.Response):
            return caller
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        now = datetime.now(UTC)
        key, problems = self._idempotency_key(request)
        fields, body_problems = parse_new_action(body, now, self.due_clock)
        if problems or body_problems:
            return _refused(problems + body_problems)
        command_id = command_id_for(caller.organisation, CREATE, key, body)
        action_id = action_id_for(MANUAL_RULE, "command", caller.organisation, command_id)
        location = {"Location": f"/v1/actions/{action_id}"}
        existing = self.view.get(action_id, caller.organisation)
        if existing is None:
            command = {
                "command_id": command_id,
                "action_id": action_id,
                "change": CREATE,
                "by": f"api:{caller.organisation}",
                "at": iso(now),
                "organisation": caller.organisation,
                **fields,
            }
            if (failed := await self._send(action_id, command)) is not None:
                return failed
            existing = await self.view.wait_for(action_id, self.config.create_wait_s)
        log.info(
            "POST /v1/actions organisation=%s action_id=%s made=%s",
            caller.organisation,
            action_id,
            bool(existing),
        )
        if existing is None:
            return _json({"action_id": action_id, "status": "pending"}, 202, location)
        return _json(existing, 201, location)

    async def post_change(self, request: web.Request) -> web.Response:
        found = self._own_action(request)
        if isinstance(found, web.Response):
            return found
        caller, action = found
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        key, problems = self._idempotency_key(request)
        if problems:  # every problem at once: the key's and the body's
            return _refused(problems + parse_change(body, datetime.now(UTC))[1])
        result = await self.submit_change(caller.organisation, action, body, key)
        if result.problems:
            return _refused(list(result.problems))
        if result.status == 503:
            return _error(503, result.message, {"Retry-After": "5"})
        if result.status != 202:
            return _error(result.status, result.message)
        return _json({"action_id": action["action_id"]}, 202)

    async def submit_change(
        self, organisation: str, action: dict[str, Any], body: Any, key: str | None
    ) -> ChangeResult:
        """Check one change to `action` and put it on `actions.commands`: the path the API and the
        owners' page share (docs/owners-page.md), so the stage stays the single writer and a retry
        (same body and version, or same key) is applied once."""
        now = datetime.now(UTC)
        fields, problems = parse_change(body, now)
        if problems:
            return ChangeResult(400, tuple(problems))
        action_id, status = action["action_id"], str(action.get("status"))
        if _already_applied(action, organisation, key, body):
            return ChangeResult(202, already_applied=True)  # a retry of what the stage already applied
        if fields["change"] == EXTEND and not _later(fields.get("due_at"), action.get("due_at")):
            return ChangeResult(400, (Problem("due_at", "must be later than the action's current due date"),))
        if not change_allowed(fields["change"], status):
            return ChangeResult(409, message=f"a {status} action cannot take the change {fields['change']}")
        command_id = command_id_for(organisation, f"{action_id}@{action['version']}", key, body)
        command = {
            "command_id": command_id,
            "action_id": action_id,
            "at": iso(now),
            "organisation": organisation,
            **fields,
        }
        if (failed := await self._send(action_id, command)) is not None:
            return ChangeResult(503, message=orjson.loads(failed.body)["error"])
        log.info(
            "change to an action organisation=%s action_id=%s change=%s",
            organisation,
            action_id,
            fields["change"],
        )
        return ChangeResult(202)
