"""``pushdeck members``: who may do what on a shared (PostgreSQL) workspace.

Each member logs in as their own PostgreSQL role; the rights are enforced by the
database (docs/team.md). Admins and the workspace's owner manage members.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from pushdeck.cli.context import Context
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.team.roles import RIGHTS, Role

_ROLES = [r.value for r in Role]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "members", help="team members and their roles (shared workspace)"
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    roles_help = "; ".join(f"{role}: {text}" for role, text in RIGHTS.items())
    add = verbs.add_parser("add", help="create a member's login and grant a role (admins)")
    add.add_argument("name", help="the member's PostgreSQL login (lower case, digits, _)")
    add.add_argument("--role", required=True, choices=_ROLES, help=roles_help)
    add.add_argument(
        "--password-env",
        metavar="VAR",
        help="read the new login's password from this environment variable (else asked "
        "on the terminal; an existing login of this server keeps its password)",
    )
    add.set_defaults(handler=_add)
    lst = verbs.add_parser("list", help="the owner and every member with their role")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=_list)
    set_role = verbs.add_parser("set-role", help="change a member's role (admins)")
    set_role.add_argument("name")
    set_role.add_argument("role", choices=_ROLES)
    set_role.set_defaults(handler=_set_role)
    remove = verbs.add_parser("remove", help="take a member out of the workspace (admins)")
    remove.add_argument("name")
    remove.set_defaults(handler=_remove)


def _password(args: argparse.Namespace) -> str | None:
    from pushdeck.core.team.members import password_from_env

    if args.password_env:
        return password_from_env(args.password_env)
    if not sys.stdin.isatty():
        raise ConfigError(
            "No password for the new member.",
            hint="Give --password-env VAR (the password in that environment variable).",
        )
    first = getpass.getpass(f"Password for {args.name}: ")
    if not first or first != getpass.getpass("Again: "):
        raise ConfigError("The passwords were empty or did not match; nothing was changed.")
    return first


def _add(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.store.members import login_exists
    from pushdeck.core.team.members import add_member

    ws = ctx.workspace(create=False)
    password = None if login_exists(ws, args.name) else _password(args)
    add_member(ws, args.name, args.role, password)
    print(f"{args.name}: {args.role}")
    return 0


def _list(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.team.members import list_members

    members = list_members(ctx.workspace(create=False))
    if args.json:
        ctx.print_json(
            [{"name": m.name, "role": m.role, "can_login": m.can_login} for m in members]
        )
    else:
        ctx.table([[m.name, m.role] for m in members], ["member", "role"])
    return 0


def _set_role(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.team.members import set_member_role

    set_member_role(ctx.workspace(create=False), args.name, args.role)
    print(f"{args.name}: {args.role}")
    return 0


def _remove(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.team.members import remove_member

    dropped = remove_member(ctx.workspace(create=False), args.name)
    tail = " (login dropped)" if dropped else " (login kept: it is used elsewhere on the server)"
    print(f"{args.name}: removed{tail}")
    return 0
