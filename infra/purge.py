"""What `pxstream infra down --purge` deletes besides the parts' own data, and when it must not.

Everything under the data dir that was derived from the purged Kafka goes with it, because each
piece would otherwise disagree with the new, empty cluster (docs/operations-errors.md):

- `worker/`: Faust's working directory, and the RocksDB tables workers kept there before the
  hotspot stage held its state itself (December 2026): ahead of their emptied changelogs;
- the embedded ClickHouse, when it lives under the data dir: its rows came from the purged topics,
  and the sink's batch journal remembers offsets that the new topics will reuse, so new events
  would be dropped as repeats of old batches;
- `connectors/`: cursors and import ledgers that say "already sent" about events Kafka no longer has.

The Kafka jar cache stays. Nothing is deleted while a process still holds it (a running worker or
sink): deleting a store under a live process corrupts it, so purge refuses and names the path.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from pathlib import Path

from infra.config import InfraConfig
from infra.parts import InfraError
from schemas.settings import parse_clickhouse_url


def derived_state(config: InfraConfig) -> list[tuple[Path, str]]:
    """(path, what it is) for each local store derived from Kafka, under the data dir."""
    paths = [(config.data_dir / "worker", "worker tables (Faust working directory)")]
    embedded = embedded_clickhouse(config)
    if embedded is not None and embedded.is_relative_to(config.data_dir):
        paths.append((embedded, "embedded ClickHouse (rows and sink journal from the purged topics)"))
    paths.append((config.data_dir / "connectors", "connector cursors and import ledgers"))
    return paths


def embedded_clickhouse(config: InfraConfig) -> Path | None:
    target = parse_clickhouse_url(config.clickhouse_url)
    return target.path.resolve() if target.kind == "chdb" and target.path is not None else None


def refuse_if_in_use(paths: list[tuple[Path, str]]) -> None:
    """InfraError naming the first store a live process holds (RocksDB `LOCK`, ClickHouse `status`)."""
    for root, what in paths:
        for lock in _lock_files(root):
            if _held(lock):
                raise InfraError(
                    f"not purging: {lock.parent} ({what}) is in use by a running process; "
                    "stop `pxstream worker` / `pxstream sink` / the demo first"
                )


def _lock_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    status = root / "status"  # the embedded ClickHouse's lock file
    if status.is_file():
        yield status
    yield from root.rglob("LOCK")  # one per RocksDB database


def _held(path: Path) -> bool:
    """Whether another process holds a lock on `path` (RocksDB takes POSIX locks, ClickHouse flock)."""
    try:
        handle = path.open("rb+")
    except OSError:
        return False
    with handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.lockf(handle, fcntl.LOCK_UN)
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:
            return True
    return False
