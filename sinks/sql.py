"""`pxstream sql`: read-only queries, printed as a table or JSON.

Two locks, not one: the statement must start with SELECT / WITH / SHOW / DESCRIBE (a clear
message for a person who typed something else), and the engine runs it with `readonly=1`, so
an INSERT hidden after a comment or inside a WITH is refused by ClickHouse itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from sinks.exceptions import ReadOnlyQueryError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

READ_ONLY_KEYWORDS = ("SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS")
READONLY_SETTINGS = {"readonly": 1}
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/|#[^\n]*", re.DOTALL)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`(?:[^`\\]|\\.)*`", re.DOTALL)
_MAX_CELL = 80


def first_keyword(sql: str) -> str:
    stripped = _COMMENTS.sub(" ", sql).strip().lstrip("(").strip()
    match = re.match(r"[A-Za-z]+", stripped)
    return match.group(0).upper() if match else ""


def _code_only(sql: str) -> str:
    """The statement without comments or quoted text, so `;` and keywords in them do not count."""
    out, pos = [], 0
    pattern = re.compile(f"{_COMMENTS.pattern}|{_QUOTED.pattern}", re.DOTALL)
    for match in pattern.finditer(sql):
        out.append(sql[pos : match.start()])
        out.append(" " if match.group(0)[0] in "-/#" else "''")
        pos = match.end()
    out.append(sql[pos:])
    return "".join(out)


def single_statement(sql: str) -> str:
    """The statement without a trailing `;`; more than one statement is refused."""
    code = _code_only(sql).strip().rstrip(";").strip()
    if ";" in code:
        raise ReadOnlyQueryError("pxstream sql runs one statement at a time; found `;` between statements")
    stripped = sql.strip()
    while stripped.endswith(";"):
        stripped = stripped[:-1].rstrip()
    return stripped


def check_read_only(sql: str) -> None:
    single_statement(sql)
    keyword = first_keyword(_code_only(sql))
    if keyword not in READ_ONLY_KEYWORDS:
        shown = keyword or "an empty statement"
        raise ReadOnlyQueryError(
            f"pxstream sql runs read-only queries (SELECT, WITH, SHOW, DESCRIBE); refused {shown}"
        )


def run_query(client: Client, sql: str) -> tuple[list[str], list[Sequence[Any]]]:
    """Run one read-only statement; ClickHouse's own refusal surfaces as ReadOnlyQueryError."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    check_read_only(sql)
    try:
        result = client.query(single_statement(sql), settings=READONLY_SETTINGS)
    except DatabaseError as exc:
        message = str(exc)
        if "READONLY" in message or "readonly" in message:
            raise ReadOnlyQueryError("refused by ClickHouse: the query tries to write (readonly=1)") from None
        raise ReadOnlyQueryError(f"ClickHouse refused the query: {_first_error_line(message)}") from None
    return list(result.column_names), list(result.result_rows)


def _first_error_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()[:300]
    return "unknown error"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        # The tables store UTC; the driver hands back naive datetimes for it.
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
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
    return orjson.dumps(objects, default=_plain, option=options).decode()


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, list | tuple | dict):
        text = orjson.dumps(value, default=_plain).decode()
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
