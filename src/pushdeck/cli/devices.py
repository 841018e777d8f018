"""``pushdeck devices``: import, export, list, count."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pushdeck.cli.context import Context, ProgressBar
from pushdeck.core.common.csv_cells import safe_writer
from pushdeck.core.common.paths import open_private
from pushdeck.core.devices.export import export_devices
from pushdeck.core.devices.importer import Progress, import_devices, parse_mapping
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.segments import audience_filter, usable


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("devices", help="device tokens and subscriptions")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    imp = verbs.add_parser("import", help="import devices from CSV, JSON or NDJSON")
    imp.add_argument("file", type=Path)
    imp.add_argument("--app", required=True)
    imp.add_argument("--report", type=Path, help="write rejected rows (line, field, reason) as CSV")
    imp.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="map a device field to a column of the file (repeatable)",
    )
    imp.add_argument("--format", choices=("csv", "json", "ndjson"))
    imp.add_argument("--json", action="store_true", help="print the summary as JSON")
    imp.set_defaults(handler=_import)

    exp = verbs.add_parser("export", help="export devices to CSV or NDJSON")
    exp.add_argument("file", type=Path, help="output file ('-' for stdout)")
    exp.add_argument("--segment")
    exp.add_argument("--app")
    exp.add_argument("--format", choices=("csv", "ndjson"))
    exp.set_defaults(handler=_export)

    lst = verbs.add_parser("list", help="list devices")
    lst.add_argument("--segment")
    lst.add_argument("--app")
    lst.add_argument("--limit", type=int, default=20)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)

    cnt = verbs.add_parser("count", help="count devices (all, or those in a segment)")
    cnt.add_argument("--segment")
    cnt.add_argument("--app")
    cnt.add_argument("--json", action="store_true")
    cnt.set_defaults(handler=_count)


def _filter(ctx: Context, args: argparse.Namespace) -> tuple[str, tuple[object, ...]]:
    ws = ctx.workspace()
    if args.segment:
        compiled = audience_filter(ws, usable(ws, args.segment).rule, args.app)
        return compiled.where, compiled.params
    if args.app:
        return "d.app_id = (SELECT id FROM apps WHERE name = ?)", (args.app,)
    return "", ()


def _import(ctx: Context, args: argparse.Namespace) -> int:
    bar = ProgressBar(
        f"Importing {args.file.name}", args.file.stat().st_size if args.file.is_file() else 1
    )

    def on_progress(p: Progress) -> None:
        saving = " read; saving to the workspace" if p.phase == "saving" else ""
        bar.update(p.bytes_read, f"{p.rows:,} rows{saving}")

    report = import_devices(
        ctx.workspace(),
        args.file,
        args.app,
        mapping=parse_mapping(args.map),
        fmt=args.format,
        report_file=args.report,
        progress=on_progress,
    )
    bar.finish()
    if args.json:
        ctx.print_json(
            {
                **report.as_dict(),
                "rejected_rows": [
                    {"line": r.line, "field": r.field, "reason": r.reason} for r in report.rejected
                ],
            }
        )
        return 0
    print(
        f"{report.rows:,} rows read: {report.inserted:,} added, {report.updated:,} updated, "
        f"{report.unchanged:,} unchanged, {report.rejected_count:,} rejected."
    )
    if report.ignored_columns:
        print(
            f"Ignored columns: {', '.join(report.ignored_columns)} "
            "(name them attr.NAME to keep them as attributes)."
        )
    for rejected in report.rejected[:10]:
        print(f"  line {rejected.line}: {rejected.field}: {rejected.reason}", file=sys.stderr)
    if report.rejected_count > 10:
        where = f"see {args.report}" if args.report else "use --report FILE to save them all"
        print(
            f"  … and {report.rejected_count - 10:,} more rejected rows ({where}).", file=sys.stderr
        )
    return 0


def _export(ctx: Context, args: argparse.Namespace) -> int:
    where, params = _filter(ctx, args)
    fmt = args.format or ("ndjson" if args.file.suffix in (".ndjson", ".jsonl") else "csv")
    if str(args.file) == "-":
        count = export_devices(ctx.workspace(), sys.stdout, fmt, where=where, params=params)
    else:
        ctx.workspace().refuse_own_file(args.file, "export devices to")
        with open_private(args.file, "w", newline="", encoding="utf-8") as fh:
            count = export_devices(ctx.workspace(), fh, fmt, where=where, params=params)
    print(f"{count:,} devices exported.", file=sys.stderr)
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    where, params = _filter(ctx, args)
    devices = device_store.list_devices(
        ctx.workspace(), where=where, params=params, limit=args.limit
    )
    if args.json:
        ctx.print_json(
            [
                {
                    "id": d.id,
                    "app": d.app,
                    "platform": d.platform.value,
                    "provider": d.provider.value,
                    "token": d.token,
                    "locale": d.locale,
                    "timezone": d.timezone,
                    "tags": list(d.tags),
                    "status": d.status.value,
                }
                for d in devices
            ]
        )
        return 0
    writer = safe_writer(sys.stdout, delimiter="\t")
    writer.writerow(["ID", "APP", "PLATFORM", "TOKEN", "LOCALE", "TIMEZONE", "TAGS", "STATUS"])
    for d in devices:
        token = d.token if len(d.token) <= 24 else d.token[:21] + "…"
        writer.writerow(
            [
                d.id,
                d.app,
                d.platform.value,
                token,
                d.locale,
                d.timezone,
                ";".join(d.tags),
                d.status.value,
            ]
        )
    return 0


def _count(ctx: Context, args: argparse.Namespace) -> int:
    where, params = _filter(ctx, args)
    count = device_store.count_devices(ctx.workspace(), where=where, params=params)
    if args.json:
        print(json.dumps({"count": count, "segment": args.segment, "app": args.app}))
    else:
        print(count)
    return 0
