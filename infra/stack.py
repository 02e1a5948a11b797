"""Bring the local parts up, report on them, take them down — the same way for every part.

Rules that make `up` safe to repeat and `down` safe to run:
- a part counts as ours only if its pid file names a live process whose command line carries the
  part's marker (its config under this data dir);
- a port already served by the right kind of service that this data dir did not start (another
  checkout's broker, a system Alertmanager) is *external*: used, reported, never stopped;
- any other holder of a port is a conflict: `up` fails at once naming the port and the holder;
- a part that does not answer in time fails `up` with its port and its log file, and is stopped.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infra.config import InfraConfig
from infra.parts import InfraError, LocalPart, Progress
from infra.procs import (
    host_lock,
    owned_pid,
    port_accepts,
    port_holder,
    port_is_free,
    read_pid,
    start_detached,
    stop_pid,
    tail,
)
from infra.purge import derived_state as purge_derived_state
from infra.purge import embedded_clickhouse, refuse_if_in_use

HEALTHY = "healthy"
EXTERNAL = "external"
STOPPED = "stopped"
UNHEALTHY = "unhealthy"
CONFLICT = "conflict"


@dataclass(frozen=True)
class PartState:
    name: str
    title: str
    address: str
    pid: int | None
    health: str  # one of HEALTHY, EXTERNAL, STOPPED, UNHEALTHY, CONFLICT
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.health in (HEALTHY, EXTERNAL)


def all_parts(config: InfraConfig) -> list[LocalPart]:
    # Imported here: `pxstream --help` should not pay for aiokafka or PyYAML.
    from infra.broker import KafkaBroker
    from infra.monitoring import AlertmanagerPart, PrometheusPart

    return [KafkaBroker(config), AlertmanagerPart(config), PrometheusPart(config)]


def select_parts(config: InfraConfig, names: Sequence[str] | None = None) -> list[LocalPart]:
    parts = all_parts(config)
    if not names:
        return parts
    known = {part.name: part for part in parts}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InfraError(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]


def state_of(part: LocalPart) -> PartState:
    pid = owned_pid(part.pid_file, part.marker)
    if pid is not None:
        healthy = part.answers()
        return PartState(
            part.name, part.title, part.url, pid, HEALTHY if healthy else UNHEALTHY,
            "" if healthy else f"started by pxstream but not answering; {part.log_hint()}",
        )  # fmt: skip
    if port_is_free(part.host, part.port) and not port_accepts(part.host, part.port):
        return PartState(part.name, part.title, part.url, None, STOPPED)
    holder = port_holder(part.port)
    holder_pid = holder.pid if holder else None
    if part.answers():
        return PartState(
            part.name, part.title, part.url, holder_pid, EXTERNAL,
            f"not started from {part.config.data_dir}; pxstream will use it but never stop it",
        )  # fmt: skip
    who = holder.describe() if holder else "another process"
    return PartState(
        part.name, part.title, part.url, holder_pid, CONFLICT,
        f"port {part.port} is held by {who}, which is not {part.title}",
    )  # fmt: skip


def status(config: InfraConfig, names: Sequence[str] | None = None) -> list[PartState]:
    return [state_of(part) for part in select_parts(config, names)]


def start(part: LocalPart, progress: Progress) -> PartState:
    """Start `part` unless it (or an equivalent external service) already answers; wait until it answers."""
    part.check_installed()
    with host_lock(f"port-{part.port}"):
        pid = owned_pid(part.pid_file, part.marker)
        if pid is not None:
            if not part.answers():  # a concurrent `up` may still be starting it
                _wait_until_answers(part, proc=None, pid=pid)
            return PartState(part.name, part.title, part.url, pid, HEALTHY, "already running")
        for port in (part.port, *part.extra_ports):
            if port_is_free(part.host, port):
                continue
            holder = port_holder(port)
            if port == part.port and part.answers():
                return PartState(
                    part.name, part.title, part.url, holder.pid if holder else None, EXTERNAL,
                    f"already served by {holder.describe() if holder else 'another process'}, "
                    f"not started from {part.config.data_dir}: using it",
                )  # fmt: skip
            who = holder.describe() if holder else "another process"
            variable = part.port_variables.get(port, "")
            raise InfraError(
                f"{part.title} cannot start: port {port} on {part.host} is already in use by {who}, "
                f"not by a {part.title} that pxstream started from {part.config.data_dir}; stop that "
                f"process or choose another port" + (f" ({variable})" if variable else "")
            )
        part.prepare(progress)
        progress(f"{part.title}: starting on {part.url} (log: {part.log_file})")
        proc = start_detached(
            part.command(), log_file=part.log_file, pid_file=part.pid_file, cwd=part.config.data_dir
        )
        started = time.monotonic()
        _wait_until_answers(part, proc=proc, pid=proc.pid)
        return PartState(
            part.name,
            part.title,
            part.url,
            proc.pid,
            HEALTHY,
            f"started in {time.monotonic() - started:.1f} s",
        )


def _wait_until_answers(part: LocalPart, proc, pid: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + part.startup_timeout
    while time.monotonic() < deadline:
        exited = proc.poll() if proc is not None else (None if owned_pid(part.pid_file, part.marker) else -1)
        if exited is not None:
            part.pid_file.unlink(missing_ok=True)
            raise InfraError(
                f"{part.title} exited during start-up (exit {exited}) on port {part.port}; "
                f"log {part.log_file}:\n{tail(part.log_file)}"
            )
        if port_accepts(part.host, part.port) and part.answers(timeout=2.0):
            return
        time.sleep(0.25)
    stop_pid(pid, timeout=10)
    part.pid_file.unlink(missing_ok=True)
    raise InfraError(
        f"{part.title} did not answer on {part.host}:{part.port} within {part.startup_timeout:.0f} s "
        f"and was stopped; log {part.log_file}:\n{tail(part.log_file)}"
    )


def up(config: InfraConfig, progress: Progress, names: Sequence[str] | None = None) -> list[PartState]:
    """Start every selected part (idempotent), then create the project's topics on Kafka."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    states = []
    for part in select_parts(config, names):
        if part.name == "kafka" and not config.kafka_is_local:
            raise InfraError(
                f"PXSTREAM_KAFKA_BOOTSTRAP={config.kafka_bootstrap} is not on this machine: "
                "`infra up` only runs a local broker (leave out the 'kafka' part to use a remote cluster)"
            )
        state = start(part, progress)
        progress(f"{state.title}: {state.health} at {state.address} (pid {state.pid}) — {state.detail}")
        states.append(state)
        if part.name == "kafka":
            from infra.broker import ensure_topics
            from schemas.topics import TOPICS

            created = ensure_topics(config.kafka_bootstrap, TOPICS)
            if created:
                progress(f"Kafka: created topics {', '.join(created)}")
    return states


