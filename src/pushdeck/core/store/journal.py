"""The send journal: one row per (campaign, device), its state and the provider's answer.

``pushdeck.core.campaigns.journal`` says what the states mean and turns the dispatcher's
outcomes into rows; this module only reads and writes them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, NamedTuple

from pushdeck.core.store.workspace import Connection, Row, Workspace, utcnow


class Requeued(NamedTuple):
    """A row handed back to the queue, with what its sends learned so far."""

    device_id: int
    attempts: int
    reason: str  # '' keeps the stored reason
    http_status: int | None
    unknown_sends: int


class Finished(NamedTuple):
    """A row's final state and the provider's (already sanitized) answer."""

    device_id: int
    state: str
    attempts: int
    provider_id: str
    http_status: int | None
    reason: str
    unknown_sends: int


class Unregistered(NamedTuple):
    """A device the provider called dead: it is marked unregistered."""

    device_id: int
    reason: str
    at: str


def reason_counts(ws: Workspace, campaign_id: int, state: str) -> list[tuple[str, int]]:
    """Counts by reason for one journal state, most common first."""
    rows = ws.query(
        "SELECT reason, count(*) AS n FROM journal WHERE campaign_id = ? AND state = ?"
        " GROUP BY reason ORDER BY n DESC, reason",
        (campaign_id, state),
    )
    return [(r[0], r[1]) for r in rows]


def recover_in_flight(ws: Workspace, campaign_id: int) -> int:
    """Re-queue sends whose outcome a crash lost; return how many (possible duplicates)."""
    with ws.transaction() as conn:
        cursor = conn.execute(
            "UPDATE journal SET state = 'queued', possibly_duplicated = possibly_duplicated + 1"
            " WHERE campaign_id = ? AND state = 'in_flight'",
            (campaign_id,),
        )
    return int(cursor.rowcount)


def mark_in_flight_while_sending(
    ws: Workspace, campaign_id: int, device_ids: Sequence[int]
) -> str | None:
    """Mark queued rows in flight, committed before their sends start, but only while the
    campaign is still 'sending' (another process may have paused or cancelled it).

    Returns None when marked, else the campaign's stored status (nothing is marked).
    """
    now = utcnow()
    with ws.transaction() as conn:
        # FOR UPDATE on PostgreSQL: a pause or cancel waits until these rows are marked.
        row = conn.execute(
            f"SELECT status FROM campaigns WHERE id = ?{ws.dialect.for_update()}", (campaign_id,)
        ).fetchone()
        if row is None or row[0] != "sending":
            return str(row[0]) if row is not None else ""
        conn.executemany(
            "UPDATE journal SET state = 'in_flight', sent_at = ?"
            " WHERE campaign_id = ? AND device_id = ? AND state = 'queued'",
            [(now, campaign_id, i) for i in device_ids],
        )
    return None


def requeue(ws: Workspace, campaign_id: int, device_ids: Collection[int]) -> None:
    """Put rows that were marked in flight but certainly never sent back in the queue."""
    if not device_ids:
        return
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE journal SET state = 'queued', claimed_by = NULL WHERE campaign_id = ?"
            " AND device_id = ? AND state = 'in_flight'",
            [(campaign_id, i) for i in device_ids],
        )


def cancel_queued(ws: Workspace, campaign_id: int) -> None:
    """End the campaign's queued and held rows as 'cancelled'."""
    with ws.transaction() as conn:
        _cancel_queued(conn, campaign_id)


def _cancel_queued(conn: Connection, campaign_id: int) -> None:
    conn.execute(
        "UPDATE journal SET state = 'cancelled', finished_at = ?"
        " WHERE campaign_id = ? AND state IN ('queued', 'held')",
        (utcnow(), campaign_id),
    )


def counts_by_state(ws: Workspace, campaign_id: int) -> dict[str, int]:
    rows = ws.query(
        "SELECT state, count(*) FROM journal WHERE campaign_id = ? GROUP BY state", (campaign_id,)
    )
    return {r[0]: r[1] for r in rows}


def possibly_duplicated(ws: Workspace, campaign_id: int) -> int:
    """Devices sent again after an unknown outcome: a crash, or a transport error."""
    return int(
        ws.scalar(
            "SELECT count(*) FROM journal WHERE campaign_id = ? AND possibly_duplicated > 0",
            (campaign_id,),
        )
    )


def waiting_reasons(ws: Workspace, campaign_id: int, limit: int = 5) -> list[tuple[str, int]]:
    """Why queued devices are still waiting (their last transient failure), most first."""
    rows = ws.query(
        "SELECT reason, count(*) AS n FROM journal WHERE campaign_id = ? AND state = 'queued'"
        " AND reason != '' GROUP BY reason ORDER BY n DESC, reason LIMIT ?",
        (campaign_id, limit),
    )
    return [(r[0], r[1]) for r in rows]


