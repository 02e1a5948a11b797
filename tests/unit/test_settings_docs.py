"""The README's environment table, docs/contracts.md's and the Settings object list the same variables.

A variable the object reads but no table lists is a setting nobody can find; one a table lists
but nothing reads is a setting that silently does nothing. Names are read from the tables'
first column, where `_SUFFIX` after a full name shortens a sibling (`PXSTREAM_GRAFANA_CLICKHOUSE_PORT`,
`_SECURE`).
"""

from __future__ import annotations

import re
from pathlib import Path

from connectors.mail.imap import PASSWORD_ENV
from connectors.reviews.careopinion import API_KEY_ENV as CAREOPINION_KEY_ENV
from connectors.reviews.nhs_reviews import API_KEY_ENV as NHSUK_KEY_ENV
from connectors.social.mastodon import TOKEN_ENV
from schemas.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
# Listed, and read by something other than pxstream: Grafana fills these from its own environment,
# and the owners' page tests choose where screenshots go.
NOT_READ_BY_PXSTREAM = frozenset(
    {
        "PXSTREAM_GRAFANA_CLICKHOUSE_HOST",
        "PXSTREAM_GRAFANA_CLICKHOUSE_USER",
        "PXSTREAM_GRAFANA_CLICKHOUSE_PASSWORD",
        "PXSTREAM_SCREENSHOT_DIR",
    }
)
CONNECTOR_SECRETS = frozenset({PASSWORD_ENV, CAREOPINION_KEY_ENV, NHSUK_KEY_ENV, TOKEN_ENV})
_NAME = re.compile(r"`(_?[A-Z][A-Z0-9_]*)`")


def table_names(path: Path, heading: str) -> set[str]:
    """Variables in the first column of the first table under `heading`."""
    text = path.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| variable"))
    names: set[str] = set()
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        last = ""
        for name in _NAME.findall(line.split("|")[1]):
            if name.startswith("_"):  # `_SECURE` after `PXSTREAM_GRAFANA_CLICKHOUSE_PORT`
                name = last.rsplit("_", 1)[0] + name
            names.add(name)
            last = name
    return names


def read_by_pxstream() -> set[str]:
    return set(DEFAULTS) | CONNECTOR_SECRETS


def test_table_reader_expands_shortened_names(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    rows = "| `A_B_PORT`, `_SECURE` | 1 |\n| `C` | `NOT_THIS` |\n"
    page.write_text(f"## Env\n\n| variable | x |\n|---|---|\n{rows}\nafter `NOR_THIS`\n")
    assert table_names(page, "## Env") == {"A_B_PORT", "A_B_SECURE", "C"}


def test_readme_table_lists_exactly_what_pxstream_reads() -> None:
    listed = table_names(ROOT / "README.md", "## Configuration")
    assert listed - NOT_READ_BY_PXSTREAM == read_by_pxstream()


def test_contracts_table_lists_exactly_what_pxstream_reads() -> None:
    listed = table_names(ROOT / "docs" / "contracts.md", "## Environment variables")
    assert listed - NOT_READ_BY_PXSTREAM == read_by_pxstream()


def test_the_contracts_table_explains_the_variables_pxstream_does_not_read() -> None:
    listed = table_names(ROOT / "docs" / "contracts.md", "## Environment variables")
    assert listed >= NOT_READ_BY_PXSTREAM
