"""Reading the audit log (written only by the database's triggers and functions).

On a workspace file the table exists and stays empty: one local user, nothing to tell
apart.
"""

from __future__ import annotations

from pushdeck.core.store.workspace import Row, Workspace


def rows(ws: Workspace, *, since: str | None = None, limit: int | None = None) -> list[Row]:
    """Entries at or after ``since`` (stored form, UTC), oldest first; with ``limit``
    the newest ``limit`` of them."""
    where, params = ("WHERE at >= ?", [since]) if since else ("", [])
    if limit is None:
        return ws.query(f"SELECT * FROM audit_log {where} ORDER BY id", params)
    return list(
        reversed(
            ws.query(f"SELECT * FROM audit_log {where} ORDER BY id DESC LIMIT ?", [*params, limit])
        )
    )
