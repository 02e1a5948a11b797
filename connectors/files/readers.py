"""Streaming rows out of CSV and XLSX exports, with how far through the file we are.

Neither reader holds the file in memory: CSV is read through a byte-counting wrapper (so the
progress bar knows the fraction done), XLSX through openpyxl's read-only mode, which parses the
sheet XML as it goes. Rows come out as (spreadsheet row number, {header: value}) so every
rejection can name the row a person would see in Excel.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.exceptions import ConnectorConfigError
from connectors.files.mapping import Mapping, column_key

Cell = str | datetime


@dataclass
class Position:
    """How much of the input has been read: bytes for CSV, rows for XLSX."""

    done: int = 0
    total: int = 0


class _CountingReader(io.RawIOBase):
    def __init__(self, raw: io.BufferedReader, position: Position) -> None:
        self._raw = raw
        self._position = position

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self._raw.readinto(buffer)
        self._position.done += count or 0
        return count or 0


def _header_index(header: list[str], mapping: Mapping, path: Path) -> dict[str, int]:
    """Map each column the mapping names to its index, or refuse naming the missing ones."""
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        positions.setdefault(column_key(title), index)
    missing = [column for column in sorted(mapping.columns_needed()) if column_key(column) not in positions]
    if missing:
        raise ConnectorConfigError(
            f"{path}: column(s) {', '.join(repr(c) for c in missing)} named in mapping {mapping.path} "
            f"are not in the header row ({', '.join(repr(h) for h in header if h)})"
        )
    return {column: positions[column_key(column)] for column in mapping.columns_needed()}


def _cell(value: Any) -> Cell:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_csv(path: Path, mapping: Mapping, position: Position) -> Iterator[tuple[int, dict[str, Cell]]]:
    position.total = path.stat().st_size
    with path.open("rb") as raw:
        text = io.TextIOWrapper(
            io.BufferedReader(_CountingReader(raw, position), 1 << 16), encoding=mapping.encoding, newline=""
        )
        reader = csv.reader(text, delimiter=mapping.delimiter)
        row_number = 1
        try:
            header = next(reader, None)
            if header is None:
                raise ConnectorConfigError(f"{path}: the file is empty (expected a header row)")
            index = _header_index(header, mapping, path)
            for row_number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                yield (
                    row_number,
                    {column: (row[at].strip() if at < len(row) else "") for column, at in index.items()},
                )
        except UnicodeDecodeError as exc:
            raise ConnectorConfigError(
                f"{path}: row {row_number + 1} is not {mapping.encoding} text ({exc.reason}); "
                f"set `encoding: cp1252` (or the export's encoding) in {mapping.path}"
            ) from exc
        except csv.Error as exc:
            raise ConnectorConfigError(f"{path}: row {row_number + 1}: not valid CSV ({exc})") from exc


def read_xlsx(path: Path, mapping: Mapping, position: Position) -> Iterator[tuple[int, dict[str, Cell]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile, KeyError and its own errors for a bad file
        raise ConnectorConfigError(
            f"{path}: not a readable XLSX workbook ({type(exc).__name__}: {exc})"
        ) from exc
    try:
        if mapping.sheet is not None:
            if mapping.sheet not in workbook.sheetnames:
                raise ConnectorConfigError(
                    f"{path}: no sheet {mapping.sheet!r} (mapping {mapping.path}); "
                    f"sheets: {', '.join(workbook.sheetnames)}"
                )
            sheet = workbook[mapping.sheet]
        else:
            sheet = workbook.worksheets[0]
        position.total = max((sheet.max_row or 0) - 1, 0)
        rows = sheet.iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            raise ConnectorConfigError(f"{path}: sheet {sheet.title!r} is empty (expected a header row)")
        index = _header_index([str(v).strip() if v is not None else "" for v in header_row], mapping, path)
        for row_number, values in enumerate(rows, start=2):
            position.done = row_number - 1
            if not any(v not in (None, "") for v in values):
                continue
            yield (
                row_number,
                {column: (_cell(values[at]) if at < len(values) else "") for column, at in index.items()},
            )
    finally:
        workbook.close()


def read_rows(path: Path, mapping: Mapping, position: Position) -> Iterator[tuple[int, dict[str, Cell]]]:
    path = Path(path)
    if not path.is_file():
        raise ConnectorConfigError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, mapping, position)
    if suffix in (".csv", ".txt", ".tsv"):
        return read_csv(path, mapping, position)
    raise ConnectorConfigError(f"{path}: unsupported file type {suffix!r} (CSV or XLSX; save .xls as .xlsx)")
