"""`pxstream sql`: read-only queries, printed as a table or JSON.

Two fences, not one: the statement must pass the allow-list of sinks/sql_guard.py (one read-only
statement, known functions only, no clause that touches files, the network or settings), and the
engine runs it with `readonly=1` and a time limit, so whatever the guard misses still cannot write a
table. `readonly=1` alone is not enough: it lets `file()` and `INTO OUTFILE` through on chDB.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from schemas.feedback_event import format_timestamp
from sinks.exceptions import ReadOnlyQueryError
from sinks.sql_guard import check_read_only

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

__all__ = ["READONLY_SETTINGS", "check_read_only", "format_json", "format_table", "run_query"]

# `readonly` last: a server applies request settings in order and refuses changes after it.
READONLY_SETTINGS: dict[str, Any] = {"max_execution_time": 120, "readonly": 1}
_MAX_CELL = 80


def run_query(client: Client, sql: str) -> tuple[list[str], list[Sequence[Any]]]:
    """Run one read-only statement; ClickHouse's own refusal surfaces as ReadOnlyQueryError."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    checked = check_read_only(sql)
    try:
        # The query's own allowed settings first: a server refuses any change after `readonly`.
        result = client.query(checked.sql, settings={**checked.settings, **READONLY_SETTINGS})
    except DatabaseError as exc:
        message = str(exc)
        if "(READONLY)" in message:  # the error code's name; the echoed query says `readonly = '1'` too
            raise ReadOnlyQueryError("refused by ClickHouse: the query tries to write (readonly=1)") from None
        raise ReadOnlyQueryError(f"ClickHouse refused the query: {_first_error_line(message)}") from None
    return list(result.column_names), list(result.result_rows)


def _first_error_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()[:300]
    return "unknown error"


def plain(value: Any) -> Any:
    """A value orjson cannot write by itself, as JSON: UTC timestamps with Z, dates, decimals."""
    if isinstance(value, datetime):
        # The tables store UTC; the driver hands back naive datetimes for it.
        return format_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def format_json(columns: list[str], rows: list[Sequence[Any]]) -> str:
    objects = [dict(zip(columns, row, strict=True)) for row in rows]
    options = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
    return orjson.dumps(objects, default=plain, option=options).decode()


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, list | tuple | dict):
        text = orjson.dumps(value, default=plain).decode()
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"


def format_table(columns: list[str], rows: list[Sequence[Any]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(c) for c in columns]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    numeric = [bool(rows) and all(isinstance(r[i], int | float) for r in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        padded = (
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "  ".join(padded).rstrip()

    out = [line(columns), line(["-" * w for w in widths])]
    out.extend(line(row) for row in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)
