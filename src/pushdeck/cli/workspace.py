"""``pushdeck workspace copy SRC DST``: a SQLite workspace into PostgreSQL, and back."""

from __future__ import annotations

import argparse
import sys

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import WorkspaceError
from pushdeck.core.common.workspace_location import PostgresLocation, parse_workspace_location
from pushdeck.core.store import Workspace
from pushdeck.core.store.copy import copy_workspace


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("workspace", help="copy a workspace between file and server")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    copy = verbs.add_parser(
        "copy",
        help="copy every row of SRC into DST (a .pushdeck file or a postgresql:// URI)",
        description="Copy a workspace: a .pushdeck file into a PostgreSQL database to share "
        "it with a team, or a database back into a file. The target must be empty (or "
        "--force). Secrets are not copied: they stay in each machine's keyring.",
    )
    copy.add_argument("source", metavar="SRC", help="the workspace to copy (file or URI)")
    copy.add_argument("target", metavar="DST", help="a new file, or an empty database's URI")
    copy.add_argument("--force", action="store_true", help="replace everything in a non-empty DST")
    copy.set_defaults(handler=_copy)


def _open(value: str, *, create: bool, given_as: str) -> Workspace:
    location = parse_workspace_location(value, given_as=given_as)
    if isinstance(location, PostgresLocation):
        return Workspace.open(location.uri, create=create)
    return Workspace.open(location.path, create=create)


def _copy(ctx: Context, args: argparse.Namespace) -> int:
    source = _open(args.source, create=False, given_as="SRC")
    try:
        target = _open(args.target, create=True, given_as="DST")
        try:
            last: dict[str, int] = {}

            def progress(table: str, done: int, total: int) -> None:
                # A line per table when it starts and ends, and every 50,000 rows between.
                if done in (0, total) or done - last.get(table, 0) >= 50_000:
                    last[table] = done
                    if done == 0 and total:
                        return
                    print(f"  {table}: {done:,} / {total:,} rows", file=sys.stderr, flush=True)

            print(f"Copying {source.location} into {target.location}…", file=sys.stderr)
            report = copy_workspace(source, target, force=args.force, progress=progress)
        finally:
            target.close()
    finally:
        source.close()
    print(f"Copied {source.location} into {target.location}.")
    print("Verified, table by table (rows, SHA-256 of the rows in key order):")
    for check in report.tables:
        verdict = "same" if check.same else "DIFFERENT"
        print(
            f"  {check.table:<16} {check.source_rows:>10,} → {check.target_rows:>10,} rows  "
            f"{check.target_sha256[:12]}  {verdict}"
        )
    print(
        f"{report.credentials} credential(s) copied as keyring references: the secrets "
        "themselves stay in this machine's keyring. On another machine, set them again "
        "(pushdeck credentials …) or the app asks for them."
    )
    if not report.identical:
        raise WorkspaceError(
            "The copy differs from the source (see the tables marked DIFFERENT above).",
            hint="Run the copy again with --force; if it differs again, please report it.",
        )
    return 0
