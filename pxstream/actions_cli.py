"""`pxstream actions list | show | complete | digest`: the follow-up actions for operators.

Reading tails the compacted `actions` topic to its end (the stage's own output, so what is shown
is what the stage decided); `complete` puts a command on `actions.commands` and the stage applies
it, like a change made through the HTTP API (docs/actions.md).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas import action as contract
from schemas import topics
from schemas.errors import ConfigError, PxstreamError
from schemas.feedback_event import format_timestamp
from schemas.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("actions", help="follow-up actions: list, show, complete, digest")
    commands = parser.add_subparsers(dest="actions_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="actions, soonest due first")
    listing.add_argument("--status", choices=contract.STATUSES)
    listing.add_argument("--owner")
    listing.add_argument("--organisation", help="only actions this organisation sees")
    listing.add_argument("--overdue", action="store_true", help="only overdue actions")
    listing.add_argument("--json", action="store_true", help="one Action v1 JSON per line")
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="one action with its history")
    show.add_argument("action_id")
    show.add_argument("--json", action="store_true", help="the Action v1 JSON")
    show.set_defaults(func=run_show)

    complete = commands.add_parser("complete", help="complete an action with its outcome")
    complete.add_argument("action_id")
    complete.add_argument("--outcome", required=True, help="what was done (redacted before it is stored)")
    complete.add_argument("--by", help="who (default $USER)")
    complete.add_argument(
        "--organisation", help="on behalf of which organisation (default: the action's first)"
    )
    complete.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait until the stage shows it completed"
    )
    complete.set_defaults(func=run_complete)

    digest = commands.add_parser(
        "digest", help="the weekly digest for one owner: overdue, due this week, open"
    )
    digest.add_argument("--owner", required=True)
    digest.add_argument("--format", choices=("text", "html"), default="text")
    digest.add_argument("--now", help="ISO 8601 time to build the digest at (default: now)")
    digest.set_defaults(func=run_digest)


def _topic(settings: Settings, name: str) -> str:
    return settings.worker.topic_prefix + name


def _load(settings: Settings) -> dict[str, dict[str, Any]]:
    from pxstream.worker import check_broker
    from streams.actions.store import read_actions

    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # its INFO chatter is not for this terminal
    check_broker(settings.kafka_bootstrap)
    return asyncio.run(read_actions(settings.kafka_bootstrap, _topic(settings, topics.ACTIONS)))


def run_list(args: argparse.Namespace) -> int:
    from streams.actions.digest import line, select

    chosen = select(
        _load(args.settings).values(),
        status=args.status,
        owner=args.owner,
        overdue=True if args.overdue else None,
        organisation=args.organisation,
    )
    for action in chosen:
        print(orjson.dumps(action).decode() if args.json else line(action))
    if not args.json:
        print(f"{len(chosen)} action(s)", file=sys.stderr)
    return 0


def _find(settings: Settings, action_id: str) -> dict[str, Any]:
    action = _load(settings).get(action_id)
    if action is None:
        raise PxstreamError(f"no action {action_id} on {_topic(settings, topics.ACTIONS)}")
    return action


def run_show(args: argparse.Namespace) -> int:
    from streams.actions.digest import line

    action = _find(args.settings, args.action_id)
    if args.json:
        print(orjson.dumps(action, option=orjson.OPT_INDENT_2).decode())
        return 0
    print(line(action))
    print(f"  organisations {', '.join(action.get('organisations') or [])}; trigger {action.get('trigger')}")
    if action.get("outcome"):
        print(f"  outcome: {action['outcome']}")
    for entry in action.get("history") or []:
        note = f" — {entry['note']}" if entry.get("note") else ""
        print(f"  {entry['at']}  {entry['change']:<12} by {entry['by']}{note}")
    return 0


def run_complete(args: argparse.Namespace) -> int:
    settings: Settings = args.settings
    action = _find(settings, args.action_id)
    organisation = args.organisation or next(iter(action.get("organisations") or []), None)
    if not organisation:
        raise ConfigError(f"action {args.action_id} has no organisation: give --organisation")
    if not contract.change_allowed(contract.COMPLETE, action["status"]):
        raise PxstreamError(f"action {args.action_id} is {action['status']}: it cannot be completed")
    command = {
        "command_id": f"cli-{uuid.uuid4().hex}",
        "action_id": args.action_id,
        "change": contract.COMPLETE,
        "by": args.by or settings.user,
        "at": format_timestamp(datetime.now(UTC)),
        "organisation": organisation,
        "outcome": args.outcome,
    }
    asyncio.run(_send(settings, command))
    print(f"asked to complete {args.action_id} (command {command['command_id']})")
    deadline = time.monotonic() + args.wait
    while args.wait > 0:
        if _find(settings, args.action_id)["status"] == contract.COMPLETED:
            print(f"{args.action_id} is completed")
            return 0
        if time.monotonic() >= deadline:
            raise PxstreamError(
                f"{args.action_id} not completed after {args.wait:g} s: is the worker running?"
            )
        time.sleep(0.5)
    return 0


async def _send(settings: Settings, command: dict[str, Any]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            _topic(settings, topics.ACTION_COMMANDS), orjson.dumps(command), key=command["action_id"].encode()
        )
    finally:
        await producer.stop()


def run_digest(args: argparse.Namespace) -> int:
    from streams.actions.digest import build_digest, render_html, render_text
    from streams.actions.engine import parse_time

    now = datetime.now(UTC)
    if args.now:
        parsed = parse_time(args.now)
        if parsed is None:
            raise ConfigError(f"--now {args.now!r} is not an ISO 8601 time with an offset")
        now = parsed
    digest = build_digest(_load(args.settings).values(), args.owner, now)
    sys.stdout.write(render_html(digest) if args.format == "html" else render_text(digest))
    return 0
