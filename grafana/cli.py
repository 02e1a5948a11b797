"""`pxstream grafana export|publish` and `pxstream report` (heavy imports inside the handlers)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from schemas.errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    grafana = subparsers.add_parser("grafana", help="write or publish the Grafana dashboards")
    commands = grafana.add_subparsers(dest="grafana_command", metavar="ACTION", required=True)

    export = commands.add_parser("export", help="write dashboards and provisioning files to DIR")
    export.add_argument("dir", type=Path, metavar="DIR")
    export.set_defaults(func=_export)

    publish = commands.add_parser(
        "publish", help="create or update folder, dashboards and playlist in a Grafana"
    )
    publish.add_argument("--url", required=True, help="Grafana base URL, e.g. https://grafana.example.nhs.uk")
    publish.add_argument("--token", help="service-account token (default: $PXSTREAM_GRAFANA_TOKEN)")
    publish.set_defaults(func=_publish)

    report = subparsers.add_parser("report", help="the monthly themes-and-trends pack (HTML with PNG charts)")
    report.add_argument("--organisation", required=True, help="commissioner ODS code")
    report.add_argument("--month", required=True, help="YYYY-MM")
    report.add_argument("--out", required=True, type=Path, metavar="DIR")
    report.set_defaults(func=_report)


def _export(args: argparse.Namespace) -> int:
    from grafana.export import export

    for path in export(args.dir, args.settings.grafana):
        print(path)
    return 0


def _publish(args: argparse.Namespace) -> int:
    from grafana.publish import publish

    token = args.token or args.settings.grafana.token
    if not token:
        raise ConfigError("pxstream grafana publish: no token (use --token or PXSTREAM_GRAFANA_TOKEN)")
    print(publish(args.url.rstrip("/"), token).summary())
    return 0


def _report(args: argparse.Namespace) -> int:
    from grafana.report.build import build_report

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        raise ConfigError(f"pxstream report --month {args.month!r}: expected YYYY-MM, e.g. 2026-03")
    path = build_report(args.settings.clickhouse_url, args.organisation, args.month, args.out)
    print(path)
    return 0