def down(
    config: InfraConfig, progress: Progress, names: Sequence[str] | None = None, purge: bool = False
) -> list[PartState]:
    """Stop what this data dir started (never anything else); with `purge`, delete the parts' state
    and, when every part goes, the local stores derived from Kafka (infra/purge.py), saying each."""
    derived = purge_derived_state(config) if purge and not names else []
    if derived:
        refuse_if_in_use(derived)  # before anything is stopped or deleted
    states = []
    for part in reversed(select_parts(config, names)):
        pid = owned_pid(part.pid_file, part.marker)
        if pid is not None:
            progress(f"{part.title}: stopping pid {pid}")
            killed = stop_pid(pid, timeout=30)
            detail = "killed after 30 s" if killed else "stopped"
        elif read_pid(part.pid_file) is not None:
            detail = "was not running (stale pid file removed)"
        else:
            detail = "was not running"
        part.pid_file.unlink(missing_ok=True)
        if purge:
            for path in part.state_dirs:
                if path.exists():
                    shutil.rmtree(path)
                    detail += f"; deleted {path}"
        progress(f"{part.title}: {detail}")
        states.append(PartState(part.name, part.title, part.url, None, STOPPED, detail))
    for path, what in derived:
        if path.exists():
            shutil.rmtree(path)
            progress(f"deleted {path}: {what}")
    if purge and not names:
        embedded = embedded_clickhouse(config)
        if embedded is not None and not embedded.is_relative_to(config.data_dir) and embedded.exists():
            progress(
                f"kept {embedded} (outside {config.data_dir}): its rows and sink journal are from the "
                "purged topics; delete it too to start over"
            )
        for path in (config.run_dir, config.log_dir):
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)
                progress(f"deleted {path}: pid files and logs")
    return states


def format_table(states: Iterable[PartState]) -> str:
    rows = [("PART", "ADDRESS", "PID", "HEALTH", "DETAIL")]
    rows += [(s.title, s.address, str(s.pid or "-"), s.health, s.detail) for s in states]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4] for row in rows
    ).rstrip()
