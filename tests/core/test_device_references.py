"""A device names an existing app; an app's devices and a device's tags go with it.

SQLite keeps these as foreign keys; PostgreSQL checks them once per statement
(store/pg_references.py). Both must behave alike, and on PostgreSQL also when another
client deletes the app at the same moment (a second connection, as another member).
"""

from __future__ import annotations

import sqlite3
import threading
import time

import psycopg
import pytest

from pushdeck.core.common.errors import PermissionDeniedError
from pushdeck.core.common.model import App
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app, get_app
from pushdeck.core.team.members import add_member
from tests.core.campaign_helpers import add_devices
from tests.core.pg_team import Team, team  # noqa: F401 - the fixture

#: What either backend raises for a broken reference.
DatabaseError = (sqlite3.Error, psycopg.Error)

_DEVICE = (
    "INSERT INTO devices (app_id, platform, provider, token, created_at)"
    " VALUES (?, 'ios', 'apns', ?, '2026-01-01T00:00:00Z')"
)


def _counts(ws: Workspace) -> tuple[int, int]:
    return (
        int(ws.scalar("SELECT count(*) FROM devices")),
        int(ws.scalar("SELECT count(*) FROM device_tags")),
    )


def test_a_device_of_an_app_that_does_not_exist_is_refused(ws: Workspace) -> None:
    app_id = get_app(ws, "shop").id
    with pytest.raises(DatabaseError, match=r"(?i)foreign key"):
        with ws.transaction() as conn:
            conn.execute(_DEVICE, (app_id + 1000, "a" * 64))
    # One bad row refuses the whole statement, the good rows of it too.
    with pytest.raises(DatabaseError, match=r"(?i)foreign key"):
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO devices (app_id, platform, provider, token, created_at)"
                " VALUES (?, 'ios', 'apns', 'b', 'x'), (?, 'ios', 'apns', 'c', 'x')",
                (app_id, app_id + 1000),
            )
    with pytest.raises(DatabaseError, match=r"(?i)foreign key"):
        with ws.transaction() as conn:
            conn.execute(_DEVICE, (app_id, "d" * 64))
            conn.execute("UPDATE devices SET app_id = ? WHERE token = ?", (app_id + 7, "d" * 64))
    assert _counts(ws) == (0, 0)


def test_deleting_an_app_deletes_its_devices_and_their_tags(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"{i:064x}", "tags": ["vip", "beta"]} for i in range(5)])
    ws.conn.execute("INSERT INTO apps (name, created_at) VALUES ('other', '2026-01-01T00:00:00Z')")
    other = get_app(ws, "other").id
    with ws.transaction() as conn:
        conn.execute(_DEVICE, (other, "f" * 64))
    assert _counts(ws) == (6, 10)
    with ws.transaction() as conn:
        conn.execute("DELETE FROM apps WHERE name = 'shop'")
    assert _counts(ws) == (1, 0)
    assert ws.scalar("SELECT token FROM devices") == "f" * 64


def test_deleting_devices_deletes_their_tags_and_nothing_else(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"{i:064x}", "tags": ["vip"]} for i in range(4)])
    with ws.transaction() as conn:
        conn.execute("DELETE FROM devices WHERE token IN (?, ?)", (f"{0:064x}", f"{1:064x}"))
    assert _counts(ws) == (2, 2)
    kept = {
        r[0]
        for r in ws.query("SELECT d.token FROM device_tags t JOIN devices d ON d.id = t.device_id")
    }
    assert kept == {f"{2:064x}", f"{3:064x}"}


def _insert_in_thread(uri: str, app_id: int, outcome: list[object]) -> threading.Thread:
    def insert() -> None:
        try:
            with Workspace.open(uri) as other, other.transaction() as conn:
                conn.execute(_DEVICE, (app_id, "e" * 64))
            outcome.append("inserted")
        except DatabaseError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=insert)
    thread.start()
    return thread


def test_an_app_deleted_by_another_member_meanwhile_leaves_no_orphan(
    pg_database: str,
) -> None:
    """PostgreSQL: member A deletes the app while member B adds a device to it."""
    ws = Workspace.open(pg_database)
    ws.conn.execute("INSERT INTO apps (name, created_at) VALUES ('shop', 'x')")
    app_id = get_app(ws, "shop").id

    # A deletes first (not committed yet): B's insert waits for A, then is refused.
    with psycopg.connect(pg_database) as deleter:
        deleter.execute("DELETE FROM apps WHERE id = %s", (app_id,))
        outcome: list[object] = []
        thread = _insert_in_thread(pg_database, app_id, outcome)
        time.sleep(0.5)
        assert outcome == [], "the insert did not wait for the deleting transaction"
        deleter.commit()
        thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], DatabaseError), outcome
    assert "foreign key" in str(outcome[0])
    assert _counts(ws) == (0, 0)

    # B adds first (not committed yet): A's delete waits, then deletes B's device too.
    ws.conn.execute("INSERT INTO apps (name, created_at) VALUES ('shop', 'x')")
    app_id = get_app(ws, "shop").id
    with psycopg.connect(pg_database) as adder:
        adder.execute(
            "INSERT INTO devices (app_id, platform, provider, token, created_at)"
            " VALUES (%s, 'ios', 'apns', %s, 'x')",
            (app_id, "e" * 64),
        )
        done = threading.Event()

        def delete() -> None:
            with psycopg.connect(pg_database, autocommit=True) as deleter:
                deleter.execute("DELETE FROM apps WHERE id = %s", (app_id,))
            done.set()

        thread = threading.Thread(target=delete)
        thread.start()
        assert not done.wait(0.5), "the delete did not wait for the adding transaction"
        adder.commit()
        thread.join(30)
    assert done.is_set()
    assert _counts(ws) == (0, 0), "a device outlived its app"
    ws.close()


def test_an_editor_adds_devices_without_any_right_to_change_apps(team: Team) -> None:  # noqa: F811
    """The app check locks the app row as the tables' owner, as a foreign key does."""
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        editor = team.name("ed")
        add_member(owner, editor, "editor", team.password(editor))
    with Workspace.open(team.uri(editor)) as ed:
        with pytest.raises(PermissionDeniedError):  # an editor may not lock apps itself
            ed.conn.execute("SELECT 1 FROM apps FOR KEY SHARE")
        if ed.conn.in_transaction:
            ed.conn.execute("ROLLBACK")
        add_devices(ed, [{"token": f"{i:064x}", "tags": ["vip"]} for i in range(3)])
        assert _counts(ed) == (3, 3)
