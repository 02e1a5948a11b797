"""The command line offers every command and connector, and a missing module is an error, not a gap."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import pytest

from connectors import cli as connectors_cli
from connectors import runner
from connectors.registry import CONNECTORS, ConnectorEntry
from pxstream import cli


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_and_connector_is_registered() -> None:
    commands = _subcommands(cli.build_parser())
    assert set(commands) == {
        "infra",
        "demo",
        "tag",
        "worker",
        "actions",
        "produce",
        "connect",
        "sql",
        "sink",
        "grafana",
        "report",
        "bench",
        "web",
    }
    assert set(_subcommands(commands["connect"])) == {
        "http",
        "bluesky",
        "mastodon",
        "rss",
        "careopinion",
        "nhs-reviews",
        "imap",
        "file",
        "reference",
        "synthetic",
        "run",
    }


def test_a_missing_command_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "pxstream.no_such_stage"))
    with pytest.raises(ModuleNotFoundError, match=r"pxstream\.no_such_stage"):
        cli.build_parser()


def test_a_missing_connector_module_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        connectors_cli, "CONNECTOR_MODULES", (*connectors_cli.CONNECTOR_MODULES, "connectors.no_such_source")
    )
    with pytest.raises(ModuleNotFoundError, match=r"connectors\.no_such_source"):
        cli.build_parser()


@pytest.mark.parametrize("entry", CONNECTORS, ids=lambda entry: entry.name)
def test_each_registry_entry_names_the_command_its_module_registers(entry: ConnectorEntry) -> None:
    parser = argparse.ArgumentParser()
    names = parser.add_subparsers()
    module = importlib.import_module(entry.module)
    module.register(names)
    assert set(_subcommands(parser)) == {entry.name}
    if entry.run_options is not None:
        assert callable(module.build_source), f"{entry.module} runs from a file: needs build_source"
        assert runner.TYPES[entry.name] == (entry.module, entry.run_options)
    else:
        assert entry.name not in runner.TYPES


def test_offering_the_bench_command_does_not_import_the_benchmark() -> None:
    """A benchmark module that fails to import must break `pxstream bench` alone, not the worker."""
    code = (
        "import sys; from pxstream import cli; cli.build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith('bench')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['bench', 'bench.command', 'bench.part_names']"
