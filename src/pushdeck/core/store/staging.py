"""A large import's staging files, and merging them into the workspace.

Each part of a large device file is read into its own scratch SQLite file (see
``pushdeck.core.devices.staged_import``): the validated rows (``staging``, the devices'
columns, see ``devices.STAGING_TABLE``), the rejected rows (``rejects``) and how the
part ended (``result``: its counts, or the error that stopped it). The merging side
attaches the files to the workspace under fixed names and reads them with SQL.
"""

from __future__ import annotations

import marshal
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pushdeck.core.store import devices as device_store
from pushdeck.core.store.workspace import Row, Workspace


class StagingFile:
    """One part's staging file, created empty at ``path``; append-only."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        # A scratch file that is thrown away if anything goes wrong: no journal, no fsync.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute(device_store.STAGING_TABLE)
        self.conn.execute("CREATE TABLE rejects (line INTEGER, field TEXT, reason TEXT)")
        self.conn.execute(
            "CREATE TABLE result (rows INTEGER, crossed INTEGER, cancelled INTEGER,"
            " error TEXT, error_kind TEXT)"
        )

    def add(self, batch: Sequence[dict[str, Any]], rejected: list[tuple[int, str, str]]) -> None:
        """Append validated records and (line, field, reason) rejects in one commit."""
        self.conn.execute("BEGIN")
        device_store.stage_devices(self.conn, batch)
        self.add_rejects(rejected)
        self.conn.execute("COMMIT")

    def add_rejects(self, rejected: list[tuple[int, str, str]]) -> None:
        if rejected:
            self.conn.executemany("INSERT INTO rejects VALUES (?, ?, ?)", rejected)

    def finish(self, rows: int, crossed: bool, cancelled: bool) -> None:
        """Record how the part ended (read back by ``read_result``)."""
        self.conn.execute(
            "INSERT INTO result (rows, crossed, cancelled) VALUES (?, ?, ?)",
            (rows, int(crossed), int(cancelled)),
        )

    def close(self) -> None:
        self.conn.close()


class RowFile:
    """A part's validated rows for PostgreSQL, batch by batch, in ``marshal`` format.

    On a PostgreSQL workspace the rows go on to the server by COPY, never into SQL here:
    writing them with SQLite and fetching them back cost 2.7 s at 500,000 rows, marshal
    0.7 s. The file is a private scratch file written by this import's own reader (the
    same interpreter reads it back): marshal must never read a file anyone else wrote.
    """

    def __init__(self, path: Path) -> None:
        self.file = path.open("ab")  # created private by the caller (create_private_file)

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            data = marshal.dumps(list(rows))
            self.file.write(len(data).to_bytes(8, "little"))
            self.file.write(data)

    def close(self) -> None:
        self.file.close()


def row_batches(path: Path) -> Iterator[list[tuple[Any, ...]]]:
    """The batches a ``RowFile`` holds, in the order they were added."""
    # Each batch is length-prefixed and read whole: marshal.load on a file reads it a
    # few bytes at a time (3.4 s at 500,000 rows against 0.5 s).
    with path.open("rb") as fh:
        while size := int.from_bytes(fh.read(8), "little"):
            batch: list[tuple[Any, ...]] = marshal.loads(fh.read(size))
            yield batch


def record_failure(path: Path, message: str, kind: str) -> None:
    """Leave why a part failed (``kind``: an error class name) in its staging file.

    If the file itself is broken this records nothing: the reader's exit code still
    reports the failure.
    """
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("INSERT INTO result (error, error_kind) VALUES (?, ?)", (message, kind))
    except sqlite3.Error:
        pass
    finally:
        conn.close()


def read_result(path: Path | str) -> tuple[Any, ...] | None:
    """(rows, crossed, cancelled, error, error_kind) as the part recorded them, or None
    when it recorded nothing (or the file cannot be read)."""
    conn = sqlite3.connect(path)
    try:
        row: tuple[Any, ...] | None = conn.execute(
            "SELECT rows, crossed, cancelled, error, error_kind FROM result"
        ).fetchone()
    except sqlite3.Error:
        row = None
    finally:
        conn.close()
    return row


@contextmanager
def attached(ws: Workspace, stages: Sequence[str]) -> Iterator[list[str]]:
    """Attach the staging files to ``ws``; yield their schema names, in order."""
    schemas: list[str] = []
    try:
        for index, stage in enumerate(stages):
            schema = f"stage{index}"  # a fixed name, never user text
            ws.conn.execute(f"ATTACH DATABASE ? AS {schema}", (stage,))
            schemas.append(schema)
            # Read once, in order: the memory map would only add it to our resident size.
            ws.conn.execute(f"PRAGMA {schema}.mmap_size = 0")
        yield schemas
    finally:
        for schema in schemas:
            ws.conn.execute(f"DETACH DATABASE {schema}")


def rejects(ws: Workspace, schema: str) -> list[Row]:
    """(line, field, reason) of the attached ``schema``'s rejected rows, in file order."""
    return ws.query(f"SELECT line, field, reason FROM {_named(schema)}.rejects ORDER BY rowid")


def staged_count(ws: Workspace, schemas: Sequence[str]) -> int:
    """How many rows the attached ``schemas`` hold together."""
    # Staging tables are only appended to, so the last rowid is the row count.
    return sum(
        ws.scalar(f"SELECT coalesce(max(rowid), 0) FROM {_named(s)}.staging") for s in schemas
    )


def _named(schema: str) -> str:
    """``schema`` if it is one ``attached`` gives (it goes into SQL as an identifier)."""
    if not re.fullmatch(r"stage[0-9]+", schema):
        raise ValueError(f"not a staging schema: {schema!r}")
    return schema
