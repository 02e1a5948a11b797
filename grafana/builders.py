"""Small builders that turn plain arguments into Grafana dashboard JSON (plain dicts).

No SDK: Grafana's JSON model is stable across 11 and 12 and plain dicts keep the generated files
reviewable. `render` sorts keys so a regenerated file diffs only where something changed.
Panel ids are assigned by `dashboard()` in layout order, so they are unique by construction.
"""

from __future__ import annotations

import json
from typing import Any

from grafana import style

CLICKHOUSE = {"type": style.CLICKHOUSE_TYPE, "uid": style.CLICKHOUSE_UID}
PROMETHEUS = {"type": style.PROMETHEUS_TYPE, "uid": style.PROMETHEUS_UID}

# ClickHouse plugin query formats (its `Format` enum).
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1


def render(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def grid(x: int, y: int, w: int, h: int) -> dict:
    return {"x": x, "y": y, "w": w, "h": h}


# --- targets ---------------------------------------------------------------------------------------


def sql_target(sql: str, *, time_series: bool = False, ref: str = "A") -> dict:
    return {
        "datasource": CLICKHOUSE,
        "editorType": "sql",
        "format": FORMAT_TIME_SERIES if time_series else FORMAT_TABLE,
        "queryType": "timeseries" if time_series else "table",
        "rawSql": sql.strip(),
        "refId": ref,
    }


def promql_target(expr: str, legend: str = "", *, ref: str = "A", instant: bool = False) -> dict:
    return {
        "datasource": PROMETHEUS,
        "editorMode": "code",
        "expr": expr,
        "instant": instant,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "refId": ref,
    }


# --- panels ------------------------------------------------------------------------------------------


def _panel(kind: str, title: str, pos: dict, targets: list[dict], **extra: Any) -> dict:
    datasource = targets[0]["datasource"] if targets else None
    panel = {
        "type": kind,
        "title": title,
        "gridPos": pos,
        "targets": targets,
        "datasource": datasource,
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {},
    }
    for key, value in extra.items():
        panel[key] = value
    return panel


def stat(
    title: str,
    pos: dict,
    target: dict,
    *,
    unit: str = style.UNIT_COUNT,
    steps: list | None = None,
    value_size: int = style.OFFICE_VALUE_SIZE,
    title_size: int = style.OFFICE_TITLE_SIZE,
    every_row: bool = False,
    no_value: str = "0",
    colour_mode: str = "background",
    description: str = "",
    orientation: str = "auto",
    overrides: list | None = None,
) -> dict:
    """A big number (or one per row with `every_row`, which wall screens use for domain tiles)."""
    return _panel(
        "stat",
        title,
        pos,
        [target],
        description=description,
        fieldConfig={
            "defaults": {
                "unit": unit,
                "noValue": no_value,
                "color": {"mode": "thresholds"},
                "thresholds": style.thresholds(steps or [(None, style.NHS_BLUE)]),
            },
            "overrides": overrides or [],
        },
        options={
            "colorMode": colour_mode,
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": orientation,
            "textMode": "value_and_name" if every_row else "auto",
            "text": {"valueSize": value_size, "titleSize": title_size},
            "reduceOptions": {
                "calcs": [] if every_row else ["lastNotNull"],
                "fields": "",
                "values": every_row,
            },
            "wideLayout": True,
            "showPercentChange": False,
        },
    )


def timeseries(
    title: str,
    pos: dict,
    targets: list[dict],
    *,
    unit: str = style.UNIT_COUNT,
    overrides: list | None = None,
    stacked: bool = False,
    bars: bool = False,
    line_width: int = 2,
    legend_size: str = "list",
    description: str = "",
) -> dict:
    return _panel(
        "timeseries",
        title,
        pos,
        targets,
        description=description,
        fieldConfig={
            "defaults": {
                "unit": unit,
                "color": {"mode": "palette-classic"},
                "custom": {
                    "drawStyle": "bars" if bars else "line",
                    "lineWidth": line_width,
                    "fillOpacity": 60 if bars else 10,
                    "showPoints": "never",
                    "stacking": {"mode": "normal" if stacked else "none", "group": "A"},
                    "spanNulls": False,
                },
            },
            "overrides": overrides or [],
        },
        options={
            "legend": {"displayMode": legend_size, "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )


def table(
    title: str,
    pos: dict,
    target: dict,
    *,
    overrides: list | None = None,
    cell_height: str = "sm",
    description: str = "",
    no_value: str = "Nothing to show",
    sort_by: list | None = None,
) -> dict:
    return _panel(
        "table",
        title,
        pos,
        [target],
        description=description,
        fieldConfig={
            "defaults": {"noValue": no_value, "custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
            "overrides": overrides or [],
        },
        options={"cellHeight": cell_height, "showHeader": True, "sortBy": sort_by or []},
    )


def bar_chart(
    title: str, pos: dict, target: dict, *, overrides: list | None = None, stacked: bool = True
) -> dict:
    return _panel(
        "barchart",
        title,
        pos,
        [target],
        fieldConfig={
            "defaults": {"unit": style.UNIT_COUNT, "color": {"mode": "palette-classic"}},
            "overrides": overrides or [],
        },
        options={
            "orientation": "horizontal",
            "stacking": "normal" if stacked else "none",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "xTickLabelRotation": 0,
            "showValue": "auto",
        },
    )


def text(title: str, pos: dict, content: str) -> dict:
    return _panel("text", title, pos, [], options={"mode": "markdown", "content": content})


def link_override(column: str, title: str, url: str) -> dict:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "links", "value": [{"title": title, "url": url}]}],
    }


def colour_cells_override(column_regex: str, steps: list) -> dict:
    """Colour the background of matching cells by value: a heatmap made of a table."""
    return {
        "matcher": {"id": "byRegexp", "options": column_regex},
        "properties": [
            {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
            {"id": "color", "value": {"mode": "thresholds"}},
            {"id": "thresholds", "value": style.thresholds(steps)},
        ],
    }


def width_override(column: str, width: int) -> dict:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "custom.width", "value": width}],
    }


