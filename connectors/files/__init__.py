"""File imports: CSV and XLSX exports (PALS, complaints, incidents, FFT, GP comment cards).

Public face: `load_mapping(path)`, `import_file(path, mapping, bootstrap=…, data_dir=…)`. Imported
lazily so that registering `pxstream connect file` does not load aiokafka.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ImportResult", "Mapping", "import_file", "load_mapping"]


def __getattr__(name: str) -> Any:
    if name in ("ImportResult", "import_file"):
        from connectors.files import importer

        return getattr(importer, name)
    if name in ("Mapping", "load_mapping"):
        from connectors.files import mapping

        return getattr(mapping, name)
    raise AttributeError(name)
