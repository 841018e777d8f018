"""A team on a throwaway PostgreSQL: a workspace owner of its own, members, cleanup.

Roles are server-wide, so each test gets an owner login with a unique name (and
CREATEROLE, as the docs ask of a team's owner), its own database, and every role it
made (members, the team's four groups, the owner) dropped afterwards.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.pg_fixtures import PgServer, postgres_uri

ROOT = Path(__file__).parents[2]
PSQL_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))


@dataclass
class Team:
    server: PgServer
    dbname: str
    owner: str
    owner_password: str
    suffix: str
    passwords: dict[str, str] = field(default_factory=dict)

    def uri(self, user: str | None = None) -> str:
        user = user or self.owner
        password = self.owner_password if user == self.owner else self.passwords[user]
        return postgres_uri(
            user=user, password=password, host=self.server.socket_dir, dbname=self.dbname
        )

    def name(self, base: str) -> str:
        """A member name unique to this test (roles are server-wide)."""
        return f"{base}_{self.suffix}"

    def password(self, member: str) -> str:
        return self.passwords.setdefault(member, secrets.token_hex(12))


def make_team(server: PgServer, *, createrole: bool = True) -> Team:
    suffix = uuid.uuid4().hex[:10]
    owner, password = f"owner_{suffix}", secrets.token_hex(12)
    dbname = f"pushdeck_test_team_{suffix}"
    with server.connect_admin() as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                sql.Identifier(owner),
                sql.SQL("CREATEROLE" if createrole else "NOCREATEROLE"),
                sql.Literal(password),
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(dbname), sql.Identifier(owner)
            )
        )
    return Team(server, dbname, owner, password, suffix)


def drop_team(team: Team) -> None:
    prefix = None
    with psycopg.connect(team.server.admin_uri(team.dbname), autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('meta')").fetchone() != (None,):
            row = conn.execute("SELECT value FROM meta WHERE key = 'team.role_prefix'").fetchone()
            prefix = row[0] if row else None
    with team.server.connect_admin() as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(team.dbname))
        )
        names = [
            r[0]
            for r in admin.execute(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname LIKE %s",
                (f"%\\_{team.suffix}", f"{prefix}\\_%" if prefix else "-"),
            )
        ]
        for name in [*sorted(names, key=lambda n: n == team.owner), team.owner]:
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def team(pg_server: PgServer) -> Iterator[Team]:
    made = make_team(pg_server)
    try:
        yield made
    finally:
        drop_team(made)


def psql(team: Team, user: str, statement: str) -> subprocess.CompletedProcess[str]:
    """``statement`` run by the real psql as ``user`` (a member with a terminal would)."""
    assert PSQL_DIRS, "psql not found under /usr/lib/postgresql/*/bin"
    return subprocess.run(
        [str(PSQL_DIRS[-1]), "-X", "-v", "ON_ERROR_STOP=1", "-At", "-d", team.uri(user),
         "-c", statement],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def cli(
    workspace: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", workspace, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})},
    )
