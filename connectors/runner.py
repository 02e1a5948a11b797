"""`pxstream connect run --config connectors.yaml`: several connectors in one process.

```yaml
reference: reference/          # optional: ODS files + aliases, shared by every connector
metrics_port: 9464             # optional: one /metrics for all (label `connector` = name)
connectors:
  - name: nuh-news             # unique: the cursor file and the metrics label
    type: rss
    feeds: [https://news.example/health.rss, {url: https://nuh.example/press.rss, provider: RX1}]
  - name: nuh-careopinion
    type: careopinion          # key from $CAREOPINION_API_KEY (api_key_env to change)
    filters: {healthservice: RX1}
  - {name: nuh-reviews, type: nhs-reviews, ods_codes: [RX1RA], skip_care_opinion: true}
  - {name: bsky, type: bluesky}
  - {name: masto, type: mastodon, instance: https://mastodon.social, tags: [NHS], transport: sse}
  - {name: complaints, type: imap, host: mail.nuh.example, user: complaints, provider: RX1}
```

The whole file is checked before anything starts, and every problem is reported with its place
(`connectors[2].feedz: unknown option`). Each connector keeps its own cursor and retry loop; they
share one Kafka producer. A connector whose configuration turns out to be unusable at run time
(a refused key) stops the whole run, because running on silently without it would hide the gap.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.exceptions import ConnectorConfigError
from connectors.registry import CONNECTORS
from connectors.runtime import ConnectorRun, RunOptions, Source, start_metrics_server

# type → (module, options it accepts besides name/type), for the connectors a file may run.
TYPES: dict[str, tuple[str, frozenset[str]]] = {
    entry.name: (entry.module, entry.run_options) for entry in CONNECTORS if entry.run_options is not None
}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass
class ConnectorSpec:
    name: str
    type: str
    options: dict[str, Any]


@dataclass
class RunnerConfig:
    connectors: list[ConnectorSpec]
    reference: Path | None = None
    metrics_port: int | None = None
    problems: list[str] = field(default_factory=list)


def parse_config(document: Any, where: str, base_dir: Path) -> RunnerConfig:
    """Validate the YAML document; raise one ConnectorConfigError listing every problem."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ConnectorConfigError(f"{where}: expected a mapping with a `connectors` list")
    unknown = set(document) - {"reference", "metrics_port", "connectors"}
    problems.extend(f"{key}: unknown setting" for key in sorted(unknown))
    reference = None
    if document.get("reference") is not None:
        reference = (base_dir / str(document["reference"])).resolve()
        if not reference.is_dir():
            problems.append(f"reference: {reference} is not a directory")
    metrics_port = document.get("metrics_port")
    if metrics_port is not None and (not isinstance(metrics_port, int) or not 0 < metrics_port < 65536):
        problems.append(f"metrics_port: {metrics_port!r} is not a port number")
    items = document.get("connectors")
    specs: list[ConnectorSpec] = []
    if not isinstance(items, list) or not items:
        problems.append("connectors: expected a non-empty list")
        items = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        place = f"connectors[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{place}: expected a mapping with name and type")
            continue
        name, kind = item.get("name"), item.get("type")
        if not isinstance(name, str) or not _NAME.match(name):
            problems.append(f"{place}.name: {name!r} — use letters, digits, '.', '_' or '-'")
        elif name in seen:
            problems.append(f"{place}.name: {name!r} is used twice (each connector needs its own cursor)")
        else:
            seen.add(name)
        if kind not in TYPES:
            problems.append(f"{place}.type: {kind!r} is not one of {', '.join(TYPES)}")
            continue
        allowed = TYPES[kind][1]
        for key in sorted(set(item) - allowed - {"name", "type"}):
            problems.append(f"{place}.{key}: unknown option for {kind} (known: {', '.join(sorted(allowed))})")
        options = {k: v for k, v in item.items() if k not in ("name", "type")}
        specs.append(ConnectorSpec(str(name), str(kind), options))
    if problems:
        raise ConnectorConfigError(f"{where}: " + "; ".join(problems))
    return RunnerConfig(specs, reference, metrics_port)


def load_config(path: Path) -> RunnerConfig:
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConnectorConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConnectorConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    return parse_config(document, str(path), path.parent)


def build_sources(
    config: RunnerConfig, reference: Any, secret: Callable[[str], str]
) -> list[tuple[ConnectorSpec, Source]]:
    """Construct every source up front so a bad option fails before anything connects; `secret`
    reads the variables the options name for tokens and passwords (`Settings.secret`)."""
    built = []
    problems = []
    for index, spec in enumerate(config.connectors):
        module = importlib.import_module(TYPES[spec.type][0])
        try:
            built.append((spec, module.build_source(spec.options, reference, secret)))
        except ConnectorConfigError as exc:
            problems.append(f"connectors[{index}] ({spec.name}): {exc}")
        except (TypeError, ValueError) as exc:
            problems.append(f"connectors[{index}] ({spec.name}): bad value ({exc})")
    if problems:
        raise ConnectorConfigError("; ".join(problems))
    return built


async def run_all(
    sources: list[tuple[ConnectorSpec, Source]],
    *,
    bootstrap: str,
    topic: str,
    data_dir: Path,
    once: bool = False,
    stop: asyncio.Event | None = None,
    max_retries: int | None = None,
) -> list[ConnectorRun]:
    from connectors.producer import FeedbackProducer

    stop = stop or asyncio.Event()
    async with FeedbackProducer(bootstrap, topic=topic) as producer:
        runs = [
            ConnectorRun(
                source,
                producer,
                RunOptions(name=spec.name, data_dir=data_dir, once=once, max_retries=max_retries),
            )
            for spec, source in sources
        ]
        tasks = [asyncio.create_task(run.run(), name=run.options.name) for run in runs]
        watcher = asyncio.create_task(stop.wait())
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending | {watcher}, return_when=asyncio.FIRST_COMPLETED)
                if watcher in done:
                    for run in runs:
                        run.stop()
                    await asyncio.gather(*pending, return_exceptions=True)
                    break
                pending.discard(watcher)
                for task in done:
                    if task.exception() is not None:
                        for run in runs:
                            run.stop()
                        await asyncio.gather(*pending, return_exceptions=True)
                        raise task.exception()  # type: ignore[misc]
        finally:
            watcher.cancel()
        return runs


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from connectors.command_line import add_run_arguments

    parser = subparsers.add_parser("run", help="run several connectors from one YAML file")
    parser.add_argument("--config", required=True, type=Path, help="connectors YAML file")
    add_run_arguments(parser, "run")
    parser.set_defaults(func=_handle)


def _handle(args: argparse.Namespace) -> int:
    from connectors.command_line import load_reference, options_from_args, run_until_signalled

    config = load_config(args.config)
    reference = load_reference(config.reference)
    sources = build_sources(config, reference, args.settings.secret)
    bootstrap, topic, options = options_from_args(args)
    port = args.metrics_port or config.metrics_port
    if port is not None:
        start_metrics_server(port)

    async def main(stop: asyncio.Event) -> None:
        await run_all(
            sources,
            bootstrap=bootstrap,
            topic=topic,
            data_dir=options.data_dir,
            once=options.once,
            stop=stop,
            max_retries=options.max_retries,
        )

    return run_until_signalled(main)
