"""A workspace on PostgreSQL: created once by concurrent clients, refused when it is not
ours or newer, and the same schema as SQLite's (issue 17)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from pushdeck.core.common.errors import WorkspaceError
from pushdeck.core.store import Workspace
from pushdeck.core.store.dialect import LOCK_SPACE, SCHEMA_LOCK, lock_id
from pushdeck.core.store.pg_references import TRIGGERS as REFERENCE_TRIGGERS
from pushdeck.core.store.schema import SCHEMA_VERSION
from pushdeck.core.store.schema_pg import missing_migrations
from pushdeck.core.store.team_schema_pg import TEAM_ONLY_TABLES, TEAM_TRIGGERS
from tests.pg_fixtures import PgServer

ROOT = Path(__file__).parents[2]


def _python(code: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'src'}"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


_OPEN = """
import sys
from pushdeck.core.store import Workspace
with Workspace.open(sys.argv[1]) as ws:
    print(ws.scalar("SELECT value FROM meta WHERE key = 'schema_version'"))
"""


def _waiting_for_schema_lock(uri: str) -> int:
    with psycopg.connect(uri, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND classid = %s AND objid = %s",
            (LOCK_SPACE, lock_id(SCHEMA_LOCK) & 0xFFFFFFFF),
        ).fetchone()
    return int(row[0]) if row else 0


def test_two_clients_opening_a_fresh_database_at_once_create_it_once(pg_database: str) -> None:
    # Hold the schema lock, so both clients arrive while the database is still empty
    # and must queue; then let them go: one creates, the other waits and opens.
    with psycopg.connect(pg_database, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_SPACE, lock_id(SCHEMA_LOCK)))
        clients = [_python(_OPEN, pg_database) for _ in range(2)]
        deadline = time.monotonic() + 30
        while _waiting_for_schema_lock(pg_database) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_for_schema_lock(pg_database) == 2  # both wait, neither created
        holder.execute("COMMIT")
    outputs = [c.communicate(timeout=60) for c in clients]
    for client, (out, err) in zip(clients, outputs, strict=True):
        assert client.returncode == 0, err
        assert out.strip() == str(SCHEMA_VERSION)
    with Workspace.open(pg_database) as ws:
        assert ws.scalar("SELECT count(*) FROM meta WHERE key = 'schema_migrated_at'") == 1


def test_a_newer_schema_is_refused_with_the_versions(pg_database: str) -> None:
    with Workspace.open(pg_database) as ws:
        ws.conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(WorkspaceError) as caught:
        Workspace.open(pg_database)
    assert f"newer Pushdeck (schema 99; this version knows up to {SCHEMA_VERSION})" in str(
        caught.value
    )
    assert "Upgrade Pushdeck" in (caught.value.hint or "")
    assert "pushdeck_user:***@" in str(caught.value)


def test_a_database_of_another_program_is_refused_untouched(pg_database: str) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    with pytest.raises(WorkspaceError, match="tables of another program"):
        Workspace.open(pg_database)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    assert tables == [("orders",)]


def test_open_without_create_refuses_an_empty_database(pg_database: str) -> None:
    with pytest.raises(WorkspaceError, match="No workspace in"):
        Workspace.open(pg_database, create=False)


def test_connection_errors_name_the_uri_never_the_password(
    pg_server: PgServer, pg_database: str
) -> None:
    dbname = pg_database.rsplit("/", 1)[1].split("?", 1)[0]
    wrong = pg_server.user_uri(dbname, password="s3cret-wrong")
    with pytest.raises(WorkspaceError) as caught:
        Workspace.open(wrong)
    text = f"{caught.value} {caught.value.hint}"
    assert "s3cret-wrong" not in text and pg_server.password not in text
    assert "password" in text and dbname in text
    missing = pg_server.user_uri("pushdeck_no_such_db")
    with pytest.raises(WorkspaceError) as caught:
        Workspace.open(missing)
    text = f"{caught.value} {caught.value.hint}"
    assert pg_server.password not in text
    assert "pushdeck_no_such_db" in text and "createdb" in (caught.value.hint or "")


def test_the_postgresql_schema_has_every_table_column_and_index_of_sqlite(
    pg_database: str, tmp_path: Path
) -> None:
    assert missing_migrations() == []
    Workspace.open(tmp_path / "w.pushdeck").close()
    lite = sqlite3.connect(tmp_path / "w.pushdeck")
    tables = [r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    lite_columns = {(t, r[1]) for t in tables for r in lite.execute(f"PRAGMA table_info({t})")}
    lite_indexes = {
        r[0]
        for r in lite.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    lite_triggers = {
        r[0] for r in lite.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    lite.close()
    with Workspace.open(pg_database) as ws:
        pg_columns = {
            (r[0], r[1])
            for r in ws.query(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
        }
        pg_indexes = {
            r[0]
            for r in ws.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
        }
        pg_triggers = {
            r[0] for r in ws.query("SELECT DISTINCT trigger_name FROM information_schema.triggers")
        }
        partial = {
            r[0]
            for r in ws.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND indexdef LIKE '% WHERE %'"
            )
        }
    # The team's own (PostgreSQL-only) table and triggers: roles, approval and audit
    # need logins, which a workspace file has not (store/team_schema_pg.py).
    pg_columns = {c for c in pg_columns if c[0] not in TEAM_ONLY_TABLES}
    pg_triggers -= TEAM_TRIGGERS
    # Two foreign keys are statement triggers on PostgreSQL (store/pg_references.py).
    pg_triggers -= REFERENCE_TRIGGERS
    assert pg_columns == lite_columns
    assert lite_indexes <= pg_indexes  # PostgreSQL also names its primary keys' indexes
    assert partial == {
        "devices_test", "devices_token_kind", "journal_opened", "journal_reasons",
        "events_actions", "conversions_campaign", "journal_claimed",
        "devices_segment_prefix",  # PostgreSQL only: the segment compiler's prefix range
    }  # fmt: skip
    assert pg_triggers == lite_triggers
