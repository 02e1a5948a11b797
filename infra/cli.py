"""`pxstream infra up | down | status` — the local Kafka broker, Alertmanager and Prometheus."""

from __future__ import annotations

import argparse
import sys

PART_NAMES = ("kafka", "alertmanager", "prometheus")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    infra = subparsers.add_parser(
        "infra",
        help="start / stop / report the local Kafka broker, Alertmanager and Prometheus",
        description="Run the real parts on loopback. State, logs and pid files live under "
        "$PXSTREAM_DATA_DIR (default ./.pxstream).",
    )
    commands = infra.add_subparsers(dest="infra_command", metavar="ACTION", required=True)

    up = commands.add_parser("up", help="start the parts that are not running and wait until they answer")
    up.add_argument("parts", nargs="*", metavar="PART", help=f"any of {', '.join(PART_NAMES)} (default: all)")
    up.set_defaults(func=_up)

    down = commands.add_parser("down", help="stop the parts that `up` started (data is kept)")
    down.add_argument("parts", nargs="*", metavar="PART", help="default: all")
    down.add_argument("--purge", action="store_true", help="also delete their data (not the jar cache)")
    down.set_defaults(func=_down)

    status = commands.add_parser("status", help="each part with its address, pid and health")
    status.add_argument("parts", nargs="*", metavar="PART", help="default: all")
    status.set_defaults(func=_status)


def _progress(message: str) -> None:
    print(message, flush=True)


def _config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from infra.config import InfraConfig

    return InfraConfig.from_settings(args.settings)


def _up(args: argparse.Namespace) -> int:
    from infra import stack

    stack.up(_config(args), _progress, args.parts or None)
    return 0


def _down(args: argparse.Namespace) -> int:
    from infra import stack

    stack.down(_config(args), _progress, args.parts or None, purge=args.purge)
    return 0


def _status(args: argparse.Namespace) -> int:
    from infra import stack

    states = stack.status(_config(args), args.parts or None)
    print(stack.format_table(states))
    sys.stdout.flush()
    return 0 if all(state.ok for state in states) else 1
