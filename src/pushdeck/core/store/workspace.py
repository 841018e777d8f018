"""Opening a workspace: one SQLite file, checked, migrated, in WAL mode.

A workspace file is refused (never overwritten) when it is not SQLite, is damaged,
belongs to another program, or was written by a newer Pushdeck. Before migrating
an existing file a backup copy is taken next to it.

The app keeps a connection open for hours while its jobs, the CLI, cron and the collector
open their own. On POSIX, closing *any* descriptor of a file drops *all* of the process's
``fcntl`` locks on it, SQLite's included; another process then takes itself for the last
user and deletes the WAL under the app (sqlite.org, "How To Corrupt An SQLite Database
File", 2.2). So nothing here opens the database file except SQLite: whether it is SQLite
at all is what SQLite answers when asked to read it, and a new file is created (owner-only)
only when no file exists, so no connection can have it open.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pushdeck.core.common.errors import PermissionDeniedError, WorkspaceError, is_disk_full
from pushdeck.core.common.paths import (
    PRIVATE_MODE,
    create_private_file,
    create_private_new_file,
    remove_abandoned_scratch_dirs,
)
from pushdeck.core.store.dialect import POSTGRES, SQLITE, Dialect, is_postgres_uri
from pushdeck.core.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    import sqlite_utils

    from pushdeck.core.store.pg import PgConnection

#: Upper bound on how much of the workspace file SQLite reads through a memory map.
MMAP_BYTES = 1 << 30
#: How long a write waits for another connection's transaction. A large import merges in
#: one transaction (about 11 s for 1,000,000 devices, see bench/README.md) while a
#: campaign may be sending on its own connection: its journal writes wait, not fail.
BUSY_TIMEOUT_MS = 60_000
#: ``PRAGMA quick_check`` reads the whole file: 1.2–1.6 s at 1,000,000 devices (541 MB,
#: bench/README.md), too slow for every open. A file is checked on its first open of
#: the day and before every migration; a copy, a restored backup or a file moved to
#: another disk is a different file and is checked on its first open.
INTEGRITY_CHECK_EVERY = timedelta(days=1)
_INTEGRITY_KEY = "integrity_checked"



class Row(Protocol):
    """A row as the store returns it: by column name (``row["name"]``) and by position.

    ``sqlite3.Row`` on SQLite, ``store.pg.PgRow`` on PostgreSQL. Callers outside the store
    type rows with this name, not with the backend's class.
    """

    def __getitem__(self, key: int | str, /) -> Any: ...
    def keys(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Any]: ...


class Cursor(Protocol):
    """What a statement returns: sqlite3.Cursor, or store.pg.PgCursor."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What ``Workspace.transaction`` yields: sqlite3's connection, or store.pg's."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Any, /) -> Any: ...


def _integrity_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.errors.IntegrityError)


#: A unique (or other constraint) violation on either backend: catch this, not one driver's.
IntegrityError = _integrity_errors()


def _connection_errors() -> tuple[type[Exception], ...]:
    try:
        from pushdeck.core.store.db_errors import ConnectionLostError
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return (ConnectionLostError,)


def _server_refusals() -> tuple[type[Exception], ...]:
    try:
        from pushdeck.core.store.db_errors import ServerRefused
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return ()
    return ServerRefused


#: A PostgreSQL connection that broke (server restarted, pg_terminate_backend, network
#: cut): ``Workspace.reconnect`` opens a new one. Never raised on SQLite.
ConnectionLost = _connection_errors()
#: PostgreSQL refused a statement, its connection intact (disk full, out of memory, a
#: cancelled statement, a deadlock …): ``db_errors.explain`` says which and what to do.
#: Also matches ConnectionLost (a subclass): catch that one first.
ServerRefused = _server_refusals()


#: What a failing SQLite call raises, a full disk included (``is_disk_full``). Code
#: outside ``store/`` catches this name rather than importing the driver. A PostgreSQL
#: server's own errors (its disk is the server's) pass through as psycopg's.
DatabaseError = sqlite3.Error


