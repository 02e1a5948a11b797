"""The one configuration object (schemas/settings.py): every variable read, every bad value one line.

A bad value must stop any command with one `ConfigError` line that starts with the variable's
name and says what is wrong (exit 2, docs/operations-errors.md); a valid one must reach the
object, so no variable is listed and then quietly ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

from schemas.errors import ConfigError
from schemas.settings import DEFAULTS, Settings
from tests.support.layout import PACKAGES, ROOT

# For every variable: a valid value other than the default, what it becomes, and where it lands.
VALID: dict[str, tuple[str, object, Callable[[Settings], object]]] = {
    "PXSTREAM_KAFKA_BOOTSTRAP": ("k1:9092, k2:9092", "k1:9092, k2:9092", lambda s: s.kafka_bootstrap),
    "PXSTREAM_CLICKHOUSE_URL": (
        "https://u:p@ch.example:8443/px",
        "https://u:p@ch.example:8443/px",
        lambda s: s.clickhouse_url,
    ),
    "PXSTREAM_ALERTMANAGER_URL": ("", "", lambda s: s.alertmanager_url),
    "PXSTREAM_RULES": ("site/rules.yaml", Path("site/rules.yaml"), lambda s: s.rules_path),
    "PXSTREAM_DATA_DIR": ("/var/lib/pxstream", Path("/var/lib/pxstream"), lambda s: s.data_dir),
    "PXSTREAM_APP_ID": ("tenant-a", "tenant-a", lambda s: s.worker.app_id),
    "PXSTREAM_TOPIC_PREFIX": ("a.", "a.", lambda s: s.worker.topic_prefix),
    "PXSTREAM_SINK_BATCH_SIZE": ("10", 10, lambda s: s.sink.batch_size),
    "PXSTREAM_SINK_LINGER_S": ("0.25", 0.25, lambda s: s.sink.linger_s),
    "PXSTREAM_CLICKHOUSE_RETENTION_DAYS": ("30", 30, lambda s: s.sink.retention_days),
    "PXSTREAM_ACTIONS": ("site/actions.yaml", Path("site/actions.yaml"), lambda s: s.actions_path),
    "PXSTREAM_WEB_SECRET": ("s" * 32, "s" * 32, lambda s: s.web.secret),
    "PXSTREAM_PUBLIC_URL": ("https://px.example/", "https://px.example", lambda s: s.web.public_url),
    "PXSTREAM_INGEST_TOKENS": ("site/tokens.yaml", Path("site/tokens.yaml"), lambda s: s.web.ingest_tokens),
    "PXSTREAM_GRAFANA_URL": ("https://grafana.example", "https://grafana.example", lambda s: s.grafana.url),
    "PXSTREAM_GRAFANA_TOKEN": ("glsa_token", "glsa_token", lambda s: s.grafana.token),
    "PXSTREAM_GRAFANA_CLICKHOUSE_PORT": ("8123", 8123, lambda s: s.grafana.clickhouse_port),
    "PXSTREAM_GRAFANA_CLICKHOUSE_SECURE": ("false", False, lambda s: s.grafana.clickhouse_secure),
    "PXSTREAM_GRAFANA_PROMETHEUS_URL": (
        "http://prometheus:9090",
        "http://prometheus:9090",
        lambda s: s.grafana.prometheus_url,
    ),
    "PXSTREAM_KAFKA_CONTROLLER_PORT": ("19095", 19095, lambda s: s.local.kafka_controller_port),
    "PXSTREAM_PROMETHEUS_PORT": ("19090", 19090, lambda s: s.local.prometheus_port),
    "PXSTREAM_KAFKA_HEAP": ("2g", "2g", lambda s: s.local.kafka_heap),
    "PXSTREAM_METRICS_TARGET": ("worker:6066", "worker:6066", lambda s: s.local.metrics_target),
    "PXSTREAM_ALERT_WEBHOOK_URL": (
        "http://hook.example/",
        "http://hook.example",
        lambda s: s.local.alert_webhook_url,
    ),
    "PXSTREAM_FFT_DATA": ("data/fft.csv", Path("data/fft.csv"), lambda s: s.fft_data),
    "USER": ("alice", "alice", lambda s: s.user),
}


# (variable, bad value, what the one line must say after the name)
BAD: list[tuple[str, str, str]] = [
    ("PXSTREAM_KAFKA_BOOTSTRAP", "", "is empty"),
    ("PXSTREAM_KAFKA_BOOTSTRAP", "localhost", "is not host:port"),
    ("PXSTREAM_KAFKA_BOOTSTRAP", "localhost:0", "is not a TCP port"),
    ("PXSTREAM_KAFKA_BOOTSTRAP", "kafka:9092,http://k2:9092", "is not host:port"),
    ("PXSTREAM_CLICKHOUSE_URL", "chdb://", "needs a path"),
    ("PXSTREAM_CLICKHOUSE_URL", "clickhouse://db:9000", "unsupported scheme"),
    ("PXSTREAM_CLICKHOUSE_URL", "http://ch:port/db", "bad port"),
    ("PXSTREAM_ALERTMANAGER_URL", "localhost:9093", "is not an http(s)://host[:port] URL"),
    ("PXSTREAM_APP_ID", "my worker", "letters, digits"),
    ("PXSTREAM_APP_ID", "../../etc", "letters, digits"),
    ("PXSTREAM_TOPIC_PREFIX", "a b.", "letters, digits"),
    ("PXSTREAM_TOPIC_PREFIX", "x" * 200, "at most"),
    ("PXSTREAM_SINK_BATCH_SIZE", "lots", "expected a whole number"),
    ("PXSTREAM_SINK_BATCH_SIZE", "0", "must be positive"),
    ("PXSTREAM_SINK_BATCH_SIZE", "-5", "must be positive"),
    ("PXSTREAM_SINK_LINGER_S", "soon", "expected a number"),
    ("PXSTREAM_SINK_LINGER_S", "0", "must be a positive number"),
    ("PXSTREAM_SINK_LINGER_S", "nan", "must be a positive number"),
    ("PXSTREAM_SINK_LINGER_S", "inf", "must be a positive number"),
    ("PXSTREAM_CLICKHOUSE_RETENTION_DAYS", "forever", "expected a whole number of days"),
    ("PXSTREAM_CLICKHOUSE_RETENTION_DAYS", "-1", "must not be negative"),
    ("PXSTREAM_WEB_SECRET", "short", "5 characters; use at least 32"),
    ("PXSTREAM_PUBLIC_URL", "px.example", "is not an http(s)://host[:port] URL"),
    ("PXSTREAM_PUBLIC_URL", "https://px.example:99999", "bad port"),
    ("PXSTREAM_GRAFANA_URL", "ftp://grafana", "is not an http(s)://host[:port] URL"),
    ("PXSTREAM_GRAFANA_CLICKHOUSE_PORT", "https", "not a TCP port"),
    ("PXSTREAM_GRAFANA_CLICKHOUSE_SECURE", "maybe", "expected true or false"),
    ("PXSTREAM_GRAFANA_PROMETHEUS_URL", "prometheus:9090", "is not an http(s)://host[:port] URL"),
    ("PXSTREAM_KAFKA_CONTROLLER_PORT", "70000", "not a TCP port"),
    ("PXSTREAM_PROMETHEUS_PORT", "ninety", "not a TCP port"),
    ("PXSTREAM_KAFKA_HEAP", "lots", "expected a JVM heap size"),
    ("PXSTREAM_KAFKA_HEAP", "512mb", "expected a JVM heap size"),
    ("PXSTREAM_METRICS_TARGET", "localhost", "is not host:port"),
    ("PXSTREAM_METRICS_TARGET", "localhost:0", "not a TCP port"),
    ("PXSTREAM_ALERT_WEBHOOK_URL", "hooks", "is not an http(s)://host[:port] URL"),
]


def test_every_variable_has_a_valid_example_here() -> None:
    assert set(VALID) == set(DEFAULTS)


def test_no_variable_means_the_documented_defaults() -> None:
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_variable_reaches_the_object(name: str) -> None:
    value, expected, field = VALID[name]
    assert field(Settings.from_env({name: value})) == expected
    assert field(Settings.from_env({})) != expected


@pytest.mark.parametrize(("name", "value", "fault"), BAD, ids=[f"{n}={v[:20]!r}" for n, v, _ in BAD])
def test_a_bad_value_is_one_line_naming_the_variable(name: str, value: str, fault: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(name), message
    assert fault in message, message
    assert "\n" not in message and len(message) < 400


def test_a_bad_value_is_refused_before_a_good_one_later_in_the_list_is_read() -> None:
    """One error, for the first bad variable: not a list an operator must read through."""
    with pytest.raises(ConfigError, match=r"^PXSTREAM_SINK_BATCH_SIZE="):
        Settings.from_env({"PXSTREAM_SINK_BATCH_SIZE": "0", "PXSTREAM_KAFKA_HEAP": "lots"})


def test_paths_that_are_the_wrong_kind_of_thing(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match=r"^PXSTREAM_DATA_DIR: .* is a file, not a directory$"):
        Settings.from_env({"PXSTREAM_DATA_DIR": str(a_file)})
    with pytest.raises(ConfigError, match=r"^PXSTREAM_ACTIONS: .* is a directory, not a YAML file$"):
        Settings.from_env({"PXSTREAM_ACTIONS": str(tmp_path)})


def test_empty_means_the_default_for_values_that_have_one() -> None:
    """`VAR=` in a shell or a compose file is how people say "unset"."""
    blank = {name: "" for name in ("PXSTREAM_SINK_BATCH_SIZE", "PXSTREAM_KAFKA_HEAP", "PXSTREAM_PUBLIC_URL")}
    assert Settings.from_env(blank) == Settings()
    assert Settings.from_env({"PXSTREAM_APP_ID": "  "}).worker.app_id == "pxstream-worker"


def test_the_password_in_a_url_is_never_in_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"PXSTREAM_ALERTMANAGER_URL": "ftp://am:hunter2@host"})
    assert "hunter2" not in str(caught.value)


def test_secrets_are_not_in_the_objects_text() -> None:
    settings = Settings.from_env(
        {"PXSTREAM_WEB_SECRET": "w" * 40, "PXSTREAM_GRAFANA_TOKEN": "glsa_x", "TOK": "t"}
    )
    shown = repr(settings)
    assert "w" * 40 not in shown and "glsa_x" not in shown and "TOK" not in shown


def test_connector_secrets_and_child_environments_come_from_the_same_snapshot() -> None:
    env = {"MASTODON_TOKEN": "m", "SITE_IMAP": "p", "PATH": "/usr/bin"}
    settings = Settings.from_env(env)
    env["MASTODON_TOKEN"] = "changed later"  # a snapshot: later changes do not leak in
    assert settings.secret("MASTODON_TOKEN") == "m"
    assert settings.secret("SITE_IMAP") == "p"
    assert settings.secret("NHSUK_API_KEY") == ""
    child = settings.child_environment(PXSTREAM_RULES="demo.yaml")
    assert child == {**settings.environ, "PXSTREAM_RULES": "demo.yaml"}
    assert child["PATH"] == "/usr/bin" and child["MASTODON_TOKEN"] == "m"


def test_without_an_argument_the_process_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PXSTREAM_TOPIC_PREFIX", "from-the-process.")
    assert Settings.from_env().worker.topic_prefix == "from-the-process."


def _reads_the_environment(tree: ast.AST) -> list[int]:
    """Lines that touch `os.environ`, `os.getenv` or `os.environb`."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr in ("environ", "getenv", "environb", "putenv")
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    ] + [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module == "os"
        and any(alias.name in ("environ", "getenv", "environb") for alias in node.names)
    ]


def test_only_the_settings_module_reads_the_environment() -> None:
    """Library modules take values as parameters: the environment is read once, at the edge."""
    readers = {}
    for package in sorted(PACKAGES):
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = _reads_the_environment(ast.parse(path.read_text(encoding="utf-8")))
            if lines:
                readers[str(path.relative_to(ROOT))] = lines
    assert list(readers) == ["schemas/settings.py"], readers
