"""Campaign rows: the spec as JSON text, the status and the life's timestamps.

``pushdeck.core.campaigns.spec.library`` decides what may change; this module only reads and
writes rows. A name taken by another campaign is reported as a ``ConfigError``.
"""

from __future__ import annotations

from typing import Any

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.store.workspace import Connection, IntegrityError, Row, Workspace, utcnow


def insert_campaign(
    ws: Workspace, *, name: str, app: str, status: str, spec_json: str, scheduled_at: str | None
) -> None:
    now = utcnow()
    try:
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO campaigns (name, app_id, status, spec, created_at, updated_at,"
                " scheduled_at) VALUES (?, (SELECT id FROM apps WHERE name = ?), ?, ?, ?, ?, ?)",
                (name, app, status, spec_json, now, now, scheduled_at),
            )
    except IntegrityError:
        raise ConfigError(
            f"A campaign named {name!r} already exists.",
            hint="Choose another name, or duplicate the existing campaign to change it.",
        ) from None


def update_campaign(
    ws: Workspace,
    campaign_id: int,
    *,
    name: str,
    app: str,
    spec_json: str,
    scheduled_at: str | None,
    status: str,
) -> None:
    try:
        with ws.transaction() as conn:
            conn.execute(
                "UPDATE campaigns SET name = ?, app_id = (SELECT id FROM apps WHERE name = ?),"
                " spec = ?, updated_at = ?, scheduled_at = ?, status = ? WHERE id = ?",
                (name, app, spec_json, utcnow(), scheduled_at, status, campaign_id),
            )
    except IntegrityError:
        raise ConfigError(f"A campaign named {name!r} already exists.") from None


def row_by_name(ws: Workspace, name: str) -> Row | None:
    rows = ws.query("SELECT * FROM campaigns WHERE name = ?", (name,))
    return rows[0] if rows else None


def row_by_id(ws: Workspace, campaign_id: int) -> Row | None:
    rows = ws.query("SELECT * FROM campaigns WHERE id = ?", (campaign_id,))
    return rows[0] if rows else None


def names(ws: Workspace) -> list[str]:
    """Every campaign's name, newest first."""
    return [r[0] for r in ws.query("SELECT name FROM campaigns ORDER BY created_at DESC, id DESC")]


def rows(ws: Workspace, *, status: str | None = None) -> list[Row]:
    """All campaign rows, newest first, optionally only those with ``status``."""
    if status is None:
        return ws.query("SELECT * FROM campaigns ORDER BY id DESC")
    return ws.query("SELECT * FROM campaigns WHERE status = ? ORDER BY id DESC", (status,))


def delete_campaign(ws: Workspace, campaign_id: int) -> None:
    with ws.transaction() as conn:
        conn.execute("DELETE FROM campaigns WHERE id = ?", (campaign_id,))


def set_status(
    ws: Workspace,
    name: str,
    status: str,
    *,
    error: str | None = None,
    started: bool = False,
    finished: bool = False,
) -> None:
    """Store a status (and optionally the error, the first start and the finish time)."""
    sets = ["status = ?", "updated_at = ?"]
    now = utcnow()
    params: list[Any] = [status, now]
    if error is not None:
        sets.append("error = ?")
        params.append(error)
    if started:
        sets.append("started_at = coalesce(started_at, ?)")
        params.append(now)
    if finished:
        sets.append("finished_at = ?")
        params.append(now)
    with ws.transaction() as conn:
        conn.execute(f"UPDATE campaigns SET {', '.join(sets)} WHERE name = ?", (*params, name))


def mark_sending(conn: Connection, campaign_id: int) -> None:
    """Inside the caller's transaction: the campaign is 'sending' from now (its first
    start remembered, the last run's error cleared), as ``set_status`` would store it."""
    now = utcnow()
    conn.execute(
        "UPDATE campaigns SET status = 'sending', updated_at = ?, error = '',"
        " started_at = coalesce(started_at, ?) WHERE id = ?",
        (now, now, campaign_id),
    )


def status_row(ws: Workspace, campaign_id: int) -> Row | None:
    """(name, status) of one campaign as stored now."""
    rows = ws.query("SELECT name, status FROM campaigns WHERE id = ?", (campaign_id,))
    return rows[0] if rows else None
