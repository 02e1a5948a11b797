"""`pxstream connect file PATH --mapping MAP.yaml [--report rejected.csv]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "file",
        help="import a CSV or XLSX export (PALS, complaints, incidents, FFT, GP comment cards)",
        description="Reads PATH with the column mapping MAP.yaml, sends valid rows to feedback.raw and "
        "writes every rejected row (row number, column, field, reason) to a CSV report. Re-importing "
        "an unchanged file sends nothing; a changed one sends only new or changed rows.",
    )
    parser.add_argument("path", type=Path, help="the export, .csv or .xlsx")
    parser.add_argument("--mapping", required=True, type=Path, help="column-mapping YAML file")
    parser.add_argument(
        "--report", type=Path, help="rejected-rows CSV (default: PATH.rejected.csv beside it)"
    )
    parser.add_argument("--force", action="store_true", help="ignore the import ledger and send every row")
    parser.add_argument("--dry-run", action="store_true", help="validate and write the report; send nothing")
    parser.add_argument("--topic", default=None, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from connectors.files.importer import import_file
    from connectors.files.mapping import load_mapping
    from connectors.files.progress import ProgressBar
    from schemas import topics
    from schemas.settings import Settings

    settings: Settings = args.settings
    mapping = load_mapping(args.mapping)
    bar = ProgressBar(args.path.name)
    result = asyncio.run(
        import_file(
            args.path,
            mapping,
            bootstrap=settings.kafka_bootstrap,
            data_dir=settings.data_dir,
            topic=args.topic or topics.RAW,
            report_path=args.report,
            progress=lambda rows, done, total: bar.update(rows, done, total),
            force=args.force,
            dry_run=args.dry_run,
        )
    )
    if result.already_imported is not None:
        print(f"{args.path}: unchanged since its import at {result.already_imported}; nothing sent")
        return 0
    bar.close(result.rows, 1, 1)
    print(
        f"{args.path}: {result.rows:,} rows, {result.sent:,} sent"
        f"{' (dry run: nothing sent)' if args.dry_run else ''}, {result.unchanged:,} unchanged since "
        f"the last import, {result.rejected_rows:,} rejected ({result.rejections:,} problems) -> "
        f"{result.report}; {result.rows_per_s:,.0f} rows/s"
    )
    return 0
