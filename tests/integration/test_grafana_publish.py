"""`publish` against a local HTTP server that records the Grafana API calls and keeps just enough
state (folders, dashboards, playlists) to answer like Grafana 11 does. No Grafana runs here."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from grafana.dashboards import build_all
from grafana.publish import PublishError, publish
from pxstream.cli import main
from schemas.errors import UnreachableError

pytestmark = pytest.mark.integration
TOKEN = "glsa_test_token"


class FakeGrafana(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: list[tuple[str, str]] = []
        self.bodies: list[dict] = []
        self.folders: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.playlists: dict[str, dict] = {}
        self.reject_dashboards = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]


class Handler(BaseHTTPRequestHandler):
    server: FakeGrafana

    def log_message(self, *args):
        pass

    def _send(self, status: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        s = self.server
        parts = urlsplit(self.path)
        path = parts.path
        s.calls.append((method, path))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._send(401, {"message": "Unauthorized"})
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        if body is not None:
            s.bodies.append(body)
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            return (
                self._send(200, s.folders[uid])
                if uid in s.folders
                else self._send(404, {"message": "not found"})
            )
        if method == "POST" and path == "/api/folders":
            s.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": len(s.folders) + 1}
            return self._send(200, s.folders[body["uid"]])
        if method == "GET" and path.startswith("/api/dashboards/uid/"):
            uid = path.rsplit("/", 1)[1]
            return (
                self._send(200, s.dashboards[uid])
                if uid in s.dashboards
                else self._send(404, {"message": "nf"})
            )
        if method == "POST" and path == "/api/dashboards/db":
            if s.reject_dashboards:
                return self._send(400, {"message": "Dashboard title cannot be empty"})
            dash = body["dashboard"]
            assert body["overwrite"] is True
            old = s.dashboards.get(dash["uid"])
            version = old["dashboard"]["version"] + 1 if old else 1
            stored = {**dash, "id": 17, "version": version}
            s.dashboards[dash["uid"]] = {"dashboard": stored, "meta": {"folderUid": body["folderUid"]}}
            return self._send(200, {"uid": dash["uid"], "version": version, "status": "success"})
        if method == "GET" and path == "/api/playlists":
            name = parse_qs(parts.query).get("name", [""])[0]
            return self._send(200, [p for p in s.playlists.values() if name in p["name"]])
        if method == "POST" and path == "/api/playlists":
            uid = f"pl{len(s.playlists) + 1}"
            s.playlists[uid] = {**body, "uid": uid}
            return self._send(200, s.playlists[uid])
        if path.startswith("/api/playlists/"):
            uid = path.rsplit("/", 1)[1]
            if method == "GET":
                return self._send(200, s.playlists[uid])
            if method == "PUT":
                s.playlists[uid] = {**body, "uid": uid}
                return self._send(200, s.playlists[uid])
        return self._send(404, {"message": f"no route {method} {path}"})

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")


@pytest.fixture
def grafana():
    server = FakeGrafana()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_first_publish_creates_everything(grafana):
    report = publish(grafana.url, TOKEN)
    uids = set(build_all())
    assert set(report.created) == {*uids, "folder pxstream", "playlist pxstream wall screens"}
    writes = grafana.writes()
    assert writes.count(("POST", "/api/folders")) == 1
    assert writes.count(("POST", "/api/dashboards/db")) == len(uids)
    assert writes.count(("POST", "/api/playlists")) == 1
    posted = [b for b in grafana.bodies if "dashboard" in b]
    assert all(b["folderUid"] == "pxstream" and b["overwrite"] is True for b in posted)
    assert set(grafana.dashboards) == uids
    [playlist] = grafana.playlists.values()
    assert [i["value"] for i in playlist["items"]] == ["pxstream-ward", "pxstream-hotspots"]


def test_second_publish_changes_nothing(grafana):
    publish(grafana.url, TOKEN)
    writes_after_first = len(grafana.writes())
    report = publish(grafana.url, TOKEN)
    assert report.created == [] and report.updated == []
    assert len(grafana.writes()) == writes_after_first  # only reads the second time
    assert all(d["dashboard"]["version"] == 1 for d in grafana.dashboards.values())


def test_changed_dashboard_and_playlist_are_updated_in_place(grafana):
    publish(grafana.url, TOKEN)
    grafana.dashboards["pxstream-ward"]["dashboard"]["title"] = "Edited by hand"
    [uid] = grafana.playlists
    grafana.playlists[uid]["interval"] = "5m"
    grafana.calls.clear()
    report = publish(grafana.url, TOKEN)
    assert report.updated == ["pxstream-ward", "playlist pxstream wall screens"]
    assert grafana.writes() == [("POST", "/api/dashboards/db"), ("PUT", f"/api/playlists/{uid}")]
    assert grafana.dashboards["pxstream-ward"]["dashboard"]["title"] == "Ward wall screen"
    assert grafana.dashboards["pxstream-ward"]["dashboard"]["version"] == 2
    assert len(grafana.playlists) == 1 and grafana.playlists[uid]["interval"] == "1m"


def test_refusal_is_reported_with_the_reason(grafana):
    grafana.reject_dashboards = True
    with pytest.raises(PublishError, match="Dashboard title cannot be empty"):
        publish(grafana.url, TOKEN)


def test_wrong_token_is_a_clear_error(grafana):
    with pytest.raises(PublishError, match=grafana.url):
        publish(grafana.url, "wrong")


def test_unreachable_grafana():
    with pytest.raises(UnreachableError, match=r"127\.0\.0\.1:9"):
        publish("http://127.0.0.1:9", TOKEN)


def test_cli_publish_and_export(grafana, tmp_path, capsys):
    assert main(["grafana", "publish", "--url", grafana.url, "--token", TOKEN]) == 0
    assert "0 updated" in capsys.readouterr().out
    assert main(["grafana", "export", str(tmp_path)]) == 0
    exported = json.loads((tmp_path / "dashboards" / "pxstream-hotspots.json").read_text())
    published = dict(grafana.dashboards["pxstream-hotspots"]["dashboard"])
    assert {k: v for k, v in published.items() if k not in ("id", "version")} == exported