def wrap_override(column: str) -> dict:
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [{"id": "custom.cellOptions", "value": {"type": "auto", "wrapText": True}}],
    }


# --- variables ---------------------------------------------------------------------------------------


def query_variable(
    name: str, label: str, sql: str, *, multi: bool = False, include_all: bool = False, hide: bool = False
) -> dict:
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": CLICKHOUSE,
        "definition": sql.strip(),
        "query": {"editorType": "sql", "rawSql": sql.strip()},
        "refresh": 2,  # on time-range change: a new ward appears without reloading the screen
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "current": {},
        "options": [],
        "hide": 2 if hide else 0,
        "regex": "",
        "skipUrlSync": False,
    }


def textbox_variable(name: str, label: str, default: str = "") -> dict:
    return {
        "type": "textbox",
        "name": name,
        "label": label,
        "query": default,
        "current": {"text": default, "value": default},
        "options": [{"selected": True, "text": default, "value": default}],
        "hide": 0,
        "skipUrlSync": False,
    }


# --- dashboard ---------------------------------------------------------------------------------------


def dashboard(
    *,
    uid: str,
    title: str,
    description: str,
    panels: list[dict],
    variables: list[dict],
    refresh: str = style.REFRESH_OFFICE,
    time_from: str = "now-30d",
    tags: list[str] | None = None,
    hide_time_picker: bool = False,
) -> dict:
    for panel_id, panel in enumerate(panels, start=1):
        panel["id"] = panel_id
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": sorted({*style.TAGS, *(tags or [])}),
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": style.SCHEMA_VERSION,
        "refresh": refresh,
        "time": {"from": time_from, "to": "now"},
        "timepicker": {"hidden": hide_time_picker},
        "timezone": "Europe/London",
        "fiscalYearStartMonth": 3,  # the NHS financial year starts in April
        "liveNow": False,
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": list(style.TAGS),
                "asDropdown": True,
                "title": "pxstream",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": panels,
    }


def custom_variable(name: str, label: str, options: dict[str, str], *, multi: bool = True) -> dict:
    """A fixed list (`text : value` pairs), e.g. the five domains by their short labels."""
    query = ", ".join(f"{text} : {value}" for text, value in options.items())
    return {
        "type": "custom",
        "name": name,
        "label": label,
        "query": query,
        "multi": multi,
        "includeAll": multi,
        "current": {"text": ["All"], "value": ["$__all"]} if multi else {},
        "options": [],
        "hide": 0,
        "skipUrlSync": False,
    }


def value_colour_override(column: str, colours: dict[str, str]) -> dict:
    """Colour a text column's cells by value (e.g. firing red, resolved green)."""
    mapping = {
        "type": "value",
        "options": {
            value: {"color": colour, "index": i} for i, (value, colour) in enumerate(colours.items())
        },
    }
    return {
        "matcher": {"id": "byName", "options": column},
        "properties": [
            {"id": "mappings", "value": [mapping]},
            {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
        ],
    }
