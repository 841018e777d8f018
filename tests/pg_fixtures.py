"""PostgreSQL for the tests: a throwaway server and a fresh database per test.

``pg_server`` (session): the server ``scripts/test`` started (its ``PUSHDECK_TEST_PG_*``
variables), or, when pytest runs on its own, one this session starts with the same script
(``scripts/pg_throwaway``) and stops at the end; a watchdog stops it too if pytest is killed.
Never skipped and no Docker: ``scripts/setup`` installs PostgreSQL's server programs.

``pg_database`` (function): a new database with a unique name, owned by the password role
(not a superuser, as a team's database would be), as its URI:
``postgresql://pushdeck_user:PASSWORD@/NAME?host=SOCKET_DIR``. Dropped when the test ends,
even when it failed or left connections open.

Loaded by tests/conftest.py for every test directory.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pg_throwaway"
ENV_DIR = "PUSHDECK_TEST_PG_DIR"
ENV_ADMIN_DSN = "PUSHDECK_TEST_PG_ADMIN_DSN"
ENV_USER_DSN = "PUSHDECK_TEST_PG_USER_DSN"
#: Every database pg_database makes starts with this (a leftover is easy to recognise).
DATABASE_PREFIX = "pushdeck_test_"


def postgres_uri(*, user: str, password: str | None, host: str, dbname: str) -> str:
    """A libpq URI for a server reached through the Unix socket in the folder ``host``."""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password is not None else "")
    return f"postgresql://{auth}@/{quote(dbname, safe='')}?host={quote(host, safe='/')}"


@dataclass(frozen=True)
class PgServer:
    """The test server: a superuser without a password, and a role with one (scram)."""

    admin_dsn: str  # superuser, trusted over the socket; database "postgres"
    user_dsn: str  # the password role (CREATEDB, not superuser); database "postgres"
    directory: Path | None  # the cluster's folder, when the throwaway script made it

    @property
    def socket_dir(self) -> str:
        return str(conninfo_to_dict(self.admin_dsn)["host"])

    @property
    def user(self) -> str:
        return str(conninfo_to_dict(self.user_dsn)["user"])

    @property
    def password(self) -> str:
        return str(conninfo_to_dict(self.user_dsn)["password"])

    def admin_uri(self, dbname: str) -> str:
        admin = str(conninfo_to_dict(self.admin_dsn)["user"])
        return postgres_uri(user=admin, password=None, host=self.socket_dir, dbname=dbname)

    def user_uri(self, dbname: str, *, password: str | None = None) -> str:
        """The password role's URI for ``dbname`` (``password`` to try another one)."""
        return postgres_uri(
            user=self.user,
            password=self.password if password is None else password,
            host=self.socket_dir,
            dbname=dbname,
        )

    def connect_admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.admin_dsn, autocommit=True)


def _server_from_env(environ: Mapping[str, str]) -> PgServer | None:
    admin = environ.get(ENV_ADMIN_DSN)
    if not admin:
        return None
    user = environ.get(ENV_USER_DSN)
    if not user:
        raise RuntimeError(f"{ENV_ADMIN_DSN} is set without {ENV_USER_DSN} (scripts/pg_throwaway)")
    directory = environ.get(ENV_DIR)
    return PgServer(admin, user, Path(directory) if directory else None)


def start_throwaway_server() -> PgServer:
    """Start a cluster with scripts/pg_throwaway, stopped by its watchdog if we die."""
    done = subprocess.run(
        [str(SCRIPT), "start", "--owner", str(os.getpid())],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"scripts/pg_throwaway could not start PostgreSQL (exit {done.returncode}):\n"
            f"{done.stderr.strip()}\n(scripts/setup installs the server's programs)"
        )
    values: dict[str, str] = {}
    for line in done.stdout.splitlines():
        words = shlex.split(line)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            values[name] = value
    server = _server_from_env(values)
    if server is None:
        raise RuntimeError(f"scripts/pg_throwaway printed no {ENV_ADMIN_DSN}: {done.stdout!r}")
    return server


def stop_throwaway_server(server: PgServer) -> None:
    if server.directory is not None:
        subprocess.run([str(SCRIPT), "stop", str(server.directory)], check=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The PostgreSQL server for this run (see the module's docstring)."""
    shared = _server_from_env(os.environ)
    if shared is not None:
        yield shared  # scripts/test's: it stops it
        return
    server = start_throwaway_server()
    try:
        yield server
    finally:
        stop_throwaway_server(server)


@pytest.fixture
def pg_database(pg_server: PgServer) -> Iterator[str]:
    """A fresh database for one test, as the password role's URI; dropped afterwards."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"
    with pg_server.connect_admin() as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(pg_server.user)
            )
        )
    try:
        yield pg_server.user_uri(name)
    finally:
        # FORCE: a connection the test left open (or a failed test's) must not keep it alive.
        with pg_server.connect_admin() as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
