"""Large imports on PostgreSQL: COPY the checked rows in, merge them in one transaction.

The staged path (devices/staged_import.py) reads and checks a large file in two parts,
as on SQLite. On a PostgreSQL workspace the rows go to the server with ``COPY … FROM
STDIN`` into a temporary table (one per connection: a process killed mid-COPY takes it
with it, and the workspace never saw a row): the first part's as they are read, the
second part's from its reader's rows file after. One transaction then merges them:
another client sees the devices as they were before, or after, never half. Other writers
wait for it, as they wait for SQLite's one writer.

The merge keeps the SQLite path's semantics exactly (``devices.upsert_from_staging``,
which upserts staged rows one by one in file order):

- a token staged twice ends last-wins; its ``last_seen`` is the last non-empty one (each
  upsert keeps the stored value when the row has none);
- untouched rows are not rewritten (the same ``WHERE`` on the update as the batch path);
- the report's counts: a row is *inserted* when it is the first of a token the workspace
  did not have; *updated* when it differs from what the row before it left stored (the
  previous row of its token in the file, or the stored device for the first); else
  *unchanged*. PostgreSQL cannot update one row twice in a statement, so only each
  token's last row is written. The tokens staged more than once (found while copying;
  usually none) are settled first: their counts come from the file's order with window
  functions, and their rows are replaced by one. Every other row is its token's first
  and last, so one join updates the known tokens (counting what changed) and one
  insert adds the rest. With the table locked against other writers, new tokens are
  plain inserts and known ones plain updates (``ON CONFLICT`` costs a speculative
  insertion per row: 20 % more at 200,000 rows);
- tags follow through the devices' triggers (``device_tags``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pushdeck.core.store.devices import _COLUMNS, _UPDATED
from pushdeck.core.store.pg_bulk import owns_devices
from pushdeck.core.store.schema_pg import FOLDED_LOCALE
from pushdeck.core.store.staging import row_batches
from pushdeck.core.store.workspace import Workspace

#: The temporary table of one connection (PostgreSQL drops it when the session ends).
STAGING = "pushdeck_import_staging"

_TEXT = 'TEXT COLLATE "C"'
_TYPES = {"app_id": "BIGINT", "test": "BIGINT"}
_CREATE = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} ("
    + ", ".join(f"{c} {_TYPES.get(c, _TEXT)}" for c in _COLUMNS)
    + ", seq BIGINT NOT NULL, settled BOOLEAN)"
)
_COPY = f"COPY {STAGING} ({', '.join(_COLUMNS)}, seq) FROM STDIN"
#: The (app, token) keys staged more than once (usually none), found while copying.
REPEATED = "pushdeck_import_repeated"
_CREATE_REPEATED = (
    f"CREATE TEMPORARY TABLE IF NOT EXISTS {REPEATED} (app_id BIGINT, token {_TEXT})"
)
_COPY_REPEATED = f"COPY {REPEATED} (app_id, token) FROM STDIN"
_APP, _TOKEN = _COLUMNS.index("app_id"), _COLUMNS.index("token")
#: Memory one sort of the merge may use before spilling to disk (per connection).
_MERGE_WORK_MEM = "256MB"


#: The merge and the staging table's drop commit synchronously even where the server
#: does not (``synchronous_commit = off``). VACUUM marks a page all-visible (the segment
#: count's index-only scan, ``analyze``) only once its rows are hinted committed, which
#: waits for the commit's log to be flushed: for an asynchronous commit, for the latest
#: one of the 32 transactions sharing its commit-log slot, the drop's as well.
_FLUSHED_AT_COMMIT = "SET LOCAL synchronous_commit = on"


def start(ws: Workspace) -> None:
    """Empty staging tables on this workspace's connection."""
    ws.conn.execute(_CREATE)
    ws.conn.execute(_CREATE_REPEATED)
    ws.conn.execute(f"TRUNCATE {STAGING}, {REPEATED}")


