"""`pxstream connect reference --dir DIR`: check reference files before a connector relies on them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "reference",
        help="validate and summarise ODS reference data, wards and aliases",
        description="Reads whichever of etr.csv, ets.csv, epraccur.csv, wards.csv/.yaml, aliases.yaml "
        "are in DIR, prints counts and every problem as file:line, exits 2 when there are problems.",
    )
    parser.add_argument("--dir", required=True, type=Path, help="directory holding the reference files")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from connectors.reference import ReferenceData

    ref = ReferenceData.load(args.dir)
    summary = ref.summary()
    if args.json:
        print(
            json.dumps({**summary, "files": ref.loaded_files, "problem_list": [str(p) for p in ref.problems]})
        )
    else:
        print(f"reference data in {args.dir}: files {', '.join(ref.loaded_files) or 'none found'}")
        for name, count in summary.items():
            print(f"  {name:<13}{count:>8,}")
        for problem in ref.problems:
            print(f"  problem: {problem}")
    if not ref.loaded_files:
        print("no reference files found (expected etr.csv, ets.csv, epraccur.csv, wards.csv, aliases.yaml)")
        return 2
    return 2 if ref.problems else 0
