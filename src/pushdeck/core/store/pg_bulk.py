"""A large PostgreSQL import without keeping ten indexes up to date row by row.

The same idea as SQLite's ``devices.bulk_load``: building an index once over the loaded
table is several times cheaper than inserting a million entries into it one by one
(measured at 1,000,000 devices: the ten secondary indexes cost 8.5 s kept up to date,
4–5 s built after). Only the indexes other members' reads merely go faster with are
dropped: the primary keys and the unique (app, token) key stay, so upserts, joins and
``ON CONFLICT`` keep working for everyone throughout.

Locks, so that other members keep reading:

- ``DROP INDEX`` takes the table's exclusive lock, for milliseconds, in its own short
  transaction that gives up after ``_DROP_WAIT`` (a long report holding the table): the
  import then keeps the indexes and is merely slower;
- ``CREATE INDEX`` takes a SHARE lock: others read on (writers wait, as they wait for
  the merge).

A process killed in between leaves the dropped definitions in ``meta``
(``pending_indexes``, written in the dropping transaction), and the next client that
opens the workspace as the tables' owner rebuilds them (``restore_pending_indexes``). The
session advisory lock ``BULK_LOAD_LOCK``, held from the drop to the rebuild, tells that
client whether the importer is still at work (then it leaves them alone) or gone.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from typing import Any

from pushdeck.core.store.dialect import LOCK_SPACE, lock_id
from pushdeck.core.store.workspace import Workspace

#: Held (session level) by the process between dropping the indexes and rebuilding them.
BULK_LOAD_LOCK = "bulk-load"
#: The key in ``meta`` of the definitions dropped and not yet rebuilt.
PENDING = "pending_indexes"
#: How long the drop waits for readers holding the table before the import goes on
#: with its indexes kept.
_DROP_WAIT = "2s"

#: The devices' non-unique indexes (never a key or a constraint's). Only this one table:
#: dropping indexes of two tables in one transaction can deadlock with a reader that
#: holds the second table and waits for the first.
_SECONDARY = """
SELECT i.relname, pg_get_indexdef(i.oid)
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
WHERE x.indrelid = 'devices'::regclass AND NOT x.indisunique AND NOT x.indisprimary
ORDER BY i.relname
"""


def owns_devices(ws: Workspace) -> bool:
    """Whether this role owns the devices table (only an owner may drop its indexes)."""
    return bool(
        ws.scalar(
            "SELECT pg_has_role(relowner, 'USAGE') FROM pg_class"
            " WHERE oid = 'devices'::regclass"
        )
    )


def drop_secondary_indexes(ws: Workspace) -> list[str]:
    """Drop the secondary indexes for a large load; the definitions to rebuild.

    Returns ``[]`` (nothing dropped, nothing to rebuild) where this role does not own the
    tables, another load is already under way, or readers held the table past
    ``_DROP_WAIT``. Otherwise the bulk-load lock stays held until ``rebuild`` releases it.
    """
    if not owns_devices(ws) or not _try_lock(ws):
        return []
    try:
        with ws.transaction() as conn:
            conn.execute(f"SET LOCAL lock_timeout = '{_DROP_WAIT}'")
            rows = conn.execute(_SECONDARY).fetchall()
            definitions = [str(r[1]) for r in rows]
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (PENDING, json.dumps(definitions)),
            )
            for row in rows:
                conn.execute(f'DROP INDEX "{row[0]}"')
    except Exception as exc:
        _unlock(ws)
        if getattr(exc, "sqlstate", None) == "55P03":  # lock_not_available: readers
            return []
        raise
    return definitions


def rebuild(ws: Workspace, definitions: list[str]) -> None:
    """Build the dropped indexes again, forget them in ``meta``, release the lock."""
    if not definitions:
        return
    try:
        _create(ws, definitions)
    finally:
        _unlock(ws)


def restore_pending_indexes(ws: Workspace) -> None:
    """On open: rebuild what a bulk load dropped and did not live to rebuild.

    Left alone while the importer still holds its lock (it is at work), and where this
    role does not own the tables (the owner's next open does it; queries are slower
    meanwhile, never wrong).
    """
    pending = ws.scalar("SELECT value FROM meta WHERE key = ?", (PENDING,))
    if pending is None or not owns_devices(ws) or not _try_lock(ws):
        return
    try:
        _create(ws, json.loads(pending))
    finally:
        _unlock(ws)


#: Memory each index build may sort in. PostgreSQL gives a build parallel workers only
#: with at least 32 MB per process (the default 64 MB allows one), and sorts the rest on
#: disk.
_BUILD_MEMORY = "256MB"


def _create(ws: Workspace, definitions: list[str]) -> None:
    """Build the indexes on two connections at the same time, from one shared queue.

    One build keeps about 1.3 cores busy (its sort's workers wait on each other); two
    side by side fill the machine. Both hold SHARE locks, which let each other and
    readers through. ``meta`` forgets them only once all are built.
    """
    statements = [d.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1) for d in definitions]
    # Longest definitions first (the expression and covering index is a third of the
    # work at 1,000,000 devices), each connection taking the next one when it is free:
    # dealing them out in halves up front left one connection with 5.6 s of builds and
    # the other with 3.5 s.
    statements.sort(key=len, reverse=True)
    queue = deque(statements)
    failures: list[BaseException] = []
    helper = threading.Thread(target=_build_elsewhere, args=(ws, queue, failures))
    helper.start()
    try:
        with ws.transaction() as conn:
            _build_from(conn, queue, failures)
    finally:
        helper.join()
    if failures:
        raise failures[0]
    with ws.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key = ?", (PENDING,))


def _build_from(conn: Any, queue: deque[str], failures: list[BaseException]) -> None:
    """Run the queue's statements on ``conn`` (in a transaction) until it is empty or
    the other connection failed."""
    conn.execute(f"SET LOCAL maintenance_work_mem = '{_BUILD_MEMORY}'")
    while not failures:
        try:
            sql = queue.popleft()  # atomic: each statement goes to one connection
        except IndexError:
            return
        conn.execute(sql)


def _build_elsewhere(ws: Workspace, queue: deque[str], failures: list[BaseException]) -> None:
    try:
        conn = ws.another_connection()
        try:
            conn.execute("BEGIN")
            _build_from(conn, queue, failures)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
        failures.append(exc)


def _try_lock(ws: Workspace) -> bool:
    return bool(
        ws.scalar("SELECT pg_try_advisory_lock(?, ?)", (LOCK_SPACE, lock_id(BULK_LOAD_LOCK)))
    )


def _unlock(ws: Workspace) -> None:
    if ws.conn.in_transaction:
        ws.conn.execute("ROLLBACK")
    ws.conn.execute("SELECT pg_advisory_unlock(?, ?)", (LOCK_SPACE, lock_id(BULK_LOAD_LOCK)))
