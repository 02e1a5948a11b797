"""Connector commands: `pxstream produce` (and, as connectors land, `pxstream connect NAME`)."""

from __future__ import annotations

from typing import Any

from connectors.produce import register_produce


def register(subparsers: Any) -> None:
    register_produce(subparsers)
