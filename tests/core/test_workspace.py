"""Opening, creating, refusing and migrating workspace files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pushdeck.core.errors import WorkspaceError
from pushdeck.core.store import Workspace, schema
from pushdeck.core.store import workspace as workspace_module


def test_new_workspace_is_wal_with_foreign_keys_and_version(tmp_path: Path) -> None:
    with Workspace.open(tmp_path / "w.pushdeck") as ws:
        assert ws.scalar("PRAGMA journal_mode") == "wal"
        assert ws.scalar("PRAGMA foreign_keys") == 1
        assert ws.scalar("PRAGMA user_version") == schema.SCHEMA_VERSION
        assert ws.scalar("PRAGMA application_id") == schema.APPLICATION_ID


def test_text_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.pushdeck"
    path.write_bytes(b"my important notes\n" * 100)
    with pytest.raises(WorkspaceError, match="not an SQLite database"):
        Workspace.open(path)
    assert path.read_bytes() == b"my important notes\n" * 100


def test_corrupt_sqlite_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "broken.pushdeck"
    Workspace.open(path).close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # smash the first page after the header
    path.write_bytes(bytes(data))
    with pytest.raises(WorkspaceError):
        Workspace.open(path)
    assert path.read_bytes() == bytes(data)


def test_other_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(WorkspaceError, match="another program"):
        Workspace.open(path)


def test_newer_schema_is_refused_with_versions_named(tmp_path: Path) -> None:
    path = tmp_path / "future.pushdeck"
    Workspace.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 3}")
    conn.close()
    with pytest.raises(WorkspaceError, match=f"schema {schema.SCHEMA_VERSION + 3}"):
        Workspace.open(path)


def test_missing_file_without_create_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="No workspace"):
        Workspace.open(tmp_path / "nope.pushdeck", create=False)


def test_migration_takes_a_backup_and_keeps_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "old.pushdeck"
    with Workspace.open(path) as ws:
        ws.conn.execute("INSERT INTO meta (key, value) VALUES ('marker', 'kept')")
    extra = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);"
    monkeypatch.setattr(workspace_module, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    monkeypatch.setattr(workspace_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with Workspace.open(path) as ws:
        assert ws.scalar("PRAGMA user_version") == schema.SCHEMA_VERSION + 1
        assert ws.scalar("SELECT value FROM meta WHERE key = 'marker'") == "kept"
        assert ws.scalar("SELECT count(*) FROM later_feature") == 0
    backups = list(tmp_path.glob(f"old.pushdeck.v{schema.SCHEMA_VERSION}.*.bak"))
    assert len(backups) == 1
    conn = sqlite3.connect(backups[0])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    conn.close()


def test_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.pushdeck"
    Workspace.open(path).close()
    broken = "CREATE TABLE half (id INTEGER);\nTHIS IS NOT SQL;"
    monkeypatch.setattr(workspace_module, "MIGRATIONS", (*schema.MIGRATIONS, broken))
    monkeypatch.setattr(workspace_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    with pytest.raises(WorkspaceError, match="left as it was"):
        Workspace.open(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half'").fetchone()[0] == 0
    conn.close()


def test_a_write_waits_out_another_connections_long_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large import's merge holds the write lock for seconds while a send writes its
    journal on another connection: the send's write must wait, not fail."""
    import threading
    import time

    from pushdeck.core.store import workspace as workspace_module

    path = tmp_path / "w.pushdeck"
    sender = Workspace.open(path)
    hold = 1.5
    configured = workspace_module.BUSY_TIMEOUT_MS
    monkeypatch.setattr(workspace_module, "BUSY_TIMEOUT_MS", 0)
    impatient = Workspace.open(path)  # what a zero timeout would do: fail at once
    locked = threading.Event()

    def long_merge() -> None:
        importer = Workspace.open(path)  # SQLite connections stay in their own thread
        with importer.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('merge', 'running')")
            locked.set()
            time.sleep(hold)
        importer.close()

    thread = threading.Thread(target=long_merge)
    thread.start()
    assert locked.wait(5)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        impatient.conn.execute("INSERT INTO meta (key, value) VALUES ('impatient', 'x')")
    start = time.monotonic()
    with sender.transaction() as conn:
        conn.execute("INSERT INTO meta (key, value) VALUES ('journal', 'flushed')")
    waited = time.monotonic() - start
    thread.join()
    assert waited > hold / 2
    assert sender.scalar("SELECT value FROM meta WHERE key = 'journal'") == "flushed"
    assert configured / 1000 >= 30  # well past an 11 s merge of 1,000,000 devices
    for ws in (sender, impatient):
        ws.close()