def utcnow() -> str:
    """The current UTC time as stored in the workspace (ISO 8601, seconds, 'Z')."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Workspace:
    """An open workspace. Use it only on the thread that opened it.

    A SQLite file (``path`` set, ``is_file``) or a PostgreSQL database (``path`` None):
    the store writes SQL once and asks ``dialect`` where the two differ.
    ``location`` names it in messages (the file, or the URI without its password).
    """

    def __init__(
        self,
        path: Path | None,
        conn: Any,
        *,
        dialect: Dialect = SQLITE,
        location: str | None = None,
    ) -> None:
        self.path = path
        #: sqlite3.Connection on SQLite, store.pg.PgConnection on PostgreSQL (both take
        #: sqlite3-style statements); SQLite-only code uses ``sqlite``.
        self.conn: Any = conn
        self.dialect = dialect
        self.location = location if location is not None else str(path)
        if dialect.is_sqlite:
            # What sqlite_utils.Database(conn) sets on the connection, kept without importing
            # sqlite-utils (and numpy with it: a third of the campaign command's start-up).
            conn.execute("PRAGMA recursive_triggers = ON")
        self._db: sqlite_utils.Database | None = None
        self._closed = False
        self._uri: str | None = None  # PostgreSQL: what reconnect() connects to
        #: Raised by one on every reconnect (session state, e.g. advisory locks, is gone).
        self.generation = 0

    @property
    def db(self) -> sqlite_utils.Database | None:
        """sqlite-utils over this connection (created on first use); None on PostgreSQL."""
        if self._db is None and self.dialect.is_sqlite:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    @property
    def is_file(self) -> bool:
        """Whether the workspace is a local SQLite file (backups, staging, integrity checks)."""
        return self.dialect.is_sqlite

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The SQLite connection, for SQLite-only code (PRAGMAs, functions, backups)."""
        if not isinstance(self.conn, sqlite3.Connection):
            raise WorkspaceError(
                f"{self.location} is a PostgreSQL workspace; this needs a workspace file.",
            )
        return self.conn

    @property
    def file(self) -> Path:
        """The workspace file (WorkspaceError on PostgreSQL, where there is none)."""
        if self.path is None:
            raise WorkspaceError(
                f"{self.location} is a PostgreSQL workspace; this needs a workspace file.",
                hint="Use a local .pushdeck workspace for this.",
            )
        return self.path

    @classmethod
    def open(cls, path: Path | str, *, create: bool = True) -> Workspace:
        """Open (and create or migrate) the workspace at ``path``: a file path, or a
        ``postgresql://`` URI."""
        if is_postgres_uri(path):
            return cls._open_postgres(str(path), create=create)
        path = Path(path).expanduser()
        if path.is_dir():
            raise WorkspaceError(
                f"{path} is a folder, not a workspace file.",
                hint=f"Give the path of a .pushdeck file (e.g. {path / 'workspace.pushdeck'}); "
                "a new path creates an empty workspace.",
            )
        existed = path.exists() and path.stat().st_size > 0
        if not existed:
            if not create:
                raise WorkspaceError(
                    f"No workspace at {path}.",
                    hint="Check the path, or run 'pushdeck demo' to create a demo workspace.",
                )
            _create_file(path)
        conn = _connect(path)
        try:
            _migrate(conn, path, existed)
        except BaseException:
            conn.close()
            raise
        workspace = cls(path, conn)
        from pushdeck.core.store.devices import restore_pending_indexes  # avoids a cycle

        try:
            restore_pending_indexes(workspace)
        except sqlite3.OperationalError as exc:
            if not is_disk_full(exc):
                workspace.close()
                raise
            # Still recorded: the next open rebuilds them. Until then queries are slower.
        # A large import killed mid-way leaves its staging folder (up to 1.6x the file).
        remove_abandoned_scratch_dirs(path.parent)
        return workspace

    @classmethod
    def _open_postgres(cls, uri: str, *, create: bool) -> Workspace:
        from pushdeck.core.store import pg
        from pushdeck.core.store.schema_pg import prepare

        location = pg.redact(uri)
        conn = pg.connect(uri)
        try:
            prepare(conn, location, create=create)
        except BaseException:
            conn.close()
            raise
        workspace = cls(None, conn, dialect=POSTGRES, location=location)
        workspace._uri = uri
        from pushdeck.core.store.pg_bulk import restore_pending_indexes  # avoids a cycle

        try:
            restore_pending_indexes(workspace)
        except BaseException:
            workspace.close()
            raise
        return workspace

    def another_connection(self) -> PgConnection:
        """PostgreSQL: a second, independent connection to this workspace, for work done
        side by side with this one's. The caller closes it."""
        from pushdeck.core.store import pg

        if self._uri is None:
            raise WorkspaceError(f"{self.location} has no second connection: not PostgreSQL.")
        return pg.connect(self._uri)

    def reconnect(self) -> None:
        """PostgreSQL: drop the broken connection and open a new one (a WorkspaceError
        when the server cannot be reached yet; the caller retries with a backoff)."""
        from pushdeck.core.store import pg

        if self._uri is None:
            raise WorkspaceError(f"{self.location} cannot reconnect: it is not PostgreSQL.")
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - it is broken already; a new one replaces it
            pass
        self.conn = pg.connect(self._uri)
        self.generation += 1

    def close(self) -> None:
        """Close the connection, always: a failing last pragma (a full disk) does not stop it."""
        if self._closed:
            return
        self._closed = True
        if not self.dialect.is_sqlite:
            self.conn.close()
            return
        try:
            # Lets SQLite refresh planner statistics where they have gone stale (cheap).
            self.conn.execute("PRAGMA optimize")
        except sqlite3.Error:
            pass  # only statistics; the next close refreshes them
        finally:
            self.conn.close()

    def refuse_own_file(self, path: Path, action: str) -> None:
        """Refuse to read or write ``path`` outside SQLite if it is this workspace's file.

        Opening it would drop SQLite's locks (see the module docstring); writing it would
        destroy the workspace. ``action`` says what was asked ("import devices from").
        """
        if self.path is None:
            return  # a PostgreSQL workspace has no file here
        own = [self.path, *(self.path.with_name(self.path.name + s) for s in ("-wal", "-shm"))]
        for candidate in own:
            try:
                same = os.path.samefile(path, candidate)  # compares stat results: no open
            except OSError:
                continue
            if same:
                raise WorkspaceError(
                    f"Cannot {action} {path}: it is the workspace's own file.",
                    hint="Choose another file; the workspace was left untouched.",
                )

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A write transaction: everything inside commits together or not at all.

        Yields the connection (sqlite3's, or store.pg's on PostgreSQL: the same calls).
        """
        self.conn.execute("BEGIN IMMEDIATE" if self.dialect.is_sqlite else "BEGIN")
        try:
            yield self.conn
        except PermissionDeniedError as exc:
            _rollback(self.conn)
            if exc.role is None and not self.dialect.is_sqlite:
                role = self.conn.team_role()  # asked now the failed transaction is gone
                if role is not None:
                    raise exc.for_role(role) from exc.__cause__
            raise
        except BaseException:
            _rollback(self.conn)
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[Row]:
        return list(self.conn.execute(sql, params))

    def stream(self, sql: str, params: Any = ()) -> Iterator[Row]:
        """The rows of ``sql`` one at a time, never all in memory (exports)."""
        if self.dialect.is_sqlite:
            return iter(self.conn.execute(sql, params))
        rows: Iterator[Row] = self.conn.stream(sql, params)
        return rows

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]


def _rollback(conn: sqlite3.Connection | PgConnection) -> None:
    # SQLite has already rolled back after some errors (a full disk, SQLITE_FULL): a second
    # ROLLBACK would fail and bury the real error under "no transaction is active".
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _create_file(path: Path) -> None:
    """Create the empty workspace file owner-only, before any connection to it exists.

    SQLite gives the -wal and -shm files the database file's permissions.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not create_private_new_file(path) and os.name == "posix":
            st = path.stat()  # an empty file someone made (touch): make it owner-only too
            if st.st_size == 0 and st.st_uid == os.getuid():
                os.chmod(path, PRIVATE_MODE)
    except OSError as exc:
        raise WorkspaceError(
            f"Cannot create the workspace {path}: {exc.strerror or exc}.",
            hint="Choose a folder you can write to.",
        ) from exc


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
    except sqlite3.Error as exc:
        raise WorkspaceError(
            f"Cannot open the workspace {path}: {exc}.",
            hint="Check that the file and its folder can be read and written by you.",
        ) from exc
    conn.row_factory = sqlite3.Row
    try:
        # Settings of this connection; the first ones read the file's header, which is
        # how a file that is not SQLite is told apart (and nothing is written to it).
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA synchronous = NORMAL")
        # Random-order index inserts (tokens) thrash the default 2 MB page cache on large
        # imports; 64 MB keeps the hot index pages resident.
        conn.execute("PRAGMA cache_size = -65536")
        # Segment counts visit rows all over a large table; reading them through a memory
        # map instead of copying each page into the cache halves a 1M-device count.
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _unreadable(path, exc) from exc
    return conn


