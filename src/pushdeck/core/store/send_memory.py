"""How a campaign send uses SQLite's memory: stream the journal, keep nothing around.

The workspace connection keeps a 64 MB page cache and reads through a 1 GB memory map,
which is right for imports and for counting segments all over a large table. A send
reads the audience once in device order and updates each journal row twice, so both
only grow the process: with them, peak RSS rose with the campaign's size (208 MB at
100,000 devices, 395 MB at 300,000; bench/README.md, issue 19). For the duration of a
send the connection uses no memory map and a small cache, and gets its settings back
afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pushdeck.core.store.workspace import Workspace

#: Page cache while sending, in KiB (SQLite's negative cache_size form).
SEND_CACHE_KIB = 8192


@contextmanager
def streaming(ws: Workspace) -> Iterator[None]:
    """No memory map and an 8 MB page cache on ``ws``'s connection inside the block.

    (Nothing to do on PostgreSQL: the server holds the pages.)
    """
    if not ws.dialect.is_sqlite:
        yield
        return
    conn = ws.sqlite
    mmap_size = int(conn.execute("PRAGMA mmap_size").fetchone()[0])
    cache_size = int(conn.execute("PRAGMA cache_size").fetchone()[0])
    stream_from_now_on(ws)
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size = {cache_size}")
        conn.execute(f"PRAGMA mmap_size = {mmap_size}")


def stream_from_now_on(ws: Workspace) -> None:
    """The same settings for the rest of the connection's life: for a process that only
    sends and exits (``pushdeck campaigns send``), whose closing ``PRAGMA optimize`` would
    otherwise read the freshly written journal through the memory map."""
    if not ws.dialect.is_sqlite:
        return
    ws.conn.execute("PRAGMA mmap_size = 0")
    ws.conn.execute(f"PRAGMA cache_size = -{SEND_CACHE_KIB}")
