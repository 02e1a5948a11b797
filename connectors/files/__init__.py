"""File imports: CSV and XLSX exports (PALS, complaints, incidents, FFT, GP comment cards)."""

from connectors.files.importer import ImportResult, import_file
from connectors.files.mapping import Mapping, load_mapping

__all__ = ["ImportResult", "Mapping", "import_file", "load_mapping"]
