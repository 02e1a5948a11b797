"""`pxstream produce` and `pxstream connect NAME …`.

Each connector module contributes its own `connect` subcommand through `register(subparsers)`.
Every listed module must import: a missing one is a broken install and fails loudly rather than
its command quietly disappearing. Registration stays cheap: connector modules import network
libraries inside their handlers.
"""

from __future__ import annotations

import argparse
import importlib

from connectors.registry import CONNECTORS

CONNECTOR_MODULES: tuple[str, ...] = tuple(entry.module for entry in CONNECTORS)


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.produce import register_produce

    register_produce(subparsers)
    connect = subparsers.add_parser("connect", help="run a connector that puts a source's feedback on Kafka")
    names = connect.add_subparsers(dest="connector", metavar="NAME", required=True)
    for module_name in CONNECTOR_MODULES:
        importlib.import_module(module_name).register(names)
