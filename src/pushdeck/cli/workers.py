"""``pushdeck workers list``: the workers of a shared workspace and their liveness."""

from __future__ import annotations

import argparse

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("workers", help="the workers of a shared workspace")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    lst = verbs.add_parser("list", help="running workers (and stopped ones with --all)")
    lst.add_argument("--all", action="store_true", help="also workers that stopped")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.store import workers

    ws = ctx.workspace()
    if not ws.dialect.is_postgres:
        raise ConfigError(f"{ws.location} is a workspace file: it has no workers.")
    rows = workers.listing(ws, include_stopped=args.all)
    data = [
        {
            "id": r["id"],
            "name": r["name"],
            "host": r["host"],
            "pid": r["pid"],
            "kind": r["kind"],
            "started_at": r["started_at"],
            "stopped_at": r["stopped_at"],
            "scheduler": bool(r["scheduler"]),
            "sent": r["sent"],
            "silent_for": round(float(r["silent_for"]), 1),
            "alive": r["stopped_at"] is None and float(r["silent_for"]) <= r["lease_seconds"],
        }
        for r in rows
    ]
    if args.json:
        ctx.print_json(data)
        return 0
    ctx.table(
        [
            [
                d["id"],
                d["name"],
                d["host"],
                d["pid"],
                d["kind"],
                "yes" if d["scheduler"] else "",
                d["sent"],
                f"{d['silent_for']} s",
                "stopped" if d["stopped_at"] else ("alive" if d["alive"] else "silent"),
            ]
            for d in data
        ],
        ["id", "name", "host", "pid", "kind", "scheduler", "sent", "heartbeat", "state"],
    )
    return 0
