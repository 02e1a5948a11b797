"""`pxstream` — one entry point, commands contributed by each stage.

Each stage package has a `cli` module with `register(subparsers)`. Registration must stay
cheap (argparse only): heavy imports (Faust, chDB) happen inside the command handlers, so
`pxstream --help` and `pxstream infra status` start fast.

This is the edge where the environment is read: `main` builds the one `Settings` object
(schemas/settings.py) before any command runs, so a bad variable stops every command with one
line naming it (exit 2), and hands it to the command as `args.settings`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from pxstream.web import http_app
from schemas.errors import PxstreamError
from schemas.settings import Settings

# Order is the order of `pxstream --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "infra.cli",
    "pxstream.demo",
    "streams.cli",
    "pxstream.worker",
    "pxstream.actions_cli",
    "connectors.cli",
    "sinks.cli",
    "grafana.cli",
    "bench.command",
    "pxstream.web.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pxstream",
        description="Real-time patient-experience and patient-safety intelligence for the NHS.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    # `pxstream connect http` serves the composed server (ingest + actions API) built up here.
    parser.set_defaults(http_app_factory=http_app)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        # Every module is part of the product: a missing one is a broken install, not an
        # optional stage, so the import error surfaces instead of a command quietly vanishing.
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        args.settings = Settings.from_env()
        return int(args.func(args) or 0)
    except PxstreamError as exc:
        print(f"pxstream: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
