"""``pushdeck report NAME --format csv|html|pdf|png -o FILE``: a campaign report, headless.

CSV needs no Qt. HTML, PDF and PNG draw their charts with Qt: a QApplication is created
only for them, on the offscreen platform when there is no display.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pushdeck.cli.context import Context
from pushdeck.core.common.paths import open_private
from pushdeck.core.reports.dashboard import (
    dashboard_data,
    write_aggregates_csv,
    write_devices_csv,
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="export a campaign report (CSV, HTML, PDF or PNG)",
        description="Export the report of a sent campaign. Rates name their denominator: "
        "accepted by the provider is not delivered.",
    )
    parser.add_argument("name", help="campaign name")
    parser.add_argument("--format", choices=("csv", "html", "pdf", "png"), required=True)
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="file to write ('-' = stdout, CSV only)"
    )
    parser.add_argument(
        "--per-device",
        action="store_true",
        help="CSV: one row per targeted device instead of the aggregates",
    )
    parser.add_argument(
        "--raw-tokens",
        action="store_true",
        help="with --per-device: write device tokens as they are (default: salted SHA-256)",
    )
    parser.set_defaults(handler=_report)


def _report(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace(create=False)
    if str(args.output) != "-":
        ws.refuse_own_file(args.output, "write the report to")
    if args.raw_tokens and not args.per_device:
        print("pushdeck: --raw-tokens applies only with --per-device", file=sys.stderr)
        return 2
    if args.format == "csv":
        return _csv(ctx, args)
    if str(args.output) == "-":
        print("pushdeck: HTML, PDF and PNG reports need a file (-o FILE)", file=sys.stderr)
        return 2
    data = dashboard_data(ws, args.name)
    _qt_application()
    from pushdeck.app.reports import export

    writer = {"html": export.export_html, "pdf": export.export_pdf, "png": export.export_png}
    writer[args.format](data, args.output)
    print(f"Wrote {args.output}", file=sys.stderr)
    return 0


def _csv(ctx: Context, args: argparse.Namespace) -> int:
    ws = ctx.workspace(create=False)
    data = dashboard_data(ws, args.name)  # an unknown campaign fails before any file is made
    to_stdout = str(args.output) == "-"
    out = sys.stdout if to_stdout else open_private(args.output, encoding="utf-8", newline="")
    try:
        if args.per_device:
            write_devices_csv(ws, args.name, out, raw_tokens=args.raw_tokens)
        else:
            write_aggregates_csv(data, out)
    finally:
        if not to_stdout:
            out.close()
    if not to_stdout:
        print(f"Wrote {args.output}", file=sys.stderr)
    return 0


def _qt_application() -> object:
    """The running QApplication, or a new one (offscreen when there is no display)."""
    headless = not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")
    if sys.platform.startswith("linux") and headless:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(["pushdeck-report"])
    return app
