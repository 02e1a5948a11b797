"""The repository's package layout, as the structure and settings tests check it (docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]

# The runtime packages, in the order of the data flow: each may import the ones listed for it.
# `runtime/` (the Kafka plumbing) is the ground floor beside `schemas/`; `infra/` and the
# `pxstream/` command line are on top, composing what lies below.
FLOW: Final[tuple[str, ...]] = (
    "schemas",
    "runtime",
    "connectors",
    "streams",
    "sinks",
    "grafana",
    "infra",
    "pxstream",
)
# Outside the product: they may use any runtime package, and no runtime package may import them.
OUTSIDE: Final = frozenset({"bench", "lab"})
PACKAGES: Final = frozenset(FLOW) | OUTSIDE
