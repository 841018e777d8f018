""" "Test connection" (core.store.pg_probe) against a real PostgreSQL server: every answer
the app's connection form shows, and never the password in one."""

from __future__ import annotations

import socket

from pushdeck.core.store import Workspace
from pushdeck.core.store.pg_probe import Outcome, probe
from tests.pg_fixtures import PgServer, postgres_uri


def _password(uri: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(uri)["password"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_empty_database_is_not_a_workspace_yet_and_nothing_is_created(pg_database: str):
    answer = probe(pg_database)
    assert answer.outcome is Outcome.EMPTY
    assert "not a Pushdeck workspace yet" in answer.message
    assert probe(pg_database).outcome is Outcome.EMPTY  # the probe created nothing


def test_a_workspace_is_ready_with_its_schema_version(pg_database: str):
    Workspace.open(pg_database).close()
    answer = probe(pg_database)
    assert answer.ok and answer.outcome is Outcome.READY
    from pushdeck.core.store.schema import SCHEMA_VERSION

    assert answer.schema_version == SCHEMA_VERSION


def test_a_wrong_password_is_refused_in_plain_words_without_showing_it(
    pg_server: PgServer, pg_database: str
):
    from urllib.parse import urlsplit

    name = urlsplit(pg_database).path.lstrip("/")
    wrong = "not-the-Secret-42"
    answer = probe(pg_server.user_uri(name, password=wrong))
    assert answer.outcome is Outcome.PASSWORD
    assert "refused the password" in answer.message
    assert wrong not in answer.message and pg_server.password not in answer.message


def test_a_missing_database_is_named_as_such(pg_server: PgServer):
    answer = probe(pg_server.user_uri("pushdeck_test_no_such_db"))
    assert answer.outcome is Outcome.NO_DATABASE
    assert "no database of that name" in answer.message


def test_no_server_is_unreachable(pg_server: PgServer, tmp_path):
    # Nothing listens on that TCP port; and a socket folder with no server in it.
    tcp = f"postgresql://u:pw-Secret@127.0.0.1:{_free_port()}/x"
    answer = probe(tcp, timeout=3)
    assert answer.outcome is Outcome.UNREACHABLE, answer
    assert "pw-Secret" not in answer.message
    empty = postgres_uri(user="u", password="pw", host=str(tmp_path), dbname="x")
    assert probe(empty, timeout=3).outcome is Outcome.UNREACHABLE


def test_a_newer_schema_is_refused_before_opening(pg_database: str):
    with Workspace.open(pg_database) as ws, ws.transaction() as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    answer = probe(pg_database)
    assert answer.outcome is Outcome.NEWER
    assert "newer Pushdeck" in answer.message and "999" in answer.message


def test_another_programs_database_is_not_mixed_into(pg_server: PgServer, pg_database: str):
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute("CREATE TABLE invoices (id int)")
    answer = probe(pg_database)
    assert answer.outcome is Outcome.FOREIGN
