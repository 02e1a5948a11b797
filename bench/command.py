"""`pxstream bench`'s command line, apart from the benchmark itself.

Registering a command must be cheap and must not be able to break the others (pxstream/cli.py):
this module imports only argparse, and the benchmark (bench/cli.py, which pulls in the harness,
the peer and every part) is imported when `pxstream bench` actually runs. A benchmark module that
fails to import then stops `pxstream bench` alone, never the worker or any other command.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.part_names import DEFAULT_PARTS


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("bench", help="measure throughput and alert latency on this machine")
    parser.add_argument(
        "--events",
        type=int,
        default=None,
        help="events for every part (default: each part's own size, chosen so the whole run takes "
        "under 10 minutes on 2 cores)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="also write the figures as JSON"
    )
    parser.add_argument(
        "--only",
        default=DEFAULT_PARTS,
        help=f"comma-separated parts to run, or 'all' (default: {DEFAULT_PARTS}; "
        "also: pipeline, sink, import, tagging, actions)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bench.cli import run_bench

    return run_bench(args)
