"""Copy a whole workspace between backends (SQLite file ⇄ PostgreSQL), then verify it.

``pushdeck workspace copy SRC DST`` (cli/workspace.py) runs ``copy_workspace``:

- tables go in dependency order (``TABLES``), every column, ids kept; PostgreSQL's
  identity sequences are moved past the copied ids afterwards, so new rows get new ids;
- text (JSON documents included) goes byte for byte: COPY's text format into
  PostgreSQL, bound parameters into SQLite;
- the target's triggers are set aside while rows go in: the copied ``device_tags``,
  ``journal_summary`` and journal engagement columns are already what the triggers
  computed in the source, and letting them fire again would count twice;
- everything happens in ONE transaction on the target: a copy that fails or is killed
  leaves the target exactly as it was (``--force`` empties it in that same transaction);
- ``meta`` keeps the target's own schema bookkeeping (``LOCAL_META``); the rest (the
  workspace id that keyring references hang on, for one) is the source's;
- credentials are rows of references: the secrets stay in each machine's keyring;
- afterwards each table's row count and a SHA-256 of its rows, read in primary-key order
  from both sides, are compared (``verify``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pushdeck.core.common.errors import WorkspaceError
from pushdeck.core.store.workspace import Workspace


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]  # primary key: the order rows are read and checksummed in
    identity: bool = False  # an ``id`` column PostgreSQL numbers from a sequence


#: Every table of the schema, parents before children.
TABLES = (
    Table("meta", ("key",)),
    Table("apps", ("id",), identity=True),
    Table("credentials", ("id",), identity=True),
    Table("app_rules", ("app_id",)),
    Table("devices", ("id",), identity=True),
    Table("device_tags", ("tag", "device_id")),
    Table("segments", ("id",), identity=True),
    Table("drafts", ("name",)),
    Table("campaigns", ("id",), identity=True),
    Table("journal", ("campaign_id", "device_id")),
    Table("journal_summary", ("campaign_id", "platform", "variant", "locale", "state")),
    Table("events", ("id",), identity=True),
    Table("conversions", ("id",), identity=True),
)
#: A team's tables (PostgreSQL, issue 18), never copied: the audit log is the target
#: server's own record (append-only; its triggers stay on, and a --force emptying is
#: logged in it), and approvals name logins of one server. A copied campaign has no
#: review row, so it needs no approval until a member changes it.
NOT_COPIED = ("audit_log", "audit_pending", "campaign_reviews")
#: meta keys that describe the database itself, not the workspace's content.
LOCAL_META = (
    "schema_version", "schema_migrated_at", "integrity_checked", "pending_indexes",
    "team.role_prefix",
)  # fmt: skip
#: Rows moved per round trip.
BATCH = 5000


@dataclass(frozen=True)
class TableCheck:
    table: str
    source_rows: int
    target_rows: int
    source_sha256: str
    target_sha256: str

    @property
    def same(self) -> bool:
        return (self.source_rows, self.source_sha256) == (self.target_rows, self.target_sha256)


@dataclass(frozen=True)
class CopyReport:
    tables: list[TableCheck]
    credentials: int  # credential rows copied (references to keyring entries)

    @property
    def identical(self) -> bool:
        return all(t.same for t in self.tables)


#: Told (table, rows copied so far, rows in the table) as a table's rows go over.
Progress = Callable[[str, int, int], None]


def _columns(ws: Workspace, table: str) -> list[str]:
    if ws.dialect.is_sqlite:
        return [r["name"] for r in ws.query(f"PRAGMA table_info({table})")]
    return [
        r[0]
        for r in ws.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
            (table,),
        )
    ]


def _where(table: Table) -> tuple[str, tuple[str, ...]]:
    if table.name == "meta":
        return f" WHERE key NOT IN ({', '.join('?' for _ in LOCAL_META)})", LOCAL_META
    return "", ()


def _count(ws: Workspace, table: Table) -> int:
    where, params = _where(table)
    return int(ws.scalar(f"SELECT count(*) FROM {table.name}{where}", params))


def content_rows(ws: Workspace) -> int:
    """Rows of workspace content (meta's bookkeeping aside): 0 for an empty workspace."""
    return sum(_count(ws, t) for t in TABLES if t.name != "meta")


def _read(ws: Workspace, table: Table, columns: list[str]) -> Iterator[list[tuple[Any, ...]]]:
    """The table's rows in primary-key order, in batches (a server-side cursor on
    PostgreSQL, so a million devices never sit in memory at once)."""
    where, params = _where(table)
    sql = f"SELECT {', '.join(columns)} FROM {table.name}{where} ORDER BY {', '.join(table.key)}"
    if ws.dialect.is_sqlite:
        cursor = ws.conn.execute(sql, params)
        while batch := cursor.fetchmany(BATCH):
            yield [tuple(row) for row in batch]
        return
    from pushdeck.core.store.pg import translate

    raw = ws.conn.raw
    opened = not ws.conn.in_transaction
    if opened:
        raw.execute("BEGIN")  # a named (server-side) cursor lives in a transaction
    try:
        with raw.cursor(name=f"pushdeck_copy_{table.name}") as cursor:
            cursor.itersize = BATCH
            cursor.execute(translate(sql), params)
            while batch := cursor.fetchmany(BATCH):
                yield [tuple(row) for row in batch]
    finally:
        if opened:
            raw.execute("COMMIT")


@contextmanager
def _triggers_set_aside(ws: Workspace) -> Iterator[None]:
    """Inside the target's transaction: no trigger fires until the block ends."""
    if ws.dialect.is_sqlite:
        triggers = ws.query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        for row in triggers:
            ws.conn.execute(f'DROP TRIGGER "{row["name"]}"')
        yield
        for row in triggers:
            ws.conn.execute(row["sql"])
        return
    tables = [
        r[0]
        for r in ws.query(
            "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
        if r[0] not in NOT_COPIED
    ]
    for table in tables:
        ws.conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    yield
    for table in tables:
        ws.conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _write(ws: Workspace, table: Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if ws.dialect.is_sqlite:
        marks = ", ".join("?" for _ in columns)
        ws.conn.executemany(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows
        )
        return
    # COPY's text format: each value as the text PostgreSQL would parse, byte for byte.
    with ws.conn.raw.cursor().copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _empty(ws: Workspace) -> None:
    """Delete the target's content, children first (inside the copy's transaction)."""
    for table in reversed(TABLES):
        where, params = _where(table)
        ws.conn.execute(f"DELETE FROM {table.name}{where}", params)


def _reset_identities(ws: Workspace) -> None:
    """Move each PostgreSQL identity sequence past the ids copied in."""
    if ws.dialect.is_sqlite:
        return
    for table in TABLES:
        if table.identity:
            ws.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"
                f" coalesce((SELECT max(id) FROM {table.name}), 0) + 1, false)"
            )


def copy_workspace(
    source: Workspace, target: Workspace, *, force: bool = False, progress: Progress | None = None
) -> CopyReport:
    """Copy every row of ``source`` into ``target`` (see the module docstring)."""
    if same_workspace(source, target):
        raise WorkspaceError(
            f"{source.location} and {target.location} are the same workspace.",
            hint="Give a different target: a new .pushdeck file or an empty database.",
        )
    existing = content_rows(target)
    if existing and not force:
        raise WorkspaceError(
            f"The target workspace {target.location} is not empty ({existing:,} rows).",
            hint="Copy into a new workspace, or pass --force to replace everything in it.",
        )
    plan = []
    for table in TABLES:
        columns = _columns(source, table.name)
        missing = set(columns) - set(_columns(target, table.name))
        if missing:
            raise WorkspaceError(
                f"The target workspace {target.location} has no column "
                f"{table.name}.{sorted(missing)[0]}: the two were made by different "
                "Pushdeck versions.",
                hint="Open both with the same Pushdeck version first (that upgrades them).",
            )
        plan.append((table, columns, _count(source, table)))
    with target.transaction():
        if existing:
            _empty(target)
        if plan[0][2]:  # the target's own meta keys stay; the source's replace the rest
            target.conn.execute(
                f"DELETE FROM meta WHERE key NOT IN ({', '.join('?' for _ in LOCAL_META)})",
                LOCAL_META,
            )
        with _triggers_set_aside(target):
            for table, columns, total in plan:
                done = 0
                if progress:
                    progress(table.name, 0, total)
                for batch in _read(source, table, columns):
                    _write(target, table, columns, batch)
                    done += len(batch)
                    if progress:
                        progress(table.name, done, total)
        _reset_identities(target)
    if target.dialect.is_postgres:
        target.conn.execute("ANALYZE")  # fresh statistics for the copied tables
    credentials = plan[2][2]
    return CopyReport(verify(source, target), credentials)


def same_workspace(a: Workspace, b: Workspace) -> bool:
    """Whether two open workspaces are one and the same file or database."""
    if a.dialect != b.dialect:
        return False
    if a.path is not None and b.path is not None:
        try:
            return os.path.samefile(a.path, b.path)
        except OSError:
            return False
    ia, ib = a.conn.raw.info, b.conn.raw.info
    return (ia.host, ia.port, ia.dbname) == (ib.host, ib.port, ib.dbname)


def _digest(ws: Workspace, table: Table, columns: list[str]) -> tuple[int, str]:
    """Row count and SHA-256 of the rows (as JSON arrays, in primary-key order)."""
    sha = hashlib.sha256()
    rows = 0
    for batch in _read(ws, table, columns):
        for row in batch:
            sha.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode())
            sha.update(b"\n")
        rows += len(batch)
    return rows, sha.hexdigest()


def verify(source: Workspace, target: Workspace) -> list[TableCheck]:
    """Each table's row count and checksum on both sides."""
    checks = []
    for table in TABLES:
        columns = _columns(source, table.name)
        try:
            source_rows, source_sha = _digest(source, table, columns)
            target_rows, target_sha = _digest(target, table, columns)
        except sqlite3.Error as exc:  # pragma: no cover - a damaged file says so itself
            raise WorkspaceError(f"Reading {table.name} to verify the copy failed: {exc}.") from exc
        checks.append(TableCheck(table.name, source_rows, target_rows, source_sha, target_sha))
    return checks
