"""``pushdeck audit``: who did what, when, on a shared (PostgreSQL) workspace."""

from __future__ import annotations

import argparse

from pushdeck.cli.context import Context


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="the audit log (shared workspace)")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    lst = verbs.add_parser("list", help="entries, oldest first")
    lst.add_argument(
        "--since", metavar="D", help="from a date (2026-12-01), a UTC time, or an age (12h, 7d)"
    )
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.team.audit import list_audit, parse_since

    since = parse_since(args.since) if args.since else None
    ws = ctx.workspace(create=False)
    entries = list_audit(ws, since=since)
    if args.json:
        ctx.print_json([e.as_dict() for e in entries])
        return 0
    if not entries and ws.dialect.is_sqlite:
        print(
            "No audit log: a workspace file has one local user (the log is a team feature "
            "of shared PostgreSQL workspaces)."
        )
        return 0
    ctx.table(
        [[e.at, e.who, e.action, e.object_kind, e.object_name, e.summary] for e in entries],
        ["when (UTC)", "who", "action", "kind", "object", "details"],
    )
    return 0
