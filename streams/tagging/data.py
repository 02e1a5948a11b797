"""Where the labelled data lives and how it is read (training and evaluation only).

The FFT set is read from the shared data folder at run time and never copied into the repo;
the other-source set is ours, in ``tests/data``.
"""

from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass
from pathlib import Path

from schemas.domains import DOMAIN_IDS
from schemas.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
OTHER_SOURCES_PATH = REPO_ROOT / "tests" / "data" / "other_sources_labelled.jsonl"
_FFT_CANDIDATES = (
    REPO_ROOT.parent / "shared" / "data" / "fft_domains.csv",
    Path("/work/shared/data/fft_domains.csv"),
)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    domains: frozenset[str]
    source: str = "fft"
    category_codes: tuple[str, ...] = ()
    sentiment_label: str = ""
    # the FFT source's own fine categories (v6 framework), from which its domains were mapped
    source_labels: tuple[str, ...] = ()


def fft_path() -> Path:
    """``PXSTREAM_FFT_DATA`` if set, else ``../shared/data/fft_domains.csv`` beside the checkout."""
    configured = os.environ.get("PXSTREAM_FFT_DATA")
    candidates = (Path(configured),) if configured else _FFT_CANDIDATES
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        "fft_domains.csv not found (looked in "
        + ", ".join(str(path) for path in candidates)
        + "); set PXSTREAM_FFT_DATA"
    )


def load_fft(split: str) -> list[Example]:
    """Rows of one split (``train`` or ``test``) of the labelled FFT comments."""
    path = fft_path()
    examples = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line_no, row in enumerate(csv.DictReader(handle), start=2):
            if row["split"] != split:
                continue
            domains = frozenset(d for d in row["domains"].split(";") if d)
            unknown = domains - set(DOMAIN_IDS)
            if unknown:
                raise ConfigError(f"{path}:{line_no}: unknown domain(s) {sorted(unknown)}")
            labels = tuple(label for label in row.get("source_labels", "").split(";") if label)
            examples.append(Example(row["text"], domains, "fft", (), row["sentiment"], labels))
    return examples


def load_other_sources(path: Path = OTHER_SOURCES_PATH) -> list[Example]:
    """Our hand-labelled non-FFT examples (complaints, incidents, GP concerns, MP letters, ...)."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                domains = frozenset(row["domains"])
                example = Example(row["text"], domains, row["source"], tuple(row.get("category_codes", ())))
            except (ValueError, KeyError, TypeError) as exc:
                raise ConfigError(f"{path}:{line_no}: bad labelled example ({exc})") from exc
            if domains - set(DOMAIN_IDS):
                raise ConfigError(f"{path}:{line_no}: unknown domain(s) {sorted(domains - set(DOMAIN_IDS))}")
            examples.append(example)
    return examples
