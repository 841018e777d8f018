"""Team members on a shared (PostgreSQL) workspace: logins granted one group role.

Every change goes through the owner's SECURITY DEFINER functions
(store/team_schema_pg.py), which check the caller's role themselves: a member with psql
can do no more than here. The password never reaches SQL: libpq computes the
SCRAM-SHA-256 verifier on this machine (``scram_verifier``) and only that is sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pushdeck.core.common.errors import ConfigError, WorkspaceError
from pushdeck.core.store.team_schema_pg import LEVELS
from pushdeck.core.store.workspace import Row, Workspace

if TYPE_CHECKING:
    from pushdeck.core.store.pg import PgConnection

#: SQLSTATEs the team's functions raise for a wrong request (not a refused right).
_REQUEST_ERRORS = {
    "22023": "",  # invalid parameter: a bad name or role
    "42710": "",  # duplicate: already a member
    "42704": "",  # undefined: not a member
}


def _pg(ws: Workspace) -> PgConnection:
    if ws.dialect.is_sqlite:
        raise WorkspaceError(
            f"{ws.location} is a workspace file: members and roles need a shared workspace.",
            hint="Team roles are a PostgreSQL feature (--workspace postgresql://…); a file "
            "has one local user with every right.",
        )
    pg: PgConnection = ws.conn
    return pg


@contextmanager
def _request_errors() -> Iterator[None]:
    """The team functions' refusals of a request as ConfigError (their text is a sentence)."""
    import psycopg  # here: a workspace file's commands never load the driver

    try:
        yield
    except psycopg.Error as exc:
        if exc.sqlstate in _REQUEST_ERRORS:
            raise ConfigError(
                exc.diag.message_primary or str(exc), hint=exc.diag.message_hint or ""
            ) from exc
        raise


def team_prefix(ws: Workspace) -> str | None:
    """The group roles' prefix (``pd_…``), or None before the first ``members add``."""
    if ws.dialect.is_sqlite:
        return None
    value = ws.scalar("SELECT value FROM meta WHERE key = 'team.role_prefix'")
    return str(value) if value is not None else None


def my_role(ws: Workspace) -> str:
    """This login's role: 'owner' (a workspace file's one user too), 'admin', 'sender',
    'editor', 'viewer', or '' (not a member)."""
    if ws.dialect.is_sqlite:
        return "owner"
    return str(ws.scalar("SELECT pushdeck_team_role()"))


def login(ws: Workspace) -> str:
    """The login this workspace is open as (the audit log's 'who')."""
    if ws.dialect.is_sqlite:
        return ""
    return str(ws.scalar("SELECT session_user"))


def login_exists(ws: Workspace, name: str) -> bool:
    """Whether the server has a login (role) ``name`` already (another workspace's)."""
    _pg(ws)
    return ws.scalar("SELECT 1 FROM pg_roles WHERE rolname = ?", (name,)) is not None


def setup(ws: Workspace) -> str:
    """Create the group roles (once, by the owner, who needs CREATEROLE); their prefix."""
    _pg(ws)
    return str(ws.scalar("SELECT pushdeck_team_setup()"))


def scram_verifier(ws: Workspace, name: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of ``password`` for login ``name``, computed here."""
    raw = _pg(ws).raw.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    return raw.decode()


def add(ws: Workspace, name: str, level: str, verifier: str) -> None:
    _pg(ws)
    with _request_errors():
        ws.scalar("SELECT pushdeck_member_add(?, ?, ?)", (name, level, verifier))


def set_role(ws: Workspace, name: str, level: str) -> None:
    _pg(ws)
    with _request_errors():
        ws.scalar("SELECT pushdeck_member_set_role(?, ?)", (name, level))


def remove(ws: Workspace, name: str) -> bool:
    """Take ``name`` out of the workspace; True when its login was dropped too."""
    _pg(ws)
    with _request_errors():
        return bool(ws.scalar("SELECT pushdeck_member_remove(?)", (name,)))


def rows(ws: Workspace) -> list[Row]:
    """(name, role, can_login) of the owner and every member, by name."""
    _pg(ws)
    prefix = team_prefix(ws)
    owner = ws.query(
        "SELECT r.rolname AS name, 'owner' AS role, r.rolcanlogin AS can_login"
        " FROM pg_roles r WHERE r.rolname = pushdeck_team_owner()"
    )
    if prefix is None:
        return owner
    groups = [f"{prefix}_{level}" for level in LEVELS]
    members = ws.query(
        "SELECT m.rolname AS name, substr(g.rolname, length(?) + 2) AS role,"
        " m.rolcanlogin AS can_login"
        " FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid"
        " JOIN pg_roles m ON m.oid = a.member"
        " WHERE g.rolname IN (?, ?, ?, ?) AND m.rolname NOT IN (?, ?, ?, ?)"
        " ORDER BY m.rolname",
        (prefix, *groups, *groups),
    )
    return [*owner, *members]
