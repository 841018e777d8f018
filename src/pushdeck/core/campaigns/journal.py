"""The send journal: one durable row per (campaign, device), written in batches.

States::

    queued ──► in_flight ──► accepted | rejected | skipped | dead
      │ ▲
      ▼ │ (released when the device's quiet hours end)
    held
    (excluded and control are final from the start, excluded also by a frequency cap
    or quiet hours at send time; cancelled ends queued and held rows)

A row is committed as ``in_flight`` *before* its send starts and gets its outcome
afterwards, so after a crash every row still ``in_flight`` is exactly a send whose
outcome is unknown: it is re-queued and its ``possibly_duplicated`` counter raised.

A transient failure (provider unavailable, throttling, no connection) never makes a
row final: it goes back to ``queued`` with the failure as its ``reason``, and a later
``send`` (or Resume) sends it. Only a request that was written and not answered raises
``possibly_duplicated``; one that never reached the provider does not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pushdeck.core.common.untrusted import provider_text
from pushdeck.core.store.workspace import Workspace, utcnow


class JournalState(StrEnum):
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # never sent: e.g. over the payload budget, template failed
    DEAD = "dead"  # the provider said the token is dead
    EXCLUDED = "excluded"  # targeted but cannot receive (reason says why)
    CONTROL = "control"  # hold-out group: deliberately not sent
    CANCELLED = "cancelled"  # the campaign was cancelled before it was sent
    HELD = "held"  # waits for the device's quiet hours to end (release_at)


#: States that say a send happened (the provider answered).
SENT_STATES = (JournalState.ACCEPTED, JournalState.REJECTED, JournalState.DEAD)
#: States a device never leaves.
FINAL_STATES = frozenset(
    {
        JournalState.ACCEPTED,
        JournalState.REJECTED,
        JournalState.SKIPPED,
        JournalState.DEAD,
        JournalState.EXCLUDED,
        JournalState.CONTROL,
        JournalState.CANCELLED,
    }
)


@dataclass(frozen=True)
class Outcome:
    """The final word on one device, as the dispatcher buffers it."""

    device_id: int
    state: JournalState
    attempts: int
    provider_id: str = ""
    http_status: int | None = None
    reason: str = ""
    # dead-token hygiene: mark the device unregistered with this reason and time
    unregister_reason: str = ""
    unregister_at: str = ""
    # sends whose outcome was unknown (transport error) before a retry: maybe duplicates
    unknown_sends: int = 0


def recover_in_flight(ws: Workspace, campaign_id: int) -> int:
    """Re-queue sends whose outcome a crash lost; return how many (possible duplicates)."""
    with ws.transaction() as conn:
        cursor = conn.execute(
            "UPDATE journal SET state = 'queued', possibly_duplicated = possibly_duplicated + 1"
            " WHERE campaign_id = ? AND state = 'in_flight'",
            (campaign_id,),
        )
    return cursor.rowcount


def mark_in_flight(conn: sqlite3.Connection, campaign_id: int, device_ids: Sequence[int]) -> None:
    now = utcnow()
    conn.executemany(
        "UPDATE journal SET state = 'in_flight', sent_at = ?"
        " WHERE campaign_id = ? AND device_id = ? AND state = 'queued'",
        [(now, campaign_id, i) for i in device_ids],
    )


def requeue(ws: Workspace, campaign_id: int, device_ids: Collection[int]) -> None:
    """Put rows that were marked in flight but certainly never sent back in the queue."""
    if not device_ids:
        return
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE journal SET state = 'queued' WHERE campaign_id = ? AND device_id = ?"
            " AND state = 'in_flight'",
            [(campaign_id, i) for i in device_ids],
        )


def requeue_unfinished(ws: Workspace, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
    """Put rows back in the queue after sends that did not finish them (a transient
    failure, or a stop before the send), keeping what was learned: attempts so far, the
    last failure's reason and status, and whether an earlier send may have arrived."""
    if not outcomes:
        return
    rows = [
        (
            o.attempts,
            o.reason,
            o.reason,
            o.http_status,
            o.unknown_sends,
            campaign_id,
            o.device_id,
        )
        for o in outcomes
    ]
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE journal SET state = 'queued', attempts = max(attempts, ?),"
            " reason = CASE WHEN ? = '' THEN reason ELSE ? END,"
            " http_status = coalesce(?, http_status),"
            " possibly_duplicated = possibly_duplicated + ?"
            " WHERE campaign_id = ? AND device_id = ? AND state = 'in_flight'",
            rows,
        )


def write_outcomes(ws: Workspace, campaign_id: int, outcomes: Sequence[Outcome]) -> None:
    """Record a batch of outcomes (and unregister dead devices) in one transaction.

    Reasons and ids quote the provider's answer, which is untrusted: they are stored as
    one line of capped plain text (``untrusted.provider_text``).
    """
    now = utcnow()
    rows = [
        (
            o.state.value,
            o.attempts,
            provider_text(o.provider_id) if o.provider_id else "",
            o.http_status,
            provider_text(o.reason) if o.reason else "",
            now,
            o.unknown_sends,
            campaign_id,
            o.device_id,
        )
        for o in outcomes
    ]
    dead = [
        (provider_text(o.unregister_reason), o.unregister_at or now, o.device_id)
        for o in outcomes
        if o.unregister_reason
    ]
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE journal SET state = ?, attempts = ?, provider_id = ?, http_status = ?,"
            " reason = ?, finished_at = ?, possibly_duplicated = possibly_duplicated + ?"
            " WHERE campaign_id = ? AND device_id = ?",
            rows,
        )
        if dead:
            conn.executemany(
                "UPDATE devices SET status = 'unregistered', status_reason = ?, status_at = ?"
                " WHERE id = ?",
                dead,
            )


def cancel_queued(conn: sqlite3.Connection, campaign_id: int) -> None:
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
) -> list[sqlite3.Row]:
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
