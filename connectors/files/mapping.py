"""Column-mapping files: how one export's columns and values become FeedbackEvent fields.

A mapping is data written by the people who know the export, so it is validated on load and
every mistake names the mapping file and the key (`columns.'Date recieved'`,
`values.severity`). Example mappings ship in `connectors/files/mappings/`.

    name: trust-pals-log              # the file's source name: prefix of every event_id, ledger name
    source: pals                      # FeedbackEvent `source`
    event_id: {column: Reference}     # or {hash_of: [Date received, Ward, Details]}
    columns:                          # column -> field; several columns to `text` are joined
      Reference: attributes.reference
      Date received: occurred_at
      Ward: ward
      Details: text
    constants: {provider: RR8, organisation: QWO}
    values:                           # per field: the export's words -> contract values
      severity: {No harm: no_harm, Minor: low}
    date_formats: ["%d/%m/%Y %H:%M", "%d/%m/%Y"]   # UK day-first by default
    timezone: Europe/London           # for dates without an offset
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from connectors.exceptions import ConnectorConfigError
from schemas.feedback_event import FIELD_NAMES, SCHEMA

UK_DATE_FORMATS: Final[tuple[str, ...]] = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d %B %Y",
    "%d %b %Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d",
)
# The FFT question's answers in the order docs/domains.md ("Friends and Family Test answers") gives
# them: rating 1 (very good) .. 6 (don't know).
FFT_RATINGS: Final[dict[str, int]] = {
    "very good": 1,
    "good": 2,
    "neither good nor poor": 3,
    "poor": 4,
    "very poor": 5,
    "don't know": 6,
    "dont know": 6,
}
# Fields a column may fill directly (attributes.* and text joins are handled separately).
_SCALAR_FIELDS: Final = FIELD_NAMES - {"attributes", "event_id"}
_ENUMS: Final[dict[str, list[str]]] = {
    name: spec["enum"] for name, spec in SCHEMA["properties"].items() if "enum" in spec
}
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_KEYS: Final = {
    "name",
    "source",
    "event_id",
    "columns",
    "constants",
    "values",
    "date_formats",
    "timezone",
    "require_text",
    "text_separator",
    "sheet",
    "encoding",
    "delimiter",
    "category_prefix",
}


def column_key(name: str) -> str:
    """Headers compared without case or surrounding space: exports drift in both."""
    return " ".join(str(name).split()).casefold()


@dataclass(frozen=True)
class Mapping:
    path: Path
    name: str
    source: str
    columns: dict[str, str]  # column header (as written in the mapping) -> field or attributes.key
    id_column: str | None = None
    id_hash_of: tuple[str, ...] = ()
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> {folded source word: value}
    date_formats: tuple[str, ...] = UK_DATE_FORMATS
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    require_text: bool = True
    text_separator: str = "\n\n"
    sheet: str | None = None
    encoding: str = "utf-8-sig"
    delimiter: str = ","
    category_prefix: str = ""
    digest: str = ""  # sha256 of the mapping file: a changed mapping re-imports an unchanged file

    def columns_needed(self) -> set[str]:
        needed = set(self.columns) | set(self.id_hash_of)
        if self.id_column:
            needed.add(self.id_column)
        return needed


def _fail(path: Path, where: str, message: str) -> ConnectorConfigError:
    return ConnectorConfigError(f"mapping {path}: {where}: {message}")


def load_mapping(path: Path) -> Mapping:
    """Read and check a mapping file; raise ConnectorConfigError naming the file and key on any mistake."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConnectorConfigError(f"mapping {path}: cannot read ({exc.strerror or exc})") from exc
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        raise _fail(path, where, f"not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(document, dict):
        raise _fail(path, "top level", "expected a mapping with name, source, event_id and columns")
    unknown = set(document) - _KEYS
    if unknown:
        raise _fail(
            path, ", ".join(sorted(map(str, unknown))), f"unknown key (allowed: {', '.join(sorted(_KEYS))})"
        )

    name = document.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(
            path, "name", "required: a short source name of lower-case letters, digits, '.', '_' or '-'"
        )
    source = document.get("source")
    if source not in _ENUMS["source"]:
        raise _fail(path, "source", f"{source!r} is not one of {', '.join(_ENUMS['source'])}")

    columns = document.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise _fail(path, "columns", "required: a mapping of column header -> FeedbackEvent field")
    checked_columns: dict[str, str] = {}
    for column, target in columns.items():
        if not isinstance(target, str) or not (
            target in _SCALAR_FIELDS
            or (target.startswith("attributes.") and len(target) > len("attributes."))
        ):
            raise _fail(
                path,
                f"columns.{column!r}",
                f"{target!r} is not a FeedbackEvent field; use one of "
                f"{', '.join(sorted(_SCALAR_FIELDS))} or attributes.<key>",
            )
        checked_columns[str(column)] = target
    targets = set(checked_columns.values())
    if "occurred_at" not in targets and "occurred_at" not in (document.get("constants") or {}):
        raise _fail(path, "columns", "no column is mapped to occurred_at (when it happened)")
    if "text" not in targets:
        raise _fail(path, "columns", "no column is mapped to text (the feedback itself)")
    duplicates = [t for t in targets if t != "text" and list(checked_columns.values()).count(t) > 1]
    if duplicates:
        raise _fail(
            path, "columns", f"several columns map to {', '.join(sorted(duplicates))}; only text joins"
        )

    id_spec = document.get("event_id")
    id_column, id_hash_of = None, ()
    if isinstance(id_spec, dict) and isinstance(id_spec.get("column"), str) and len(id_spec) == 1:
        id_column = id_spec["column"]
    elif (
        isinstance(id_spec, dict)
        and len(id_spec) == 1
        and isinstance(id_spec.get("hash_of"), list)
        and id_spec["hash_of"]
        and all(isinstance(c, str) for c in id_spec["hash_of"])
    ):
        id_hash_of = tuple(id_spec["hash_of"])
    else:
        raise _fail(
            path,
            "event_id",
            "required: {column: <header of the export's own reference>} or "
            "{hash_of: [<headers that together identify a row>]} (so a re-import yields the same ids)",
        )

    constants = document.get("constants") or {}
    if not isinstance(constants, dict):
        raise _fail(path, "constants", "expected a mapping of field -> value")
    for key in constants:
        if key not in _SCALAR_FIELDS - {"text"}:
            raise _fail(path, f"constants.{key}", "not a FeedbackEvent field that a constant may set")

    values: dict[str, dict[str, Any]] = {}
    raw_values = document.get("values") or {}
    if not isinstance(raw_values, dict):
        raise _fail(path, "values", "expected field -> {source word: value}")
    for target, table in raw_values.items():
        if target not in targets:
            raise _fail(path, f"values.{target}", "no column is mapped to this field")
        if not isinstance(table, dict):
            raise _fail(path, f"values.{target}", "expected a mapping of source word -> value")
        allowed = _ENUMS.get(target)
        folded: dict[str, Any] = {}
        for word, value in table.items():
            if allowed is not None and value not in allowed and value is not None:
                raise _fail(
                    path, f"values.{target}.{word!r}", f"{value!r} is not one of {', '.join(allowed)}"
                )
            if (
                target == "rating"
                and value is not None
                and (not isinstance(value, int) or not 1 <= value <= 6)
            ):
                raise _fail(path, f"values.rating.{word!r}", f"{value!r} is not a rating 1-6")
            folded[column_key(str(word))] = value
        values[target] = folded
    if source == "fft" and "rating" in targets and "rating" not in values:
        values["rating"] = dict(FFT_RATINGS)

    formats = document.get("date_formats", list(UK_DATE_FORMATS))
    if (
        not isinstance(formats, list)
        or not formats
        or not all(isinstance(f, str) and "%" in f for f in formats)
    ):
        raise _fail(path, "date_formats", "expected a list of strptime formats such as '%d/%m/%Y %H:%M'")
    try:
        timezone = ZoneInfo(str(document.get("timezone", "Europe/London")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(path, "timezone", f"{document.get('timezone')!r} is not an IANA time zone") from exc

    delimiter = str(document.get("delimiter", ","))
    if len(delimiter) != 1:
        raise _fail(path, "delimiter", "must be a single character")
    encoding = str(document.get("encoding", "utf-8-sig"))
    try:
        "".encode(encoding)
    except LookupError as exc:
        raise _fail(path, "encoding", f"{encoding!r} is not a known text encoding") from exc

    return Mapping(
        path=path,
        name=name,
        source=source,
        columns=checked_columns,
        id_column=id_column,
        id_hash_of=id_hash_of,
        constants=dict(constants),
        values=values,
        date_formats=tuple(formats),
        timezone=timezone,
        require_text=bool(document.get("require_text", True)),
        text_separator=str(document.get("text_separator", "\n\n")),
        sheet=document.get("sheet"),
        encoding=encoding,
        delimiter=delimiter,
        category_prefix=str(document.get("category_prefix", "")),
        digest=hashlib.sha256(raw).hexdigest(),
    )