def _migrate(conn: sqlite3.Connection, path: Path, existed: bool) -> None:
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
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
    migrating = version < SCHEMA_VERSION
    if existed and app_id == APPLICATION_ID and (migrating or _check_due(conn, path)):
        _check_integrity(conn, path)
        if not migrating:
            _remember_check(conn, path)
    if not migrating:
        _set_wal(conn)
        return
    # A version that changes only PostgreSQL's schema has nothing here to back up.
    changes_here = any(MIGRATIONS[n - 1] for n in range(version + 1, SCHEMA_VERSION + 1))
    if existed and version > 0 and changes_here:
        _backup(conn, path, version)
    _set_wal(conn)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        _apply(conn, path, number)


def _set_wal(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")


def _apply(conn: sqlite3.Connection, path: Path, number: int) -> None:
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
        if number == SCHEMA_VERSION:  # checked just before migrating
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                (_INTEGRITY_KEY, _check_record(path)),
            )
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        _rollback(conn)
        if is_disk_full(exc):
            raise WorkspaceError(
                f"The disk holding {path} is full: the workspace could not be upgraded "
                f"to schema {number}.",
                hint="Free some space on that disk and open it again. The file was left as it was.",
            ) from exc
        raise WorkspaceError(
            f"Upgrading the workspace to schema {number} failed ({exc}).",
            hint="The file was left as it was; please report this as a bug.",
        ) from exc
    except BaseException:
        _rollback(conn)
        raise


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
    """Copy the workspace beside it through SQLite (never by copying the file: see above)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.v{version}.{stamp}.bak")
    try:
        create_private_file(target)  # owner-only before SQLite writes a byte of it
        dest = sqlite3.connect(target)
        try:
            conn.backup(dest)
        finally:
            dest.close()
    except (OSError, sqlite3.Error) as exc:
        target.unlink(missing_ok=True)
        full = is_disk_full(exc)
        raise WorkspaceError(
            f"Cannot upgrade {path}: "
            + (
                f"the disk holding it is full (a backup copy is taken first: {target.name})."
                if full
                else f"the backup copy {target.name} could not be written ({exc})."
            ),
            hint=("Free some space on that disk" if full else "Check the folder")
            + " and open it again. The workspace was left as it was.",
        ) from exc
    return target


# --------------------------------------------------------------------------- integrity


def damaged_row(what: str, table: str, row_id: object, problem: str) -> WorkspaceError:
    """A stored row this Pushdeck cannot read (edited outside it, or a newer version's).

    ``what`` names the object for the user ("campaign 'Spring sale'").
    """
    return WorkspaceError(
        f"The stored {what} cannot be read: {problem}.",
        hint="The workspace was changed outside Pushdeck (or by a newer version). "
        f"Restore it from a backup, or correct row {row_id} of the table '{table}' with "
        "sqlite3; the rest of the workspace is usable.",
    )


def damaged(path: Path, problem: str) -> WorkspaceError:
    """The error for a workspace SQLite cannot read back whole: what to do, in order."""
    backups = sorted(path.parent.glob(f"{path.name}.v*.bak"))
    restore = (
        f"restore the newest backup beside it ({backups[-1].name}) by copying it over "
        f"{path.name} while Pushdeck is closed"
        if backups
        else "restore it from your own backup"
    )
    recovered = path.with_name(f"{path.stem}.recovered{path.suffix}")
    problem = " ".join(problem.replace("*** in database main ***", "").split())
    return WorkspaceError(
        f'{path} is damaged: SQLite\'s check reports "{problem}". Pushdeck refused to open '
        "it and did not change it.",
        hint=f"Keep a copy of it, then {restore}, or save what can still be read: "
        f"sqlite3 '{path}' .recover | sqlite3 '{recovered}' and open {recovered.name}.",
    )


def _unreadable(path: Path, exc: sqlite3.DatabaseError) -> WorkspaceError:
    """Why SQLite cannot read the file: not SQLite at all, damaged, or not accessible."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_NOTADB:
        return WorkspaceError(
            f"{path} is not a Pushdeck workspace (it is not an SQLite database, or its "
            "first bytes were overwritten).",
            hint="Choose a .pushdeck file, or a new path to create an empty workspace. "
            "The file was left untouched.",
        )
    if code == sqlite3.SQLITE_CORRUPT:
        return damaged(path, str(exc))
    return WorkspaceError(
        f"Cannot read the workspace {path}: {exc}.",
        hint="Check that the file and its folder can be read and written by you. "
        "The file was left untouched.",
    )


def _check_integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from exc
    if [tuple(r) for r in rows] != [("ok",)]:
        raise damaged(path, "; ".join(str(r[0]) for r in rows))


def _check_record(path: Path) -> str:
    """When the check ran, and on which file: a copy of this file is a different file."""
    st = path.stat()
    where = [str(path.resolve()), st.st_dev, st.st_ino]
    return json.dumps({"at": utcnow(), "file": where})


def _check_due(conn: sqlite3.Connection, path: Path) -> bool:
    try:
        raw = conn.execute("SELECT value FROM meta WHERE key = ?", (_INTEGRITY_KEY,)).fetchone()
    except sqlite3.DatabaseError:
        return True  # no meta table, or unreadable: the check will say which
    if raw is None:
        return True
    try:
        last = json.loads(raw[0])
        same_file = last["file"] == json.loads(_check_record(path))["file"]
        at = datetime.strptime(last["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (TypeError, KeyError, ValueError):
        return True
    return not same_file or datetime.now(UTC) - at >= INTEGRITY_CHECK_EVERY


def _remember_check(conn: sqlite3.Connection, path: Path) -> None:
    """Record the check, unless another connection is writing: then check again next time.

    Waiting here would hold every open (a 'campaigns list') behind a large import's merge.
    """
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (_INTEGRITY_KEY, _check_record(path)),
        )
    except sqlite3.OperationalError:
        pass  # busy, or a full disk: the next open checks again
    finally:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def forget_integrity_check(path: Path) -> None:
    """Make the next open of ``path`` check it (for benchmarks and tests)."""
    with Workspace.open(path) as ws:
        ws.conn.execute("DELETE FROM meta WHERE key = ?", (_INTEGRITY_KEY,))
