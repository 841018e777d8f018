"""The ``pushdeck`` command: the app's verbs for scripts and cron.

Each verb group lives in its own module exposing ``register(subparsers)``; a
command's handler takes ``(ctx, args)`` and returns an exit code. Errors from the
core print as one clear message on stderr (a traceback only with ``--debug``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pushdeck import __version__
from pushdeck.cli.context import Context
from pushdeck.core.common.errors import (
    PermissionDeniedError,
    PushdeckError,
    WorkspaceError,
    is_disk_full,
)
from pushdeck.core.common.workspace_location import WorkspaceLocationError

#: Verb-group modules under pushdeck.cli, in --help order.
COMMAND_MODULES = (
    "apps",
    "credentials",
    "devices",
    "segments",
    "push",
    "campaigns",
    "worker",
    "workers",
    "members",
    "audit",
    "events",
    "report",
    "demo",
    "workspace",
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``command`` naming a verb group) only that group's
    commands: a command run from a script or cron then imports its own module alone,
    not every other group's (e.g. ``campaigns send`` starts ~50 ms sooner)."""
    parser = argparse.ArgumentParser(
        prog="pushdeck",
        description="Compose, preview, send and measure push notifications. "
        "With no command, opens the desktop app.",
    )
    parser.add_argument("--version", action="version", version=f"pushdeck {__version__}")
    parser.add_argument(
        "--workspace",
        metavar="PATH",
        help="workspace file (default: $PUSHDECK_WORKSPACE or the user data directory)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = (command,) if command is not None and command in COMMAND_MODULES else COMMAND_MODULES
    for name in names:
        try:
            module = importlib.import_module(f"pushdeck.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pushdeck.cli.{name}":
                raise
            continue  # a verb group not built yet
        module.register(subparsers)
    _accept_global_options_after_commands(subparsers)
    return parser


def _accept_global_options_after_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """Let ``--workspace`` and ``--debug`` follow the command too (``pushdeck devices list
    --workspace w.pushdeck``), on every command and verb.

    The copies default to SUPPRESS, so a value given before the command is kept when none
    is given after it; one given after wins.
    """
    for parser in {id(p): p for p in subparsers.choices.values()}.values():
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_global_options_after_commands(action)
        options = {s for a in parser._actions for s in a.option_strings}
        if "--workspace" not in options:
            parser.add_argument(
                "--workspace", metavar="PATH", default=argparse.SUPPRESS,
                help="workspace file (may also come before the command)",
            )  # fmt: skip
        if "--debug" not in options:
            parser.add_argument(
                "--debug", action="store_true", default=argparse.SUPPRESS,
                help="show tracebacks on errors",
            )  # fmt: skip


def _command_word(argv: Sequence[str]) -> str | None:
    """The verb group ``argv`` names when only global options come before it, else None
    (then the whole parser is built, so top-level help and errors list every command)."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word == "--workspace":
            skip = True
        elif word == "--debug" or word.startswith("--workspace="):
            continue
        elif word.startswith("-"):
            return None
        else:
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_word(args_list))
    args = parser.parse_args(args_list)
    if args.self_test:  # the packaging smoke test (src/pushdeck/selftest.py)
        from pushdeck.selftest import main as self_test

        return self_test()
    try:
        ctx = Context(args.workspace, debug=args.debug)
    except WorkspaceLocationError as exc:  # e.g. ftp://… (not a workspace location)
        if args.debug:
            raise
        print(f"pushdeck: {exc}", file=sys.stderr)
        if args.command is None:  # the app says it too: it may have no terminal
            return _open_app(None, args_list, workspace_error=exc)
        return EXIT_USAGE
    try:
        if args.command is None:
            return _open_app(ctx, args_list)
        code: int = args.handler(ctx, args)
        return code
    except PushdeckError as exc:
        if args.debug:
            raise
        print(f"pushdeck: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("pushdeck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. '| head'): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # one message, never a traceback without --debug
        if args.debug:
            raise
        print(f"pushdeck: {_unexpected(exc, ctx)}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        ctx.close()


def _unexpected(exc: Exception, ctx: Context) -> PushdeckError:
    """What to say about an error no command turned into a message of its own."""
    if is_disk_full(exc):
        where = getattr(exc, "filename", None) or ctx.location.redacted()
        return WorkspaceError(
            f"The disk holding {where} is full; the command stopped and its last change "
            "was not saved.",
            hint="Free some space on that disk and run it again.",
        )
    if getattr(exc, "sqlstate", None) == "42501":  # a shared workspace refused (raw paths)
        primary = getattr(getattr(exc, "diag", None), "message_primary", None) or str(exc)
        return PermissionDeniedError(
            "do this",
            custom=f"The shared workspace refused: {primary}. Your role may not do this; "
            "ask an admin.",
        )
    if getattr(exc, "sqlstate", None):  # a shared workspace's server refused (disk full …)
        from pushdeck.core.store.db_errors import explain

        return WorkspaceError(
            f"The shared workspace's database refused: {explain(exc)}.",
            hint="The failing statement was rolled back; run the command again once the "
            "server is fixed.",
        )
    detail = str(exc) or "no details"
    return PushdeckError(
        f"Unexpected error: {type(exc).__name__}: {detail}",
        hint="Run the command again with --debug for the details, and please report it.",
    )


def _open_app(
    ctx: Context | None, argv: list[str], workspace_error: PushdeckError | None = None
) -> int:
    try:
        from pushdeck.app.main import run_app
    except ImportError as exc:  # the app is optional for headless installs
        print(f"pushdeck: the desktop app cannot start ({exc}).", file=sys.stderr)
        return EXIT_ERROR
    # A file, or a postgresql:// URI: the app opens shared workspaces too (the password
    # stays in memory; the app remembers the URI without it).
    workspace = ctx.workspace_target if ctx is not None and ctx.workspace_given else None
    code: int = run_app(workspace, argv, workspace_error=workspace_error)
    return code
