"""`pxstream sql` is read-only on the real engine: the attacks work on chDB without the guard, not with it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from grafana.report.data import Month, load_month
from sinks.client import connect
from sinks.exceptions import ReadOnlyQueryError
from sinks.schema import ensure_schema
from sinks.sql import READONLY_SETTINGS, run_query
from sinks.sql_guard import NOT_CALLS, SAFE_FUNCTIONS, SAFE_TABLE_FUNCTIONS, check_read_only, is_safe_function
from tests.unit.test_sql_guard import EVASIONS, REACHING_OUT

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SECRET = "TOPSECRET-4f1c"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    base = tmp_path_factory.mktemp("readonly")
    secret = base / "secret.txt"
    secret.write_text(SECRET)
    client = connect(f"chdb://{base / 'ch'}")
    ensure_schema(client)
    yield client, secret, base
    client.close()


def test_without_the_guard_readonly_alone_lets_chdb_read_and_write_files(engine):
    """The control: the attacks of the issue are real on this engine, so the tests below can fail."""
    client, secret, base = engine
    read = client.query(f"SELECT file('{secret}')", settings=READONLY_SETTINGS).result_rows
    assert read == [(SECRET,)]
    target = base / "written-without-guard.txt"
    client.query(f"SELECT 'x' INTO OUTFILE '{target}'", settings=READONLY_SETTINGS)
    assert target.exists()


def _aimed(sql: str, secret: Path, target: Path) -> str:
    return sql.replace("/etc/hostname", str(secret)).replace("/tmp/x", str(target))


@pytest.mark.parametrize("sql", EVASIONS)
def test_every_evasion_is_refused_by_the_real_engine_path(engine, sql):
    client, secret, base = engine
    target = base / "outfile.txt"
    with pytest.raises(ReadOnlyQueryError) as info:
        run_query(client, _aimed(sql, secret, target))
    assert SECRET not in str(info.value)
    assert not target.exists()


@pytest.mark.parametrize("name", REACHING_OUT)
def test_every_function_reaching_outside_is_refused(engine, name):
    client, secret, _ = engine
    for sql in (f"SELECT {name}('{secret}')", f"SELECT * FROM {name}('{secret}')"):
        with pytest.raises(ReadOnlyQueryError, match="pxstream sql"):
            run_query(client, sql)


def test_every_table_function_of_this_engine_is_refused_but_the_harmless_ones(engine):
    client, secret, _ = engine
    names = [row[0] for row in client.query("SELECT name FROM system.table_functions").result_rows]
    assert len(names) > 40
    let_through = []
    for name in names:
        try:
            check_read_only(f"SELECT * FROM {name}('{secret}')")
        except ReadOnlyQueryError:
            continue
        let_through.append(name)
    assert set(let_through) <= SAFE_TABLE_FUNCTIONS


def test_the_allow_list_names_real_functions_and_no_table_function_but_harmless_ones(engine):
    client, _, _ = engine
    rows = client.query("SELECT name, case_insensitive FROM system.functions").result_rows
    functions = {name for name, _ in rows}
    any_case = {name.lower() for name, case_insensitive in rows if case_insensitive}
    types = {row[0] for row in client.query("SELECT name FROM system.data_type_families").result_rows}
    table_functions = {row[0] for row in client.query("SELECT name FROM system.table_functions").result_rows}
    unknown = {n for n in SAFE_FUNCTIONS if n not in functions | types and n.lower() not in any_case}
    assert unknown == set()  # no typo: every name is one the engine knows
    assert {f for f in functions if is_safe_function(f)} & table_functions <= SAFE_TABLE_FUNCTIONS
    # Words read as "not a call" before `(` must be harmless if ClickHouse does call them.
    called = {w for w in NOT_CALLS if w.lower() in {f.lower() for f in functions}}
    for word in called:
        assert any(is_safe_function(f) for f in functions if f.lower() == word.lower()), word


def test_a_harmless_query_runs_with_readonly_and_a_time_limit(engine):
    client, _, _ = engine
    columns, rows = run_query(client, "SELECT count() AS n FROM feedback_events FINAL")
    assert (columns, rows) == (["n"], [(0,)])


class _Recording:
    """A client that records every query the report makes, so each can be put through the guard."""

    def __init__(self, client):
        self.client, self.seen = client, []

    def query(self, sql, parameters=None, **kwargs):
        self.seen.append((sql, parameters or {}))
        return self.client.query(sql, parameters=parameters, **kwargs)


def _literal(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_the_monthly_reports_queries_pass_the_allow_list(engine):
    import re

    client, _, _ = engine
    recording = _Recording(client)
    load_month(recording, "QWE", Month.parse("2026-03"), today=date(2026, 4, 2))
    assert len(recording.seen) >= 8
    for sql, parameters in recording.seen:
        filled = re.sub(
            r"\{(\w+):([^}]+)\}", lambda m, p=parameters: f"CAST({_literal(p[m[1]])} AS {m[2]})", sql
        )
        run_query(client, filled)


def _cli(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PXSTREAM_CLICKHOUSE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "pxstream", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_cli_refuses_file_reads_and_writes_in_one_line_with_exit_2(tmp_path):
    secret, target = tmp_path / "secret.txt", tmp_path / "victim.sh"
    secret.write_text(SECRET)
    target.write_text("#!/bin/sh\necho unchanged\n")
    url = f"chdb://{tmp_path / 'ch'}"
    for sql in (f"SELECT file('{secret}')", f"SELECT 'rm -rf ~' INTO OUTFILE '{target}' APPEND"):
        done = _cli(["sql", sql], url, ROOT)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert target.read_text() == "#!/bin/sh\necho unchanged\n"
