"""Workers on a PostgreSQL workspace: their rows, their claims on the journal, the
scheduler's advisory lock and the wake-up channel.

``pushdeck.core.campaigns.workers`` says what a lease means and when to renew it; this
module only runs the SQL. Everything here is PostgreSQL-only: a SQLite workspace keeps
one sender per campaign (``campaigns.sender_lease``).

A claim takes up to ``limit`` queued rows with ``FOR UPDATE SKIP LOCKED`` (rows another
claimer is taking right now are skipped, not waited for) and marks them in flight with
the claimer's worker id, in one short transaction committed before any send starts.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Collection, Sequence
from typing import Any

from pushdeck.core.store.dialect import LOCK_SPACE, lock_id
from pushdeck.core.store.workspace import Row, Workspace, utcnow

#: NOTIFY channel: a campaign was queued (payload: its id) or a schedule changed.
WAKE_CHANNEL = "pushdeck_work"
#: The advisory lock (session level) held by the one worker that runs schedules.
SCHEDULER_LOCK = "scheduler"

_NOW = "EXTRACT(EPOCH FROM clock_timestamp())"


def register(ws: Workspace, name: str, kind: str, lease_seconds: float, pid_space: str) -> int:
    """A new workers row for this process; its id."""
    row = ws.conn.execute(
        "INSERT INTO workers (name, host, pid, pid_space, kind, started_at, heartbeat,"
        f" lease_seconds) VALUES (?, ?, ?, ?, ?, ?, {_NOW}, ?) RETURNING id",
        (name, socket.gethostname(), os.getpid(), pid_space, kind, utcnow(), lease_seconds),
    ).fetchone()
    return int(row[0])


def running_in(ws: Workspace, pid_space: str) -> list[tuple[int, int]]:
    """(worker id, pid) of the workers not stopped that run in ``pid_space``."""
    rows = ws.query(
        "SELECT id, pid FROM workers WHERE stopped_at IS NULL AND pid_space = ?", (pid_space,)
    )
    return [(int(r[0]), int(r[1])) for r in rows]


def declare_stopped(ws: Workspace, worker_ids: Sequence[int]) -> None:
    """Mark workers stopped (their process is gone); ``reap_expired`` re-queues their rows."""
    if worker_ids:
        ws.conn.execute(
            "UPDATE workers SET stopped_at = ?, scheduler = 0 WHERE id = ANY(?)"
            " AND stopped_at IS NULL",
            (utcnow(), list(worker_ids)),
        )


def heartbeat(ws: Workspace, worker_id: int, scheduler: bool | None = None) -> bool:
    """Renew the lease; False when the row is gone or was declared dead (re-register)."""
    extra, params = "", [worker_id]
    if scheduler is not None:
        extra, params = ", scheduler = ?", [int(scheduler), worker_id]
    cursor = ws.conn.execute(
        f"UPDATE workers SET heartbeat = {_NOW}{extra} WHERE id = ? AND stopped_at IS NULL",
        tuple(params),
    )
    return bool(cursor.rowcount == 1)


def stop(ws: Workspace, worker_id: int) -> None:
    ws.conn.execute(
        "UPDATE workers SET stopped_at = ?, scheduler = 0 WHERE id = ?", (utcnow(), worker_id)
    )


def add_sent(ws: Workspace, worker_id: int, count: int) -> None:
    ws.conn.execute("UPDATE workers SET sent = sent + ? WHERE id = ?", (count, worker_id))


def listing(ws: Workspace, include_stopped: bool = False) -> list[Row]:
    """Workers with their age in seconds since the last heartbeat (database clock)."""
    where = "" if include_stopped else " WHERE stopped_at IS NULL"
    return ws.query(
        "SELECT id, name, host, pid, kind, started_at, stopped_at, scheduler, sent,"
        f" lease_seconds, {_NOW} - heartbeat AS silent_for FROM workers{where} ORDER BY id"
    )


def reap_expired(ws: Workspace) -> tuple[int, int]:
    """Declare workers whose lease ran out stopped, and re-queue their in-flight rows as
    possibly duplicated (their sends may have reached the provider).

    Returns (workers declared dead, rows re-queued).
    """
    with ws.transaction() as conn:
        dead = conn.execute(
            f"UPDATE workers SET stopped_at = ?, scheduler = 0 WHERE stopped_at IS NULL"
            f" AND heartbeat + lease_seconds < {_NOW} RETURNING id",
            (utcnow(),),
        ).fetchall()
        cursor = conn.execute(
            "UPDATE journal SET state = 'queued', claimed_by = NULL,"
            " possibly_duplicated = possibly_duplicated + 1"
            " WHERE claimed_by IN (SELECT id FROM workers WHERE stopped_at IS NOT NULL)"
            " AND state = 'in_flight'"
        )
    return len(dead), int(cursor.rowcount)


def recover_unclaimed(ws: Workspace, campaign_id: int) -> int:
    """Re-queue in-flight rows with no claimer (a single sender of an older Pushdeck
    crashed) as possibly duplicated."""
    cursor = ws.conn.execute(
        "UPDATE journal SET state = 'queued', possibly_duplicated = possibly_duplicated + 1"
        " WHERE campaign_id = ? AND state = 'in_flight' AND claimed_by IS NULL",
        (campaign_id,),
    )
    return int(cursor.rowcount)


def release_own(ws: Workspace, campaign_id: int, worker_id: int) -> int:
    """Hand back rows this worker claimed and is not sending (a claim whose commit
    answer was lost with the connection): certainly never sent."""
    cursor = ws.conn.execute(
        "UPDATE journal SET state = 'queued', claimed_by = NULL"
        " WHERE campaign_id = ? AND claimed_by = ? AND state = 'in_flight'",
        (campaign_id, worker_id),
    )
    return int(cursor.rowcount)


def claim(
    ws: Workspace,
    campaign_id: int,
    worker_id: int,
    after: int,
    limit: int,
    timezones: Collection[str] | None,
    skip: Collection[int],
) -> tuple[str, list[Row]]:
    """Claim the next queued rows above device id ``after`` while the campaign is
    'sending'. Returns (stored status, claimed rows with their device columns); nothing
    is claimed when the status is not 'sending'."""
    zone_sql, params = "", list[Any]([campaign_id, after])
    if timezones is not None:
        zone_sql = " AND timezone = ANY(?)"
        params.append(list(timezones))
    skip_sql = ""
    if skip:
        skip_sql = " AND device_id <> ALL(?)"
        params.append(list(skip))
    with ws.transaction() as conn:
        # FOR SHARE: claimers do not wait for each other; a pause or cancel (an UPDATE
        # of this row) waits until this claim is committed, and then stops the claimers.
        row = conn.execute(
            "SELECT status FROM campaigns WHERE id = ? FOR SHARE", (campaign_id,)
        ).fetchone()
        status = str(row[0]) if row is not None else ""
        if status != "sending":
            return status, []
        ids = conn.execute(
            "WITH c AS (SELECT device_id FROM journal WHERE campaign_id = ?"
            f" AND state = 'queued' AND device_id > ?{zone_sql}{skip_sql}"
            " ORDER BY device_id LIMIT ? FOR UPDATE SKIP LOCKED)"
            " UPDATE journal j SET state = 'in_flight', sent_at = ?, claimed_by = ?"
            " FROM c WHERE j.campaign_id = ? AND j.device_id = c.device_id"
            " RETURNING j.device_id",
            (*params, limit, utcnow(), worker_id, campaign_id),
        ).fetchall()
    if not ids:
        return status, []
    rows = ws.query(
        "SELECT d.*, a.name AS app, j.variant AS j_variant, j.attempts AS j_attempts"
        " FROM journal j JOIN devices d ON d.id = j.device_id JOIN apps a ON a.id = d.app_id"
        " WHERE j.campaign_id = ? AND j.device_id = ANY(?) ORDER BY j.device_id",
        (campaign_id, [r[0] for r in ids]),
    )
    return status, rows


def open_work(
    ws: Workspace, campaign_id: int, timezones: Collection[str] | None, skip: Collection[int]
) -> tuple[int, int]:
    """(queued rows this worker may still claim, rows in flight) of one campaign."""
    params: list[Any] = [campaign_id]
    extra = ""
    if timezones is not None:
        extra += " AND timezone = ANY(?)"
        params.append(list(timezones))
    if skip:
        extra += " AND device_id <> ALL(?)"
        params.append(list(skip))
    queued = ws.scalar(
        f"SELECT count(*) FROM journal WHERE campaign_id = ? AND state = 'queued'{extra}",
        tuple(params),
    )
    in_flight = ws.scalar(
        "SELECT count(*) FROM journal WHERE campaign_id = ? AND state = 'in_flight'",
        (campaign_id,),
    )
    return int(queued), int(in_flight)


def sending_campaigns(ws: Workspace) -> list[str]:
    """Names of campaigns marked 'sending' that still have queued rows (work to join)."""
    rows = ws.query(
        "SELECT c.name FROM campaigns c WHERE c.status = 'sending' AND EXISTS"
        " (SELECT 1 FROM journal j WHERE j.campaign_id = c.id AND j.state = 'queued')"
        " ORDER BY c.id"
    )
    return [str(r[0]) for r in rows]


def stalled_campaigns(ws: Workspace) -> list[str]:
    """'sending' campaigns with nothing queued or in flight: their last sender died
    before marking them finished."""
    rows = ws.query(
        "SELECT c.name FROM campaigns c WHERE c.status = 'sending' AND EXISTS"
        " (SELECT 1 FROM journal j WHERE j.campaign_id = c.id) AND NOT EXISTS"
        " (SELECT 1 FROM journal j WHERE j.campaign_id = c.id"
        " AND j.state IN ('queued', 'in_flight'))"
    )
    return [str(r[0]) for r in rows]


def notify(ws: Workspace, payload: str = "") -> None:
    """Wake the workers listening (delivered when the current transaction commits)."""
    ws.conn.execute("SELECT pg_notify(?, ?)", (WAKE_CHANNEL, payload))


def try_scheduler_lock(ws: Workspace) -> bool:
    """Take the scheduler's session lock if free (it goes with the session: a worker
    that dies, or whose connection is cut, lets another take it)."""
    return bool(
        ws.scalar("SELECT pg_try_advisory_lock(?, ?)", (LOCK_SPACE, lock_id(SCHEDULER_LOCK)))
    )


def release_scheduler_lock(ws: Workspace) -> None:
    ws.conn.execute("SELECT pg_advisory_unlock(?, ?)", (LOCK_SPACE, lock_id(SCHEDULER_LOCK)))


def requeue_claimed(ws: Workspace, campaign_id: int, device_ids: Sequence[int]) -> None:
    """Rows claimed and certainly not sent go back to the queue, unclaimed."""
    if not device_ids:
        return
    ws.conn.execute(
        "UPDATE journal SET state = 'queued', claimed_by = NULL"
        " WHERE campaign_id = ? AND device_id = ANY(?) AND state = 'in_flight'",
        (campaign_id, list(device_ids)),
    )


class Listener:
    """A second connection that LISTENs on ``WAKE_CHANNEL``: ``wait`` returns early when
    a campaign is queued. When it breaks, ``wait`` simply sleeps (polling fallback) and
    the next call tries to listen again."""

    def __init__(self, ws: Workspace) -> None:
        self._uri = ws._uri
        self._conn: Any = None

    def _open(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._uri or "", autocommit=True)
            self._conn.execute(f"LISTEN {WAKE_CHANNEL}")
        return self._conn

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when woken by a notification."""
        import psycopg

        try:
            conn = self._open()
            return any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error:
            self._conn = None
            time.sleep(timeout)
            return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
