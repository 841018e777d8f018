"""Opening, creating, refusing and migrating workspace files."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from pushdeck.core.common.errors import WorkspaceError
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


# --------------------------------------------------------------------------- integrity


def _real_workspace(path: Path, devices: int = 3000) -> Path:
    from pushdeck.core.common.model import App
    from pushdeck.core.store.apps import add_app
    from tests.core.campaign_helpers import add_devices

    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        add_devices(ws, [{"token": f"{i:064x}", "tags": ["vip"]} for i in range(devices)])
    Workspace.open(path).close()  # as the user would have: opened again since
    return path


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_copy_of_a_real_workspace_is_refused_and_left_byte_identical(
    tmp_path: Path,
) -> None:
    import shutil
    import subprocess
    import sys

    original = _real_workspace(tmp_path / "real.pushdeck")
    damaged = tmp_path / "copy.pushdeck"
    shutil.copyfile(original, damaged)  # the copy says "checked today" about the original
    data = bytearray(damaged.read_bytes())
    page = 4096
    middle = (len(data) // 2) // page * page
    data[middle : middle + page] = bytes(b ^ 0xFF for b in data[middle : middle + page])
    damaged.write_bytes(bytes(data))
    (tmp_path / "copy.pushdeck.v1.20260101T000000Z.bak").write_bytes(b"")  # a backup beside it
    before = _sha(damaged)

    with pytest.raises(WorkspaceError) as caught:
        Workspace.open(damaged)
    message = str(caught.value)
    assert str(damaged) in message and "damaged" in message
    assert "copy.pushdeck.v1.20260101T000000Z.bak" in message and ".recover" in message
    assert _sha(damaged) == before

    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(damaged), "devices", "count"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and str(damaged) in done.stderr
    lines = done.stderr.splitlines()
    assert [ln for ln in lines if ln.startswith("pushdeck: ")] == lines[:1] and len(lines) == 2
    assert _sha(damaged) == before
    assert not damaged.with_name("copy.pushdeck-wal").exists()
    with Workspace.open(original) as ws:  # the original is fine
        assert ws.scalar("SELECT count(*) FROM devices") == 3000


def test_integrity_is_checked_once_a_day_per_file_and_before_every_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    checked: list[Path] = []
    real = workspace_module._check_integrity

    def spy(conn: sqlite3.Connection, path: Path) -> None:
        checked.append(path)
        real(conn, path)

    monkeypatch.setattr(workspace_module, "_check_integrity", spy)
    path = tmp_path / "w.pushdeck"
    Workspace.open(path).close()  # new: nothing to check
    Workspace.open(path).close()  # created today: checked at creation
    assert checked == []
    monkeypatch.setattr(workspace_module, "INTEGRITY_CHECK_EVERY", timedelta(0))
    Workspace.open(path).close()
    assert checked == [path]
    monkeypatch.setattr(workspace_module, "INTEGRITY_CHECK_EVERY", timedelta(days=1))
    Workspace.open(path).close()  # recorded by the check above
    assert checked == [path]
    moved = tmp_path / "moved.pushdeck"
    moved.write_bytes(path.read_bytes())  # a copy: another file, checked on its first open
    Workspace.open(moved).close()
    assert checked == [path, moved]
    extra = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);"
    monkeypatch.setattr(workspace_module, "MIGRATIONS", (*schema.MIGRATIONS, extra))
    monkeypatch.setattr(workspace_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
    Workspace.open(path).close()
    assert checked == [path, moved, path]


def test_a_folder_given_as_the_workspace_is_named_as_such(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="is a folder, not a workspace file"):
        Workspace.open(tmp_path)


# --------------------------------------------------------------------------- permissions


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes (Windows keeps its ACL)")
def test_workspace_wal_shm_and_backups_are_owner_only_under_a_permissive_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import stat

    previous = os.umask(0o022)
    try:
        path = tmp_path / "w.pushdeck"
        with Workspace.open(path) as ws:
            ws.conn.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            made = [path, path.with_name("w.pushdeck-wal"), path.with_name("w.pushdeck-shm")]
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in made}
            assert modes == dict.fromkeys(modes, 0o600)
        extra = "CREATE TABLE later_feature (id INTEGER PRIMARY KEY);"
        monkeypatch.setattr(workspace_module, "MIGRATIONS", (*schema.MIGRATIONS, extra))
        monkeypatch.setattr(workspace_module, "SCHEMA_VERSION", schema.SCHEMA_VERSION + 1)
        Workspace.open(path).close()
        (backup,) = tmp_path.glob("w.pushdeck.v*.bak")
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600
        touched = tmp_path / "touched.pushdeck"
        touched.touch()  # an empty file made by the user becomes the workspace
        Workspace.open(touched).close()
        assert stat.S_IMODE(touched.stat().st_mode) == 0o600
    finally:
        os.umask(previous)


def test_open_sets_what_sqlite_utils_set_without_importing_it(tmp_path: Path) -> None:
    # sqlite-utils (and numpy with it) cost a third of the CLI's start-up; the workspace
    # still behaves as when it wrapped every connection (recursive triggers on).
    import subprocess

    code = (
        "import sys; from pushdeck.core.store import Workspace\n"
        f"ws = Workspace.open({str(tmp_path / 'w.pushdeck')!r})\n"
        "print(ws.conn.execute('PRAGMA recursive_triggers').fetchone()[0],"
        " 'sqlite_utils' in sys.modules)\n"
        "print(type(ws.db).__name__, ws.db.conn is ws.conn)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "False", "Database", "True"]