def queued_page(
    ws: Workspace,
    campaign_id: int,
    after: int,
    limit: int,
    timezones: Collection[str] | None = None,
) -> list[Row]:
    """The next queued rows (with their device columns), keyset-paged by device id."""
    zone_sql, zone_params = "", tuple[str, ...]()
    if timezones is not None:
        marks = ", ".join("?" * len(timezones)) or "NULL"
        zone_sql, zone_params = f" AND j.timezone IN ({marks})", tuple(timezones)
    sql = (
        "SELECT d.*, a.name AS app, j.variant AS j_variant, j.attempts AS j_attempts"
        " FROM journal j JOIN devices d ON d.id = j.device_id JOIN apps a ON a.id = d.app_id"
        f" WHERE j.campaign_id = ? AND j.state = 'queued' AND j.device_id > ?{zone_sql}"
        " ORDER BY j.device_id LIMIT ?"
    )
    return ws.query(sql, (campaign_id, after, *zone_params, limit))


def journal_rows(ws: Workspace, campaign_id: int) -> list[Mapping[str, Any]]:
    """Every row of one campaign (tests and small exports only)."""
    return [
        dict(r)
        for r in ws.query(
            "SELECT * FROM journal WHERE campaign_id = ? ORDER BY device_id", (campaign_id,)
        )
    ]


def requeue_in_flight(ws: Workspace, campaign_id: int, rows: Sequence[Requeued]) -> None:
    """Put in-flight rows back in the queue, keeping attempts so far, the last failure's
    reason and status, and the count of sends that may have arrived."""
    if not rows:
        return
    params = [
        (r.attempts, r.reason, r.reason, r.http_status, r.unknown_sends, campaign_id, r.device_id)
        for r in rows
    ]
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE journal SET state = 'queued', claimed_by = NULL,"
            f" attempts = {ws.dialect.greatest('attempts', '?')},"
            " reason = CASE WHEN ? = '' THEN reason ELSE ? END,"
            " http_status = coalesce(?, http_status),"
            " possibly_duplicated = possibly_duplicated + ?"
            " WHERE campaign_id = ? AND device_id = ? AND state = 'in_flight'",
            params,
        )


def record_finished(
    ws: Workspace,
    campaign_id: int,
    rows: Sequence[Finished],
    unregistered: Sequence[Unregistered] = (),
) -> None:
    """Store a batch of final states, and unregister dead devices, in one transaction."""
    now = utcnow()
    params = [
        (
            r.state, r.attempts, r.provider_id, r.http_status, r.reason, now, r.unknown_sends,
            campaign_id, r.device_id,
        )
        for r in rows
    ]  # fmt: skip
    with ws.transaction() as conn:
        if ws.dialect.is_postgres and rows:
            # One statement: the summary trigger then runs once for the batch, and its
            # locks are taken in one order (no deadlock between two workers' batches).
            conn.execute(
                "UPDATE journal j SET state = v.state, attempts = v.attempts,"
                " provider_id = v.provider_id, http_status = v.http_status,"
                " reason = v.reason, finished_at = ?,"
                " possibly_duplicated = j.possibly_duplicated + v.unknown, claimed_by = NULL"
                " FROM unnest(?::bigint[], ?::text[], ?::bigint[], ?::text[], ?::bigint[],"
                " ?::text[], ?::bigint[])"
                " AS v(device_id, state, attempts, provider_id, http_status, reason, unknown)"
                " WHERE j.campaign_id = ? AND j.device_id = v.device_id",
                (
                    now, [r.device_id for r in rows], [r.state for r in rows],
                    [r.attempts for r in rows], [r.provider_id for r in rows],
                    [r.http_status for r in rows], [r.reason for r in rows],
                    [r.unknown_sends for r in rows], campaign_id,
                ),
            )  # fmt: skip
        else:
            conn.executemany(
                "UPDATE journal SET state = ?, attempts = ?, provider_id = ?, http_status = ?,"
                " reason = ?, finished_at = ?, possibly_duplicated = possibly_duplicated + ?,"
                " claimed_by = NULL WHERE campaign_id = ? AND device_id = ?",
                params,
            )
        if unregistered:
            conn.executemany(
                "UPDATE devices SET status = 'unregistered', status_reason = ?, status_at = ?"
                " WHERE id = ?",
                [(u.reason, u.at or now, u.device_id) for u in unregistered],
            )


def cancel_campaign(ws: Workspace, campaign_id: int) -> None:
    """Cancel a campaign: its queued and held rows end 'cancelled', and so does it."""
    now = utcnow()
    with ws.transaction() as conn:
        _cancel_queued(conn, campaign_id)
        conn.execute(
            "UPDATE campaigns SET status = 'cancelled', finished_at = ?, updated_at = ?"
            " WHERE id = ?",
            (now, now, campaign_id),
        )


def sent_any(ws: Workspace, campaign_id: int) -> bool:
    """Whether any row of the campaign left the queue (was sent or is being sent)."""
    return bool(
        ws.scalar(
            "SELECT EXISTS (SELECT 1 FROM journal WHERE campaign_id = ?"
            " AND state NOT IN ('queued', 'excluded', 'control', 'cancelled'))",
            (campaign_id,),
        )
    )


def zone_states(ws: Workspace, campaign_id: int, zone: str) -> set[str]:
    """The states of one time-zone group's rows (empty before the journal is written)."""
    rows = ws.query(
        "SELECT DISTINCT state FROM journal WHERE campaign_id = ? AND timezone = ?",
        (campaign_id, zone),
    )
    return {r[0] for r in rows}
