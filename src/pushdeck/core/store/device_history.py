"""A device's history across campaigns: what the journal says of its sends, its events.

The audience table's "last provider answer" column and its details panel read these.
Journal rows of a deleted campaign are left out (``campaign_id IN (SELECT id FROM
campaigns)``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pushdeck.core.store.workspace import Row, Workspace


def last_answers(ws: Workspace, device_ids: Sequence[int]) -> list[Row]:
    """(device id, campaign, state, reason, at) of every answered send to these devices,
    oldest first, so the last row of a device is its newest (one query per page)."""
    marks = ",".join("?" * len(device_ids))
    return ws.query(
        "SELECT j.device_id, c.name, j.state, j.reason, coalesce(j.finished_at, j.queued_at, '')"
        " FROM journal j JOIN campaigns c ON c.id = j.campaign_id"
        f" WHERE j.campaign_id IN (SELECT id FROM campaigns) AND j.device_id IN ({marks})"
        " AND j.state NOT IN ('queued', 'excluded', 'control')"
        " ORDER BY 5",
        tuple(device_ids),
    )


def sends(ws: Workspace, device_id: int) -> list[Row]:
    """(campaign, state, reason, at) of every journal row of the device, newest first."""
    return ws.query(
        "SELECT c.name, j.state, j.reason, coalesce(j.finished_at, j.queued_at)"
        " FROM journal j JOIN campaigns c ON c.id = j.campaign_id"
        " WHERE j.campaign_id IN (SELECT id FROM campaigns) AND j.device_id = ?"
        " ORDER BY 4 DESC",
        (device_id,),
    )


def events(ws: Workspace, device_id: int) -> list[Row]:
    """(campaign or None, kind, action id, at) of the device's newest 500 events."""
    return ws.query(
        "SELECT c.name, e.kind, e.action_id, e.at FROM events e"
        " LEFT JOIN campaigns c ON c.id = e.campaign_id WHERE e.device_id = ?"
        " ORDER BY e.at DESC LIMIT 500",
        (device_id,),
    )
