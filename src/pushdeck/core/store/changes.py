"""Noticing that a workspace changed, whoever changed it, cheaply enough to poll each second.

Two counters say *whether* anything was committed since the last look: SQLite's
``PRAGMA data_version`` moves when another connection commits (the CLI, a send on its
own connection, the event collector, another window), and ``total_changes`` counts the
rows this connection wrote itself. Only when one moved is a ``WorkspaceStamp`` taken: a
few small aggregates per area the app shows, so the pages refresh only what changed and
a draft's autosave (which no page shows) refreshes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

from pushdeck.core.store.workspace import Workspace

#: The areas a change can touch (names of ``WorkspaceStamp`` fields).
CAMPAIGNS, DEVICES, SEGMENTS, APPS, EVENTS = "campaigns", "devices", "segments", "apps", "events"


def change_counters(ws: Workspace) -> tuple[int, int]:
    """(commits by other connections, rows written by this one); both only ever grow.

    On PostgreSQL one number stands for both: the next transaction id of the server
    (``pg_current_snapshot``'s xmax), which moves whenever any client writes anything.
    Other databases' writes move it too: a stamp is then taken for nothing, no harm.
    """
    if ws.dialect.is_postgres:
        return int(ws.scalar("SELECT CAST(pg_snapshot_xmax(pg_current_snapshot()) AS text)")), 0
    return int(ws.scalar("PRAGMA data_version")), ws.conn.total_changes


@dataclass(frozen=True)
class WorkspaceStamp:
    """One small value per area; two stamps differ in an area when it changed."""

    campaigns: str  # every campaign's id, name, status and times (the table is small)
    devices: tuple[int, str]  # highest id, latest last_seen
    segments: str  # every segment's id, name and update time
    apps: str  # apps and their credentials (facts include the last check)
    events: int  # highest event id (engagement arriving)


def _digest(rows: list[object]) -> str:
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def workspace_stamp(ws: Workspace) -> WorkspaceStamp:
    campaigns = ws.query(
        "SELECT id, name, status, updated_at, scheduled_at, started_at, finished_at"
        " FROM campaigns ORDER BY id"
    )
    # Index lookups only (no count: that scans a million-row table, ~250 ms): a new
    # device raises the highest id, a device seen again the latest last_seen.
    top = ws.scalar("SELECT coalesce(max(id), 0) FROM devices")
    seen = ws.scalar("SELECT coalesce(max(last_seen), '') FROM devices")
    segments = ws.query("SELECT id, name, updated_at FROM segments ORDER BY id")
    apps = ws.query(
        "SELECT a.id, a.name, a.apns_topic, a.android_package, a.web_origin, c.provider,"
        " c.facts, c.endpoint, c.created_at FROM apps a LEFT JOIN credentials c"
        " ON c.app_id = a.id ORDER BY a.id, c.provider"
    )
    return WorkspaceStamp(
        campaigns=_digest([tuple(r) for r in campaigns]),
        devices=(int(top), str(seen)),
        segments=_digest([tuple(r) for r in segments]),
        apps=_digest([tuple(r) for r in apps]),
        events=int(ws.scalar("SELECT coalesce(max(id), 0) FROM events")),
    )


def changed_areas(before: WorkspaceStamp | None, after: WorkspaceStamp) -> frozenset[str]:
    """The areas whose stamp differs (every area when there was no earlier stamp)."""
    names = [f.name for f in fields(WorkspaceStamp)]
    if before is None:
        return frozenset(names)
    return frozenset(n for n in names if getattr(before, n) != getattr(after, n))


class ChangeWatcher:
    """Remembers the last look at one workspace; ``poll`` says which areas changed since.

    Use it on the thread that owns the workspace connection.
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.counters = change_counters(ws)
        self.stamp = workspace_stamp(ws)

    def poll(self) -> frozenset[str]:
        counters = change_counters(self.ws)
        if counters == self.counters:
            return frozenset()  # nothing committed by anyone: no query at all
        self.counters = counters
        stamp = workspace_stamp(self.ws)
        areas = changed_areas(self.stamp, stamp)
        self.stamp = stamp
        return areas
