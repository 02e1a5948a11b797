"""Structure checks every generated dashboard must pass before it goes near a Grafana."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from grafana import builders, provisioning
from grafana.dashboards import build_all, pipeline
from schemas.settings import Settings

DASHBOARDS = build_all()
BUILTIN = re.compile(r"^__")
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from strings(value)


def datasources(obj):
    if isinstance(obj, dict):
        if isinstance(obj.get("datasource"), dict):
            yield obj["datasource"]
        for value in obj.values():
            yield from datasources(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from datasources(value)


def test_stable_uids():
    assert set(DASHBOARDS) == {
        "pxstream-ward",
        "pxstream-provider",
        "pxstream-commissioner",
        "pxstream-hotspots",
        "pxstream-themes",
        "pxstream-actions",
        "pxstream-pipeline",
    }
    assert all(uid == d["uid"] for uid, d in DASHBOARDS.items())


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_panel_ids_unique(uid):
    ids = [p["id"] for p in DASHBOARDS[uid]["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_grid_inside_24_columns_without_overlap(uid):
    cells = set()
    for panel in DASHBOARDS[uid]["panels"]:
        g = panel["gridPos"]
        assert g["x"] >= 0 and g["y"] >= 0 and g["w"] >= 1 and g["h"] >= 1, panel["title"]
        assert g["x"] + g["w"] <= 24, f"{uid}: {panel['title']} ends at column {g['x'] + g['w']}"
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not cells & mine, f"{uid}: {panel['title']} overlaps another panel"
        cells |= mine


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_datasources_are_provisioned(uid):
    used = {ds["uid"] for ds in datasources(DASHBOARDS[uid])}
    assert used, uid
    assert used <= provisioning.datasource_uids()


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_variable_used_is_defined(uid):
    dashboard = DASHBOARDS[uid]
    defined = {v["name"] for v in dashboard["templating"]["list"]}
    used = set()
    for text in strings(dashboard):
        for braced, bare in VARIABLE_REF.findall(text):
            name = braced or bare
            if not BUILTIN.match(name):
                used.add(name)
    assert used <= defined, f"{uid}: undefined variables {used - defined}"


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_clickhouse_query_filters_by_organisation(uid):
    """Feedback by its organisation; alerts by every organisation whose events counted toward them
    (the same test as the alerts' row policy), never by the group's organisation alone."""
    for panel in DASHBOARDS[uid]["panels"]:
        for target in panel["targets"]:
            sql = target.get("rawSql", "")
            if "feedback_" in sql:
                assert "organisation = ${organisation:singlequote}" in sql, panel["title"]
            if "hotspot_alerts" in sql or "action" in sql:
                # An alert or an action belongs to every organisation on its list: `has` on it.
                assert "has(organisations, ${organisation:singlequote})" in sql, panel["title"]


def test_hotspot_episodes_link_to_their_events():
    hotspots = DASHBOARDS["pxstream-hotspots"]
    links = [
        link["url"]
        for panel in hotspots["panels"]
        for override in panel["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert any("/d/pxstream-hotspots" in url and "var-alert=${__value.raw}" in url for url in links)


def test_wall_screen_is_kiosk_ready():
    ward = DASHBOARDS["pxstream-ward"]
    assert ward["refresh"] == "1m"
    assert [v["name"] for v in ward["templating"]["list"]] == ["organisation", "provider", "ward"]
    stats = [p for p in ward["panels"] if p["type"] == "stat"]
    assert all(p["options"]["text"]["valueSize"] >= 72 for p in stats)


def test_render_is_stable_and_sorted():
    first = builders.render(build_all()["pxstream-ward"])
    assert first == builders.render(build_all()["pxstream-ward"])
    assert json.loads(first)["uid"] == "pxstream-ward"
    keys = list(json.loads(first).keys())
    assert keys == sorted(keys)


def test_provisioning_files_are_valid_yaml():
    for document in (provisioning.datasources(), provisioning.dashboard_provider()):
        assert yaml.safe_load(yaml.safe_dump(document)) == document
    assert provisioning.datasource_uids() == {"pxstream-clickhouse", "pxstream-prometheus"}
    playlist = provisioning.wall_playlist()
    assert {i["value"] for i in playlist["items"]} <= set(DASHBOARDS)


def test_promql_uses_only_the_exported_metric_names():
    exprs = [t["expr"] for p in DASHBOARDS["pxstream-pipeline"]["panels"] for t in p["targets"]]
    names = {m for e in exprs for m in re.findall(r"\b(pxstream_[a-z_]+)", e)}
    base = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in pipeline.METRICS else n for n in names}
    assert base <= set(pipeline.METRICS)
    assert set(pipeline.METRICS) <= base, "every pipeline metric has a panel"


def test_promql_parses_with_promtool(tmp_path):
    """promtool parses each expression as a recording rule: a typo fails here, not on a screen."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is required"
    exprs = [t["expr"] for p in DASHBOARDS["pxstream-pipeline"]["panels"] for t in p["targets"]]
    rules = {
        "groups": [
            {
                "name": "pxstream-dashboard-exprs",
                "rules": [
                    {"record": f"pxstream:panel_{i}", "expr": e.replace("$__rate_interval", "1m")}
                    for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_datasource_connection_comes_from_the_environment_at_export() -> None:
    site = provisioning.datasources(Settings.from_env({}).grafana)
    compose = provisioning.datasources(
        Settings.from_env(
            {
                "PXSTREAM_GRAFANA_CLICKHOUSE_PORT": "8123",
                "PXSTREAM_GRAFANA_CLICKHOUSE_SECURE": "false",
                "PXSTREAM_GRAFANA_PROMETHEUS_URL": "http://prometheus:9090",
            }
        ).grafana
    )
    ch_site, prom_site = site["datasources"]
    ch_compose, prom_compose = compose["datasources"]
    assert (ch_site["jsonData"]["port"], ch_site["jsonData"]["secure"]) == (8443, True)
    assert (ch_compose["jsonData"]["port"], ch_compose["jsonData"]["secure"]) == (8123, False)
    assert (prom_site["url"], prom_compose["url"]) == ("http://localhost:9090", "http://prometheus:9090")
