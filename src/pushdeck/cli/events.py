"""``pushdeck events import FILE`` and ``pushdeck collect``: engagement coming back."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pushdeck.cli.context import Context
from pushdeck.core.engagement.collector import Collector, collector_token
from pushdeck.core.engagement.collector_http import is_loopback_host
from pushdeck.core.engagement.events import import_events_file

CLEAR_TEXT_WARNING = (
    "Warning: --host {host} lets other computers reach the collector over plain HTTP: "
    "the token and every event cross the network in clear text, readable by anyone on "
    "the path. Keep it on a network you trust, or put it behind a TLS reverse proxy "
    "(docs/engagement-events.md, 'Behind TLS') and listen on 127.0.0.1."
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("events", help="engagement events (opens, deliveries, …)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    imp = verbs.add_parser("import", help="import events from CSV or NDJSON (idempotent)")
    imp.add_argument("file")
    imp.add_argument("--json", action="store_true")
    imp.set_defaults(handler=_import)
    token = verbs.add_parser("token", help="show (or --rotate) the collector's token")
    token.add_argument("--rotate", action="store_true")
    token.set_defaults(handler=_token)
    collect = subparsers.add_parser("collect", help="run the local event collector")
    collect.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (local only)")
    collect.add_argument("--port", type=int, default=8765)
    collect.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests addressed to NAME (e.g. a TLS reverse proxy's name)",
    )
    collect.set_defaults(handler=_collect)


def _import(ctx: Context, args: argparse.Namespace) -> int:
    report = import_events_file(ctx.workspace(), args.file)
    if args.json:
        ctx.print_json(report.as_dict())
    else:
        print(
            f"{report.recorded} recorded, {report.duplicates} already known, "
            f"{report.rejected} rejected"
        )
        for error in report.errors[:20]:
            print(f"  {error}", file=sys.stderr)
        if len(report.errors) > 20:
            print(f"  … and {report.rejected - 20} more", file=sys.stderr)
    return 1 if report.rejected else 0


def _token(ctx: Context, args: argparse.Namespace) -> int:
    print(collector_token(ctx.workspace(), rotate=args.rotate))
    return 0


def _collect(ctx: Context, args: argparse.Namespace) -> int:
    token = collector_token(ctx.workspace())
    ctx.close()  # the collector opens its own connection
    collector = Collector(
        ctx.workspace_target,
        host=args.host,
        port=args.port,
        token=token,
        allowed_hosts=args.allow_host,
    )
    if not is_loopback_host(args.host):
        print(CLEAR_TEXT_WARNING.format(host=args.host), file=sys.stderr, flush=True)
    print(f"Collecting events on http://{args.host}:{args.port}/events", flush=True)
    print(f"Authorization: Bearer {token}", flush=True)
    print("Press Ctrl+C to stop.", flush=True)
    try:
        asyncio.run(collector.serve())
    except KeyboardInterrupt:
        pass
    return 0
