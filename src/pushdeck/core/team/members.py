"""Adding, listing, re-roling and removing members (admins and the owner only)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from pushdeck.core.common.errors import ConfigError, PermissionDeniedError
from pushdeck.core.store import members as store
from pushdeck.core.store.workspace import Workspace
from pushdeck.core.team.roles import ADMINS, Role, check_member_name, parse_role


@dataclass(frozen=True)
class Member:
    name: str
    role: str  # 'owner' or a Role's value
    can_login: bool


def list_members(ws: Workspace) -> list[Member]:
    return [Member(r["name"], r["role"], bool(r["can_login"])) for r in store.rows(ws)]


def _require_admin(ws: Workspace) -> None:
    role = store.my_role(ws)
    if role not in ADMINS:
        raise PermissionDeniedError("manage members", role=role)


def password_from_env(variable: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise ConfigError(
            f"The environment variable {variable} holds no password.",
            hint=f"Set it first (e.g. read -s {variable}; export {variable}).",
        )
    return value


def add_member(ws: Workspace, name: str, role: Role | str, password: str | None) -> None:
    """Create login ``name`` (with ``password``; None for an existing login of this
    server) and grant it ``role``. The first member sets the team's roles up."""
    level = parse_role(str(role))
    check_member_name(name)
    _require_admin(ws)
    if store.team_prefix(ws) is None:
        store.setup(ws)  # owner-only; refused in plain words without CREATEROLE
    verifier = store.scram_verifier(ws, name, password) if password else ""
    store.add(ws, name, level.value, verifier)


def set_member_role(ws: Workspace, name: str, role: Role | str) -> None:
    level = parse_role(str(role))
    check_member_name(name)
    _require_admin(ws)
    store.set_role(ws, name, level.value)


def remove_member(ws: Workspace, name: str) -> bool:
    """True when the login was dropped too (it was in no other workspace)."""
    check_member_name(name)
    _require_admin(ws)
    return store.remove(ws, name)


def my_role(ws: Workspace) -> str:
    return store.my_role(ws)


def login(ws: Workspace) -> str:
    """The login this workspace is open as ('' for a workspace file)."""
    return store.login(ws)


__all__ = [
    "Member", "Role", "add_member", "list_members", "login", "my_role", "password_from_env",
    "remove_member", "set_member_role",
]  # fmt: skip
