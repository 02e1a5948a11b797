"""Where each connector remembers how far it has read, so a restart resumes with no gap.

A JSON file per connector under `PXSTREAM_DATA_DIR/connectors/`, replaced atomically (write,
fsync, rename): a `kill -9` leaves either the old cursor or the new one, never half of one.
The cursor is saved only after Kafka acknowledged the events it covers.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from connectors.exceptions import ConnectorConfigError


class CursorStore:
    def __init__(self, data_dir: Path, name: str) -> None:
        self.path = Path(data_dir) / "connectors" / f"{name}.json"

    def load(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConnectorConfigError(
                f"cursor file {self.path} is corrupt ({exc}); move it aside to start from the beginning"
            ) from exc

    def save(self, cursor: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(cursor, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
