"""Engagement events in the workspace: the lookups that check them, and the insert.

``pushdeck.core.engagement.events`` validates; this module only reads and writes rows. An event
is checked against the send journal (did this campaign send to this device, and was
the send accepted?), so the lookup returns the journal row's state with the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pushdeck.core.store.conversions import INSERT_CONVERSIONS
from pushdeck.core.store.workspace import Workspace, utcnow

#: SQLite integers are signed 64-bit; a campaign id beyond that cannot exist.
MAX_ROW_ID = 2**63 - 1
TOKEN_KEY = "collector_token"


@dataclass(frozen=True)
class CampaignRef:
    id: int
    app_id: int


@dataclass(frozen=True)
class SendRecord:
    """A device of the campaign's app and what the journal says about sending to it.

    ``state`` is None when the journal has no row: the campaign never targeted it.
    """

    device_id: int
    state: str | None
    variant: str
    possibly_duplicated: bool


def find_campaign(ws: Workspace, name: str) -> CampaignRef | None:
    """The campaign called ``name``, or whose id is ``name`` (ASCII digits in range)."""
    rows = ws.query("SELECT id, app_id FROM campaigns WHERE name = ?", (name,))
    if not rows and name.isascii() and name.isdigit() and int(name) <= MAX_ROW_ID:
        rows = ws.query("SELECT id, app_id FROM campaigns WHERE id = ?", (int(name),))
    return CampaignRef(rows[0][0], rows[0][1]) if rows else None


def find_send(ws: Workspace, campaign: CampaignRef, token: str) -> SendRecord | None:
    """The device with ``token`` in the campaign's app and its journal row, if any."""
    rows = ws.query(
        "SELECT d.id, j.state, coalesce(j.variant, ''), coalesce(j.possibly_duplicated, 0)"
        " FROM devices d LEFT JOIN journal j ON j.device_id = d.id AND j.campaign_id = ?"
        " WHERE d.app_id = ? AND d.token = ?",
        (campaign.id, campaign.app_id, token),
    )
    if not rows:
        return None
    device_id, state, variant, duplicated = rows[0]
    return SendRecord(device_id, state, variant, bool(duplicated))


_INSERT = (
    "INTO events (event_id, campaign_id, device_id, variant, kind, action_id,"
    " at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_events(
    ws: Workspace,
    rows: Sequence[tuple[Any, ...]],
    conversions: Sequence[tuple[Any, ...]] = (),
) -> int:
    """Insert validated rows (event_id, campaign_id, device_id, variant, kind, action_id,
    at) and conversions (see ``store.conversions.INSERT_CONVERSIONS``) in one
    transaction; return how many were new (the rest share an event_id)."""
    if not rows and not conversions:
        return 0
    now = utcnow()
    new = 0
    with ws.transaction() as conn:
        if rows:
            insert = ws.dialect.insert_ignore(_INSERT, "(event_id)")
            new += conn.executemany(insert, [(*row, now) for row in rows]).rowcount
        if conversions:
            insert = ws.dialect.insert_ignore(INSERT_CONVERSIONS, "(event_id)")
            cursor = conn.executemany(insert, [(*row, now) for row in conversions])
            new += cursor.rowcount
    return new


def get_collector_token(ws: Workspace) -> str | None:
    value = ws.scalar("SELECT value FROM meta WHERE key = ?", (TOKEN_KEY,))
    return str(value) if value else None


def set_collector_token(ws: Workspace, token: str) -> None:
    with ws.transaction() as conn:
        conn.execute(ws.dialect.replace_meta(), (TOKEN_KEY, token))


def accepted_sends(ws: Workspace, campaign_id: int) -> list[Any]:
    """(token, variant, at, provider_id) of every send of the campaign the provider accepted."""
    return ws.query(
        "SELECT d.token, j.variant, coalesce(j.finished_at, j.sent_at) AS at, j.provider_id"
        " FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? AND j.state = 'accepted'",
        (campaign_id,),
    )


def action_counts(ws: Workspace, campaign_id: int) -> list[tuple[str, int]]:
    """(action id, presses) of the campaign's action buttons, most pressed first."""
    rows = ws.query(
        "SELECT action_id, count(*) AS n FROM events WHERE campaign_id = ? AND kind = 'action'"
        " GROUP BY action_id ORDER BY n DESC",
        (campaign_id,),
    )
    return [(r[0], r[1]) for r in rows]


def newest_event_id(ws: Workspace) -> int | None:
    """The newest event's row id (None before the first): it changes when any arrives."""
    value = ws.scalar("SELECT max(id) FROM events")  # id is SQLite's rowid
    return None if value is None else int(value)