class Copier:
    """One COPY of rows into the staging table, as the first reader reads them and then
    from the second reader's rows file.

    Rows keep their order (as added) in ``seq``. The first part of a file is added batch
    by batch while it is read (no staging file: writing and reading one cost 2.7 s at
    500,000 rows), the second part's rows file (``staging.RowFile``) after. The keys
    staged more than once go to ``REPEATED`` at the end: only their rows need the
    merge's window pass. A key is remembered by its hash (about 50 bytes a row): a
    collision only sends one more key through the window pass, which gives the same
    result. If the block raises, the COPY is abandoned and the staging table keeps
    nothing of it.
    """

    def __init__(self, ws: Workspace) -> None:
        self._cursor = ws.conn.raw.cursor()
        self.copied = 0
        self._seen: set[int] = set()
        self._repeated: set[tuple[int, str]] = set()

    def __enter__(self) -> Copier:
        self._block = self._cursor.copy(_COPY)
        self._copy = self._block.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._block.__exit__(*exc)
        if exc[0] is None and self._repeated:
            with self._cursor.copy(_COPY_REPEATED) as copy:
                for app_token in self._repeated:
                    copy.write_row(app_token)

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Rows in ``devices._COLUMNS`` order (``devices.staging_rows``), next in the file."""
        write, seq = self._copy.write_row, self.copied
        for row in rows:
            seq += 1
            write((*row, seq))
        _note_repeats(rows, self._seen, self._repeated)
        self.copied = seq

    def add_row_file(self, path: Path) -> None:
        """The rows of a ``staging.RowFile``, next in the file."""
        for batch in row_batches(path):
            self.add(batch)


def _note_repeats(
    batch: Sequence[tuple[Any, ...]], seen: set[int], repeated: set[tuple[int, str]]
) -> None:
    """Add the batch's keys to ``seen`` (by hash); those seen before go to ``repeated``.

    Set operations over the whole batch (C loops): a key-by-key loop was an eighth of
    the copy's time. Only a batch with a repeat is looked at key by key.
    """
    keys = [hash((row[_APP], row[_TOKEN])) for row in batch]
    fresh = set(keys)
    if len(fresh) == len(keys) and seen.isdisjoint(fresh):
        seen |= fresh
        return
    for row, key in zip(batch, keys, strict=True):
        if key in seen:
            repeated.add((row[_APP], row[_TOKEN]))
        else:
            seen.add(key)


def stage_rejects(stage: Path) -> list[tuple[int, str, str]]:
    """The rejected rows a reader recorded in its staging file: (line, field, reason)."""
    conn = sqlite3.connect(stage)
    try:
        return conn.execute("SELECT line, field, reason FROM rejects ORDER BY rowid").fetchall()
    finally:
        conn.close()


_KEY = "s.app_id, s.token"
_VALUES = ", ".join(f"s.{c}" for c in _UPDATED)
_STORED = ", ".join(f"d.{c}" for c in _UPDATED)
_ALL = ", ".join(_COLUMNS)

#: A non-empty last_seen tagged with its row's place, so that max() picks the latest one:
#: "last non-empty value" in one pass over the same sort (no IGNORE NULLS in PostgreSQL).
_PLACED_SEEN = "lpad(CAST(s.seq AS text), 19, '0') || s.last_seen"

#: The comment names the statement in pg_stat_activity (which shows its first 1 kB).
MERGE_MARK = "/* pushdeck: import merge */"

#: A repeated key's row as it is written: the first row's created_at, the last non-empty
#: last_seen, the rest from the last row.
_SETTLED_ROW = ", ".join(
    "s.first_created" if c == "created_at" else "s.final_seen" if c == "last_seen" else f"s.{c}"
    for c in _COLUMNS
)

#: The rows of the keys staged more than once, replaced by one settled row per key: the
#: last row, with the first row's created_at (it is set on insert only) and the last
#: non-empty last_seen. Returns how many of those rows change what the row before them
#: left stored (the previous row of the key, or the stored device for the first row);
#: the first row of a key the workspace does not have is an insert, not a change. The
#: windows share one sort (key, then file order), over these rows only.
_SETTLE_REPEATS = f"""{MERGE_MARK}
WITH placed AS MATERIALIZED (
    SELECT s.*,
        row_number() OVER file_order AS n,
        count(*) OVER token_rows - row_number() OVER file_order + 1 AS from_end,
        first_value(s.created_at) OVER file_order AS first_created,
        substr(max({_PLACED_SEEN}) OVER token_rows, 20) AS final_seen,
        ROW({_VALUES}) IS DISTINCT FROM lag(ROW({_VALUES})) OVER file_order
            AS differs_from_previous,
        substr(max({_PLACED_SEEN}) OVER (file_order
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 20) AS previous_seen
    FROM {STAGING} s JOIN {REPEATED} r ON r.app_id = s.app_id AND r.token = s.token
    WINDOW token_rows AS (PARTITION BY {_KEY}), file_order AS (token_rows ORDER BY s.seq)
),
removed AS (
    DELETE FROM {STAGING} s USING {REPEATED} r WHERE r.app_id = s.app_id AND r.token = s.token
),
settled AS (
    INSERT INTO {STAGING} ({_ALL}, seq, settled)
    SELECT {_SETTLED_ROW}, s.seq, true
    FROM placed s WHERE s.from_end = 1
)
SELECT count(*) FILTER (WHERE CASE
        WHEN s.n = 1 AND d.id IS NULL THEN false
        WHEN s.n = 1 THEN ROW({_VALUES}) IS DISTINCT FROM ROW({_STORED})
            OR (s.last_seen IS NOT NULL AND s.last_seen IS DISTINCT FROM d.last_seen)
        ELSE s.differs_from_previous
            OR (s.last_seen IS NOT NULL
                AND s.last_seen IS DISTINCT FROM coalesce(s.previous_seen, d.last_seen))
    END)
FROM placed s LEFT JOIN devices d ON d.app_id = s.app_id AND d.token = s.token
"""

_DIFFERS = " OR ".join(f"d.{c} IS DISTINCT FROM s.{c}" for c in _UPDATED)

#: Each staged row (one per key by now) written over its stored device where it changes
#: something: one join, no per-row lookups. Counts the changed rows that were not
#: counted while settling repeats. An empty last_seen keeps the stored one.
_UPDATE = f"""{MERGE_MARK}
WITH updated AS (
    UPDATE devices d SET {", ".join(f"{c} = s.{c}" for c in _UPDATED)},
        last_seen = coalesce(s.last_seen, d.last_seen)
    FROM {STAGING} s
    WHERE d.app_id = s.app_id AND d.token = s.token
        AND ({_DIFFERS} OR (s.last_seen IS NOT NULL AND d.last_seen IS DISTINCT FROM s.last_seen))
    RETURNING s.settled
)
SELECT count(*) FILTER (WHERE settled IS NULL) FROM updated
"""

#: The staged rows the workspace does not have, inserted in token order (the (app,
#: token) index grows by appending), with their tags in one pass where this role may set
#: the per-row tag trigger aside. ``%(unknown)s`` is the condition that a row is new:
#: ``true`` when the staged apps have no device yet. No (tag, device) pair of a new
#: device can be stored already, and the importer stages each device's tags as a sorted
#: set (``fields.parse_tags``), so no pair comes twice: plain insertions, not
#: ``ON CONFLICT``'s speculative ones (1.2 s less at 1,000,000 devices).
_INSERT = f"""{MERGE_MARK}
WITH inserted AS (
    INSERT INTO devices ({_ALL})
    SELECT {", ".join(f"s.{c}" for c in _COLUMNS)} FROM {STAGING} s
    WHERE %(unknown)s
    ORDER BY s.token
    RETURNING id, tags
),
tagged AS (
    INSERT INTO device_tags (tag, device_id)
    SELECT t.value, i.id
    FROM inserted i, jsonb_array_elements_text(CAST(i.tags AS jsonb)) AS t(value)
    WHERE i.tags <> '[]' AND %(tags_by_set)s
)
SELECT count(*) FROM inserted
"""
_UNKNOWN = "NOT EXISTS (SELECT 1 FROM devices d WHERE d.app_id = s.app_id AND d.token = s.token)"

#: Whether the staged apps have no device yet (read under the merge's lock, so it stays
#: true): then every staged row is an insert, with no update and no lookup.
_FIRST_DEVICES = f"""
SELECT NOT EXISTS (
    SELECT 1 FROM devices d WHERE d.app_id IN (SELECT DISTINCT app_id FROM {STAGING}))
"""


def first_devices(conn: Any) -> bool:
    """Inside the merge's transaction, under its lock: whether nothing staged is stored."""
    return bool(conn.execute(_FIRST_DEVICES).fetchone()[0])


def merge(ws: Workspace) -> tuple[int, int]:
    """Upsert the staged rows in one transaction (see the docstring); (inserted, updated).

    The devices table is locked against other writers for the transaction (SHARE ROW
    EXCLUSIVE: readers go on, seeing the rows as they were), so a token cannot arrive
    between reading what is stored and writing: new tokens are plain inserts (several
    times cheaper than ``ON CONFLICT``) and known ones are updated in place. SQLite's
    single writer gives the same. Where this role owns the table, the per-row tag
    trigger is set aside for the transaction and new rows' tags are added in one pass.
    Three statements: keys staged twice are settled to one row each (usually there are
    none), known devices are updated, new ones inserted.
    """
    with ws.transaction() as conn:
        conn.execute(f"SET LOCAL work_mem = '{_MERGE_WORK_MEM}'")
        # A million-row estimate makes the planner compile expressions to machine code
        # (0.16 s) for statements whose time goes to writing rows.
        conn.execute("SET LOCAL jit = off")
        conn.execute(_FLUSHED_AT_COMMIT)
        conn.execute("LOCK TABLE devices IN SHARE ROW EXCLUSIVE MODE")
        changed = 0
        if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {REPEATED})").fetchone()[0]:
            changed += conn.execute(_SETTLE_REPEATS).fetchone()[0]
        first = first_devices(conn)
        if not first:
            changed += conn.execute(_UPDATE).fetchone()[0]
        owner = owns_devices(ws)
        if owner:
            conn.execute("ALTER TABLE devices DISABLE TRIGGER devices_tags_insert")
        insert = _INSERT.replace("%(unknown)s", "true" if first else _UNKNOWN)
        insert = insert.replace("%(tags_by_set)s", "true" if owner else "false")
        inserted = conn.execute(insert).fetchone()[0]
        if owner:
            conn.execute("ALTER TABLE devices ENABLE TRIGGER devices_tags_insert")
    return int(inserted), int(changed)


