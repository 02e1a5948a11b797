"""Where the labelled data lives and how it is read (training and evaluation only).

The FFT set is read at run time from ``PXSTREAM_FFT_DATA`` (``Settings.fft_data``, read by each
command's edge and passed in) or ``../shared/data`` beside the repository, never copied into it.
The multi-source sets are ours, in ``tests/data``:

* ``other_sources_labelled.jsonl`` — 200 examples written with the first lexicon; now training data;
* ``tagger_train_multisource.jsonl`` — more training examples of every source, in other words;
* ``tagger_dev.jsonl`` — the development set every change to lexicon, priors and thresholds is
  tuned on;
* ``tagger_eval_frozen.jsonl`` — the frozen evaluation set, written and committed before any
  tuning and measured once at the end (docs/tagging.md). Nothing is ever tuned on it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from schemas.domains import DOMAIN_IDS
from schemas.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "tests" / "data"
OTHER_SOURCES_PATH = DATA_DIR / "other_sources_labelled.jsonl"
TRAIN_PATH = DATA_DIR / "tagger_train_multisource.jsonl"
DEV_PATH = DATA_DIR / "tagger_dev.jsonl"
FROZEN_PATH = DATA_DIR / "tagger_eval_frozen.jsonl"
_FFT_RELATIVE = Path("shared") / "data" / "fft_domains.csv"


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    domains: frozenset[str]
    source: str = "fft"
    category_codes: tuple[str, ...] = ()
    sentiment_label: str = ""
    # the FFT source's own fine categories (v6 framework), from which its domains were mapped
    source_labels: tuple[str, ...] = ()


def _checkouts() -> list[Path]:
    """This checkout, and the main checkout when this one is a ``git worktree`` of it."""
    roots = [REPO_ROOT]
    dot_git = REPO_ROOT / ".git"
    if dot_git.is_file():  # a worktree: "gitdir: <main>/.git/worktrees/<name>"
        gitdir = Path(dot_git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        if gitdir.parent.name == "worktrees" and gitdir.parent.parent.name == ".git":
            roots.append(gitdir.parent.parent.parent)
    return roots


def fft_path(configured: Path | None) -> Path:
    """``configured`` (``PXSTREAM_FFT_DATA``) if set, else ``../shared/data/fft_domains.csv`` beside
    the repository."""
    candidates = [Path(configured)] if configured else [root.parent / _FFT_RELATIVE for root in _checkouts()]
    for path in candidates:
        if path.is_file():
            return path
    raise ConfigError(
        "fft_domains.csv not found (looked in "
        + ", ".join(str(path) for path in candidates)
        + "); set PXSTREAM_FFT_DATA"
    )


def load_fft(split: str, fft_data: Path | None) -> list[Example]:
    """Rows of one split (``train`` or ``test``) of the labelled FFT comments at ``fft_path(fft_data)``."""
    path = fft_path(fft_data)
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


def load_labelled(path: Path) -> list[Example]:
    """A JSONL set of ``{text, source, category_codes?, severity?, domains}`` rows."""
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


def load_other_sources(path: Path = OTHER_SOURCES_PATH) -> list[Example]:
    """The first 200 hand-labelled non-FFT examples (complaints, incidents, GP concerns, ...)."""
    return load_labelled(path)


def load_dev() -> list[Example]:
    """The development set: tune on this."""
    return load_labelled(DEV_PATH)


def load_frozen() -> list[Example]:
    """The frozen evaluation set: measure on this, never tune on it."""
    return load_labelled(FROZEN_PATH)
