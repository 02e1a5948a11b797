"""PXSTREAM_CLICKHOUSE_URL parsing and the errors a person sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.procs import free_port
from schemas.errors import ConfigError, UnreachableError
from sinks.client import connect, parse_clickhouse_url


def test_default_chdb_url_is_a_path_relative_to_the_cwd(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    target = parse_clickhouse_url("chdb://./.pxstream/clickhouse")
    assert target.kind == "chdb"
    assert target.path == tmp_path / ".pxstream" / "clickhouse"


def test_absolute_chdb_path():
    assert parse_clickhouse_url("chdb:///var/lib/pxstream/ch").path == Path("/var/lib/pxstream/ch")


def test_http_url_with_credentials_and_database():
    target = parse_clickhouse_url("https://writer:s%40cret@ch.example.nhs.uk:8443/pxstream")
    assert (target.kind, target.host, target.port, target.secure) == ("http", "ch.example.nhs.uk", 8443, True)
    assert (target.username, target.password, target.database) == ("writer", "s@cret", "pxstream")
    assert "s@cret" not in target.describe()


def test_http_defaults():
    target = parse_clickhouse_url("http://localhost")
    assert (target.port, target.username, target.database) == (8123, "default", "default")
    assert not target.secure


@pytest.mark.parametrize("url", ["postgres://x", "chdb://", "http://:8123/", "http://host:notaport/"])
def test_bad_urls_are_config_errors(url):
    with pytest.raises(ConfigError):
        parse_clickhouse_url(url)


def test_closed_port_is_unreachable_naming_host_and_port():
    port = free_port()  # its probe socket is closed again: nothing listens on the port
    with pytest.raises(UnreachableError) as info:
        connect(f"http://127.0.0.1:{port}/default")
    assert f"127.0.0.1:{port}" in str(info.value)


def test_json_output_gives_utc_timestamps_with_z_and_table_output_counts_rows():
    from datetime import date, datetime

    from sinks.sql import format_json, format_table

    columns, rows = ["at", "day", "n"], [(datetime(2026, 1, 2, 3, 4, 5), date(2026, 1, 2), 7)]
    assert '"at": "2026-01-02T03:04:05.000Z"' in format_json(columns, rows)
    table = format_table(columns, rows)
    assert table.splitlines()[0].split() == columns
    assert table.endswith("(1 row)")
