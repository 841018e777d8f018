"""Conversions in the workspace: the lookups that check them, the insert, and the reads
attribution needs. ``pushdeck.core.engagement.events`` validates (campaigns are found, and
conversions written with the other events, by ``store.events``);
``pushdeck.core.reports.attribution`` decides which campaign a conversion counts for; this
module only reads and writes rows.

Reads are driven by the conversions (an app's, in the campaign's time range) and reach
the campaign's journal by its primary key, so a report costs in proportion to the
conversions, not to the campaign's recipients.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pushdeck.core.store.workspace import Workspace


def find_app(ws: Workspace, name: str) -> int | None:
    value = ws.scalar("SELECT id FROM apps WHERE name = ?", (name,))
    return int(value) if value is not None else None


def find_devices(ws: Workspace, token: str, app_id: int | None) -> list[tuple[int, int]]:
    """(device id, app id) of every device with ``token`` (in ``app_id`` when given)."""
    if app_id is not None:
        rows = ws.query(
            "SELECT id, app_id FROM devices WHERE app_id = ? AND token = ?", (app_id, token)
        )
    else:  # one lookup of the (app, token) index per app: there are few apps
        rows = ws.query(
            "SELECT d.id, d.app_id FROM apps a JOIN devices d ON d.app_id = a.id AND d.token = ?",
            (token,),
        )
    return [(r[0], r[1]) for r in rows]


#: Validated rows (event_id, app_id, device_id, campaign_id, conversion, value_micros,
#: currency, at) and received_at; written with other events by ``store.events``
#: (``Dialect.insert_ignore`` makes it skip an event_id already stored).
INSERT_CONVERSIONS = (
    "INTO conversions (event_id, app_id, device_id, campaign_id, conversion,"
    " value_micros, currency, at, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


# --------------------------------------------------------------------------- reads for reports

#: Columns of a conversion with its device's journal row in the campaign.
_ROW = (
    "x.id, x.device_id, x.value_micros, x.currency, x.at, x.campaign_id IS NOT NULL AS named,"
    " j.platform, j.variant, j.locale, j.state, j.opened_at, coalesce(j.sent_at, j.queued_at)"
    " AS sent_at"
)


@dataclass(frozen=True)
class ConversionRow:
    id: int
    device_id: int
    value_micros: int | None
    currency: str
    at: str
    named: bool  # the event named this campaign (direct)
    platform: str
    variant: str
    locale: str
    state: str
    opened_at: str | None
    sent_at: str | None


def _rows(ws: Workspace, sql: str, params: Sequence[Any]) -> list[ConversionRow]:
    return [ConversionRow(*tuple(r)) for r in ws.query(sql, params)]


def named_conversions(ws: Workspace, campaign_id: int) -> list[ConversionRow]:
    """Conversions whose event named the campaign, with the device's journal row."""
    return _rows(
        ws,
        f"SELECT {_ROW} FROM conversions x JOIN journal j ON j.campaign_id = x.campaign_id"
        " AND j.device_id = x.device_id WHERE x.campaign_id = ?",
        (campaign_id,),
    )


def conversions_after_opens(
    ws: Workspace, campaign_id: int, app_id: int, since: str
) -> list[ConversionRow]:
    """Conversions naming no campaign, at or after ``since``, by devices that opened this
    campaign before converting (candidates for influenced attribution)."""
    return _rows(
        ws,
        f"SELECT {_ROW} FROM conversions x JOIN journal j ON j.campaign_id = ?"
        " AND j.device_id = x.device_id"
        " WHERE x.app_id = ? AND x.at >= ? AND x.campaign_id IS NULL"
        " AND j.opened_at IS NOT NULL AND j.opened_at <= x.at",
        (campaign_id, app_id, since),
    )


def last_open(ws: Workspace, device_id: int, at: str, since: str) -> int | None:
    """The campaign the device last opened (tap or action) in [since, at], if any."""
    value = ws.scalar(
        "SELECT campaign_id FROM events WHERE device_id = ? AND kind IN ('opened', 'action')"
        " AND at <= ? AND at >= ? AND campaign_id IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1",
        (device_id, at, since),
    )
    return int(value) if value is not None else None


def conversions_of_group(
    ws: Workspace, campaign_id: int, app_id: int, since: str, window_seconds: int
) -> list[tuple[str, str, str, str, int]]:
    """For the lift: (state, platform, variant, locale, devices) of the campaign's accepted
    and hold-out (control) devices with any conversion within ``window_seconds`` after
    their send (hold-out: after they were held out)."""
    rows = ws.query(
        "SELECT j.state, j.platform, j.variant, j.locale, count(DISTINCT j.device_id)"
        " FROM conversions x JOIN journal j ON j.campaign_id = ? AND j.device_id = x.device_id"
        " WHERE x.app_id = ? AND x.at >= ? AND j.state IN ('accepted', 'control')"
        " AND x.at >= coalesce(j.sent_at, j.queued_at)"
        f" AND x.at <= {ws.dialect.plus_seconds('coalesce(j.sent_at, j.queued_at)')}"
        " GROUP BY 1, 2, 3, 4",
        (campaign_id, app_id, since, f"+{window_seconds} seconds"),
    )
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def any_conversions(ws: Workspace, app_id: int) -> bool:
    return bool(ws.scalar("SELECT EXISTS (SELECT 1 FROM conversions WHERE app_id = ?)", (app_id,)))


def signature(ws: Workspace) -> tuple[object, ...]:
    """The newest conversion and the newest app-rules change (O(1) and one small scan)."""
    return (
        ws.scalar("SELECT max(id) FROM conversions"),
        ws.scalar("SELECT max(updated_at) FROM app_rules"),
    )