def finish(ws: Workspace) -> None:
    """Drop the staging table (its rows are merged, or the import failed)."""
    if ws.conn.in_transaction:  # a COPY that failed mid-way leaves its transaction aborted
        ws.conn.execute("ROLLBACK")
    with ws.transaction() as conn:
        conn.execute(_FLUSHED_AT_COMMIT)
        conn.execute(f"DROP TABLE IF EXISTS {STAGING}, {REPEATED}")


def analyze(ws: Workspace) -> None:
    """Refresh the planner's statistics and the visibility map after a bulk load.

    Autovacuum would, some time later; until then the planner guesses (a table that went
    from empty to a million rows), and segment counts take slow plans. VACUUM marks the
    new pages all-visible, so the typical segment is counted from two indexes alone
    (``schema_pg.SEGMENT_PREFIX_INDEX`` and the tags' key) without reading a device row.
    The statistics object tells the planner how platform and folded locale go together
    (a third of the devices start 'pt', all of them iOS in the bench): without it, it
    guesses a few percent and hashes the wrong side. It is created once, by a role that
    owns the table, on PostgreSQL 14 or later; VACUUM and ANALYZE skip, with a warning,
    tables this role does not own.
    """
    raw = ws.conn.raw
    if raw.info.server_version >= 140000 and owns_devices(ws):
        with ws.transaction() as conn:
            conn.execute(_FLUSHED_AT_COMMIT)
            conn.execute(
                "CREATE STATISTICS IF NOT EXISTS devices_platform_locale (mcv, dependencies)"
                f" ON platform, ({FOLDED_LOCALE}) FROM devices"
            )
    # Both VACUUMs before either ANALYZE, whose commits are asynchronous (see above).
    ws.conn.execute("VACUUM devices, device_tags")
    ws.conn.execute("ANALYZE devices, device_tags")
