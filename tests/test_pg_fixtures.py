"""The PostgreSQL test fixtures (tests/pg_fixtures.py) and the server they stand on
(scripts/pg_throwaway), checked with real connections and real pytest processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.pg_fixtures import ENV_ADMIN_DSN, ENV_DIR, ENV_USER_DSN, PgServer

REPO = Path(__file__).resolve().parents[1]


def _no_password_from_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq would take a password from PGPASSWORD or ~/.pgpass: only the URI's counts."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)


def test_two_connections_see_each_others_committed_rows(pg_database: str) -> None:
    with psycopg.connect(pg_database) as first, psycopg.connect(pg_database) as second:
        first.execute("CREATE TABLE devices (token text PRIMARY KEY, app text NOT NULL)")
        first.execute("INSERT INTO devices VALUES ('t1', 'shop')")
        # Not committed yet: the table itself is invisible to the other connection.
        assert second.execute("SELECT to_regclass('devices')").fetchone() == (None,)
        second.rollback()
        first.commit()

        assert second.execute("SELECT token, app FROM devices").fetchall() == [("t1", "shop")]
        second.execute("INSERT INTO devices VALUES ('t2', 'shop')")
        second.commit()

        rows = first.execute("SELECT token FROM devices ORDER BY token").fetchall()
        assert rows == [("t1",), ("t2",)]
        first.commit()


def test_the_database_belongs_to_the_password_role(pg_server: PgServer, pg_database: str) -> None:
    with psycopg.connect(pg_database) as conn:
        user, owner, superuser = conn.execute(
            "SELECT current_user, pg_get_userbyid(datdba), current_setting('is_superuser')"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone() or (None, None, None)
    assert user == owner == pg_server.user
    assert superuser == "off"


def test_the_password_role_connects_with_a_uri_and_a_wrong_password_fails(
    pg_server: PgServer, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_password_from_elsewhere(monkeypatch)
    dbname = conninfo_to_dict(pg_database)["dbname"]
    assert pg_database.startswith(f"postgresql://{pg_server.user}:")
    with psycopg.connect(pg_database) as conn:
        row = conn.execute("SELECT current_user, current_database()").fetchone()
    assert row == (pg_server.user, dbname)

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_server.user_uri(str(dbname), password="not-the-password"))
    without = f"postgresql://{pg_server.user}@/{dbname}?host={pg_server.socket_dir}"
    with pytest.raises(psycopg.OperationalError, match="no password supplied"):
        psycopg.connect(without)

    # The role's password is stored as a SCRAM verifier, and pg_hba asks for scram-sha-256.
    with pg_server.connect_admin() as admin:
        stored = admin.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (pg_server.user,)
        ).fetchone()
        methods = admin.execute(
            "SELECT user_name, auth_method FROM pg_hba_file_rules ORDER BY line_number"
        ).fetchall()
    assert stored is not None and str(stored[0]).startswith("SCRAM-SHA-256$")
    assert methods[-1] == (["all"], "scram-sha-256")


def test_the_server_is_socket_only_and_skips_durability(pg_server: PgServer) -> None:
    with pg_server.connect_admin() as admin:
        settings = dict(
            admin.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses',"
                " 'fsync', 'synchronous_commit', 'full_page_writes', 'unix_socket_directories')"
            ).fetchall()
        )
        superuser = admin.execute("SELECT current_setting('is_superuser')").fetchone()
    assert settings == {
        "listen_addresses": "",
        "fsync": "off",
        "synchronous_commit": "off",
        "full_page_writes": "off",
        "unix_socket_directories": pg_server.socket_dir,
    }
    assert superuser == ("on",)
    assert Path(pg_server.socket_dir, ".s.PGSQL.5432").is_socket()


# ------------------------------------------------------------- a pytest run of its own

INNER_TESTS = """
import os
import time
from pathlib import Path

import psycopg

HERE = Path(__file__).parent


def _note(pg_server, pg_database=None):
    if pg_database is not None:
        with (HERE / "names.txt").open("a") as out:
            out.write(psycopg.conninfo.conninfo_to_dict(pg_database)["dbname"] + "\\n")
    (HERE / "cluster.tmp").write_text(str(pg_server.directory))
    (HERE / "cluster.tmp").replace(HERE / "cluster.txt")


def test_passes(pg_server, pg_database):
    _note(pg_server, pg_database)
    psycopg.connect(pg_database).execute("CREATE TABLE t (x int)")


def test_fails_with_a_connection_left_open(pg_server, pg_database):
    _note(pg_server, pg_database)
    leaked = psycopg.connect(pg_database)
    leaked.execute("CREATE TABLE t (x int)")
    assert False, "this test fails on purpose"


def test_waits_to_be_killed(pg_server):
    if os.environ.get("INNER_WAIT"):
        _note(pg_server)
        time.sleep(120)
"""


def _inner_pytest(
    folder: Path, env: dict[str, str], *extra: str, wait: bool = False
) -> subprocess.Popen[str]:
    (folder / "test_inner.py").write_text(textwrap.dedent(INNER_TESTS))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.pg_fixtures"]
    command += ["-p", "no:cacheprovider", "-p", "no:pytest-qt", "-p", "no:asyncio"]
    env = {**env, "PYTHONPATH": str(REPO)}
    if wait:
        env["INNER_WAIT"] = "1"
    return subprocess.Popen(
        [*command, *extra, "test_inner.py"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _without_pg_variables() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (ENV_DIR, ENV_ADMIN_DSN, ENV_USER_DSN)}


def test_databases_are_dropped_after_each_test_even_a_failed_one(
    pg_server: PgServer, tmp_path: Path
) -> None:
    env = {
        **_without_pg_variables(),
        ENV_ADMIN_DSN: pg_server.admin_dsn,
        ENV_USER_DSN: pg_server.user_dsn,
    }
    inner = _inner_pytest(tmp_path, env)
    output, _ = inner.communicate(timeout=120)
    assert inner.returncode == 1, output
    assert "1 failed, 2 passed" in output, output

    names = (tmp_path / "names.txt").read_text().split()
    assert len(set(names)) == 2, names
    with pg_server.connect_admin() as admin:
        existing = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
    assert existing.isdisjoint(names)


def test_pytest_run_alone_starts_its_own_server_and_removes_it(tmp_path: Path) -> None:
    inner = _inner_pytest(tmp_path, _without_pg_variables(), "-k", "passes")
    output, _ = inner.communicate(timeout=120)
    assert inner.returncode == 0, output
    # Its own cluster (not scripts/test's): made by the script, then stopped and deleted
    # when the session ended.
    cluster = Path((tmp_path / "cluster.txt").read_text())
    assert cluster.name.startswith("pushdeck-pg."), cluster
    assert os.environ.get(ENV_DIR) != str(cluster)
    assert not cluster.exists()


def test_a_killed_pytest_leaves_no_server_behind(tmp_path: Path) -> None:
    inner = _inner_pytest(tmp_path, _without_pg_variables(), "-k", "killed", wait=True)
    marker = tmp_path / "cluster.txt"
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert inner.poll() is None, inner.communicate()[0]
            assert time.monotonic() < deadline, "the inner run never started its server"
            time.sleep(0.1)
        cluster = Path(marker.read_text())
        assert (cluster / "data" / "postmaster.pid").exists()
    finally:
        inner.send_signal(signal.SIGKILL)
        inner.communicate()

    # The script's watchdog notices its owner is gone, stops the server and deletes it.
    deadline = time.monotonic() + 30
    while cluster.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not cluster.exists()
