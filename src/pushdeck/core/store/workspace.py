"""Opening a workspace: one SQLite file, checked, migrated, in WAL mode.

A workspace file is refused (never overwritten) when it is not SQLite, is corrupt,
belongs to another program, or was written by a newer Pushdeck. Before migrating
an existing file a backup copy is taken next to it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from pushdeck.core.errors import WorkspaceError
from pushdeck.core.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Upper bound on how much of the workspace file SQLite reads through a memory map.
MMAP_BYTES = 1 << 30
#: How long a write waits for another connection's transaction. A large import merges in
#: one transaction (about 11 s for 1,000,000 devices, see bench/README.md) while a
#: campaign may be sending on its own connection: its journal writes wait, not fail.
BUSY_TIMEOUT_MS = 60_000


def utcnow() -> str:
    """The current UTC time as stored in the workspace (ISO 8601, seconds, 'Z')."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Workspace:
    """An open workspace. Use it only on the thread that opened it."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._closed = False

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Workspace:
        """Open (and create or migrate) the workspace at ``path``."""
        path = Path(path).expanduser()
        existed = path.exists() and path.stat().st_size > 0
        if existed:
            _check_header(path)
        elif not create:
            raise WorkspaceError(
                f"No workspace at {path}.",
                hint="Check the path, or run 'pushdeck demo' to create a demo workspace.",
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = _connect(path)
        try:
            _migrate(conn, path, existed)
        except BaseException:
            conn.close()
            raise
        workspace = cls(path, conn)
        from pushdeck.core.store.devices import restore_pending_indexes  # avoids a cycle

        restore_pending_indexes(workspace)
        return workspace

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Lets SQLite refresh planner statistics where they have gone stale (cheap).
        self.conn.execute("PRAGMA optimize")
        self.conn.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[sqlite3.Row]:
        return list(self.conn.execute(sql, params))

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def _check_header(path: Path) -> None:
    with path.open("rb") as fh:
        head = fh.read(16)
    if head != _SQLITE_MAGIC:
        raise WorkspaceError(
            f"{path} is not a Pushdeck workspace (it is not an SQLite database).",
            hint="Choose a .pushdeck file, or a new path to create an empty workspace. "
            "The file was left untouched.",
        )


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Random-order index inserts (tokens) thrash the default 2 MB page cache on large
        # imports; 64 MB keeps the hot index pages resident.
        conn.execute("PRAGMA cache_size = -65536")
        # Segment counts visit rows all over a large table; reading them through a memory
        # map instead of copying each page into the cache halves a 1M-device count.
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return conn
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(f"Cannot open workspace {path}: {exc}.") from exc


def _migrate(conn: sqlite3.Connection, path: Path, existed: bool) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise WorkspaceError(
            f"{path} is damaged and cannot be read ({exc}).",
            hint="Restore it from a backup (migrations leave *.bak copies next to it). "
            "The file was left untouched.",
        ) from exc
    if app_id != APPLICATION_ID and (app_id != 0 or tables > 0):
        raise WorkspaceError(
            f"{path} is an SQLite database of another program, not a Pushdeck workspace.",
            hint="Choose a .pushdeck file or a new path. The file was left untouched.",
        )
    if version > SCHEMA_VERSION:
        raise WorkspaceError(
            f"{path} was written by a newer Pushdeck (schema {version}; "
            f"this version knows up to {SCHEMA_VERSION}).",
            hint="Upgrade Pushdeck to open it. The file was left untouched.",
        )
    if version == SCHEMA_VERSION:
        _set_wal(conn)
        return
    if existed and version > 0:
        _backup(conn, path, version)
    _set_wal(conn)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        _apply(conn, number)


def _set_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")


def _apply(conn: sqlite3.Connection, number: int) -> None:
    # executescript would COMMIT implicitly; run statements one by one in a transaction
    # so that a failed migration leaves the file exactly as it was.
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _statements(MIGRATIONS[number - 1]):
            conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_migrated_at', ?)",
            (utcnow(),),
        )
    except sqlite3.DatabaseError as exc:
        conn.execute("ROLLBACK")
        raise WorkspaceError(
            f"Upgrading the workspace to schema {number} failed ({exc}).",
            hint="The file was left as it was; please report this as a bug.",
        ) from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _statements(script: str) -> Iterator[str]:
    """Split a migration script into complete statements (triggers contain ';')."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def _backup(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.v{version}.{stamp}.bak")
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target
