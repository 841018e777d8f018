"""``pushdeck demo``: create the ready-made demo workspace."""

from __future__ import annotations

import argparse
from pathlib import Path

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.paths import demo_workspace_path
from pushdeck.core.demo.workspace import create_demo


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="create a demo workspace (sandbox app, devices, segments, a sent campaign)"
    )
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="where to create it (default: --workspace, else the data directory)",
    )
    parser.add_argument("--devices", type=int, default=3000)
    parser.add_argument("--force", action="store_true", help="replace an existing demo file")
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when the demo workspace already exists",
    )
    parser.set_defaults(handler=_demo)


def _demo(ctx: Context, args: argparse.Namespace) -> int:
    path = args.path or (ctx.workspace_path if ctx.workspace_given else demo_workspace_path())
    if path.exists():
        if args.if_missing:
            print(path)
            return 0
        if not args.force:
            raise ConfigError(
                f"{path} already exists.",
                hint="Pass --force to replace it, or choose another path.",
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    create_demo(path, devices=args.devices)
    print(path)
    return 0
