"""Reading the reference files: ODS bulk CSVs, the local ward table and the aliases file.

Row-level problems (a short row, a duplicate code, a ward under an unknown site) are collected
with file and line rather than raised: a national file of ten thousand rows with one bad line
should still load, and `pxstream connect reference` shows the operator every problem at once.
A file that cannot be read or parsed at all is a configuration error and is raised.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from connectors.exceptions import ConnectorConfigError
from connectors.reference.model import Aliases, Kind, LoadProblem, Organisation, Ward

# ODS bulk-file columns (1-based in the NHS documentation; 0-based here).
COL_CODE, COL_NAME, COL_GEOGRAPHY, COL_POSTCODE, COL_STATUS, COL_COMMISSIONER = 0, 1, 3, 9, 12, 14
ODS_MIN_COLUMNS = 15
ODS_FILES: dict[str, Kind] = {"etr.csv": "trust", "ets.csv": "site", "epraccur.csv": "gp_practice"}
_ACTIVE_STATUSES = {"A", ""}  # A = active; C closed, D dormant, P proposed


def _open_text(path: Path):  # type: ignore[no-untyped-def]
    try:
        # ODS files are published as Windows-1252 in places; utf-8-sig first, latin-1 never fails.
        raw = path.read_bytes()
    except OSError as exc:
        raise ConnectorConfigError(f"{path}: cannot read reference file ({exc.strerror or exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def read_ods(path: Path, kind: Kind, problems: list[LoadProblem]) -> list[Organisation]:
    """Parse one headerless ODS bulk CSV (etr, ets or epraccur)."""
    organisations: list[Organisation] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(csv.reader(_open_text(path).splitlines()), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) < ODS_MIN_COLUMNS:
            problems.append(
                LoadProblem(
                    path.name, line, f"has {len(row)} columns; ODS bulk files have at least {ODS_MIN_COLUMNS}"
                )
            )
            if len(row) < 2:
                continue
        cells = [cell.strip() for cell in row] + [""] * (ODS_MIN_COLUMNS - len(row))
        code, name = cells[COL_CODE].upper(), cells[COL_NAME]
        if not code or not name:
            problems.append(
                LoadProblem(path.name, line, "organisation code (col 1) or name (col 2) is empty")
            )
            continue
        if code in seen:
            problems.append(
                LoadProblem(path.name, line, f"duplicate code {code} (first on line {seen[code]})")
            )
            continue
        seen[code] = line
        organisations.append(
            Organisation(
                code=code,
                name=name,
                kind=kind,
                # The higher-level geography is the ICB;
                # older files leave it empty and carry the commissioner in col 15 instead. A site
                # without a geography inherits its trust's (ReferenceData.load).
                commissioner=(
                    cells[COL_GEOGRAPHY] or ("" if kind == "site" else cells[COL_COMMISSIONER])
                ).upper(),
                # ODS trust site codes are the trust code plus two characters.
                parent=code[:3] if kind == "site" and len(code) > 3 else "",
                postcode=cells[COL_POSTCODE].upper(),
                active=cells[COL_STATUS].upper() in _ACTIVE_STATUSES,
            )
        )
    return organisations


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(_open_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConnectorConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc


def _key_lines(path: Path, under: str | None = None) -> dict[str, int]:
    """Line of each top-level key (or of each key under `under`), for problems in YAML files."""
    try:
        node = yaml.compose(_open_text(path))
    except yaml.YAMLError:
        return {}
    if under is not None and isinstance(node, yaml.MappingNode):
        node = next((value for key, value in node.value if key.value == under), None)
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(key.value): key.start_mark.line + 1 for key, _ in node.value}


def _item_lines(path: Path) -> list[int]:
    """Lines of the ward entries of a wards.yaml, in document order (either layout)."""
    try:
        node = yaml.compose(_open_text(path))
    except yaml.YAMLError:
        return []
    lines: list[int] = []
    if isinstance(node, yaml.MappingNode):
        for _, value in node.value:
            items = value.value if isinstance(value, yaml.SequenceNode) else [value]
            lines.extend(item.start_mark.line + 1 for item in items)
    return lines


def _split_aliases(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.replace(";", "|").split("|") if part.strip())
    if isinstance(value, list):
        return tuple(str(part).strip() for part in value if str(part).strip())
    return (str(value).strip(),)


def read_wards_csv(path: Path, problems: list[LoadProblem]) -> list[Ward]:
    """`site_code,ward,aliases` with a header; aliases separated by `|` or `;`."""
    text = _open_text(path)
    reader = csv.DictReader(text.splitlines())
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if "site_code" not in header or "ward" not in header:
        raise ConnectorConfigError(
            f"{path}:1: the header must name columns site_code and ward (and optionally aliases); "
            f"found {', '.join(header) or 'nothing'}"
        )
    reader.fieldnames = header
    wards: list[Ward] = []
    for line, row in enumerate(reader, start=2):
        site, ward = (row.get("site_code") or "").strip().upper(), (row.get("ward") or "").strip()
        if not site or not ward:
            problems.append(LoadProblem(path.name, line, "site_code and ward must both be filled in"))
            continue
        wards.append(Ward(site, ward, _split_aliases(row.get("aliases")), line))
    return wards


def read_wards_yaml(path: Path, problems: list[LoadProblem]) -> list[Ward]:
    """`{SITE: [name | {ward: name, aliases: [...]}]}` or `{wards: [{site_code, ward, aliases}]}`."""
    document = _read_yaml(path) or {}
    entries: list[tuple[str, Any]] = []
    if isinstance(document, dict) and isinstance(document.get("wards"), list):
        for item in document["wards"]:
            site = str(item.get("site_code", "")) if isinstance(item, dict) else ""
            entries.append((site, item))
    elif isinstance(document, dict):
        for site, items in document.items():
            for item in items if isinstance(items, list) else [items]:
                entries.append((str(site), item))
    else:
        raise ConnectorConfigError(
            f"{path}: expected a mapping of site code to wards, got {type(document).__name__}"
        )
    wards: list[Ward] = []
    lines = _item_lines(path)
    for position, (site, item) in enumerate(entries):
        line = lines[position] if len(lines) == len(entries) else 0
        name = item.get("ward") if isinstance(item, dict) else item
        aliases = _split_aliases(item.get("aliases")) if isinstance(item, dict) else ()
        if not site.strip() or not isinstance(name, str) or not name.strip():
            problems.append(
                LoadProblem(
                    path.name, line, f"ward entry {item!r} under {site!r} needs a site code and a ward name"
                )
            )
            continue
        wards.append(Ward(site.strip().upper(), name.strip(), aliases, line))
    return wards


def read_aliases(path: Path, problems: list[LoadProblem]) -> list[Aliases]:
    """`CODE: {names: [...], hashtags: [...], handles: [...]}`; a bare list means names."""
    document = _read_yaml(path) or {}
    lines = _key_lines(path)
    if isinstance(document, dict) and set(document) == {"aliases"} and isinstance(document["aliases"], dict):
        document = document["aliases"]
        lines = _key_lines(path, under="aliases")
    if not isinstance(document, dict):
        raise ConnectorConfigError(
            f"{path}: expected a mapping of ODS code to aliases, got {type(document).__name__}"
        )
    result: list[Aliases] = []
    for code, spec in document.items():
        line = lines.get(str(code), 0)
        if isinstance(spec, list | str):
            spec = {"names": spec}
        if not isinstance(spec, dict):
            problems.append(
                LoadProblem(path.name, line, f"{code}: expected names/hashtags/handles, got {spec!r}")
            )
            continue
        unknown = set(spec) - {"names", "hashtags", "handles"}
        if unknown:
            problems.append(
                LoadProblem(
                    path.name,
                    line,
                    f"{code}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
                    "(allowed: names, hashtags, handles)",
                )
            )
        result.append(
            Aliases(
                code=str(code).strip().upper(),
                names=_split_aliases(spec.get("names")),
                hashtags=tuple(tag.lstrip("#") for tag in _split_aliases(spec.get("hashtags"))),
                handles=tuple(handle.lstrip("@") for handle in _split_aliases(spec.get("handles"))),
                line=line,
            )
        )
    return result


def present(directory: Path, names: Iterable[str]) -> list[Path]:
    return [directory / name for name in names if (directory / name).is_file()]
