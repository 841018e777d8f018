"""Audience hygiene in the workspace: app rules, recent sends per device, held rows.

``pushdeck.core.campaigns.hygiene`` decides; this module only reads and writes rows.

Recent sends are counted over the journal of the campaigns that may have sent inside
the window (started, and not finished before it began): a handful of campaigns, each
looked up by its (campaign, device) primary key, so no index on devices is needed.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pushdeck.core.store.workspace import Workspace, utcnow

#: Journal states that mean a notification went (or is going) to the device.
_SENT = "('accepted', 'in_flight')"
_RECENT_CAMPAIGNS = (
    "SELECT id FROM campaigns WHERE started_at IS NOT NULL"
    " AND (finished_at IS NULL OR finished_at >= ?)"
)


# --------------------------------------------------------------------------- app rules


def get_app_rules_doc(ws: Workspace, app_id: int) -> Any:
    """The app's stored defaults as their JSON document (None when none were set)."""
    value = ws.scalar("SELECT rules FROM app_rules WHERE app_id = ?", (app_id,))
    return json.loads(value) if value else None


def set_app_rules_doc(ws: Workspace, app_id: int, doc: Mapping[str, Any]) -> None:
    with ws.transaction() as conn:
        conn.execute(
            "INSERT INTO app_rules (app_id, rules, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT (app_id) DO UPDATE SET rules = excluded.rules,"
            " updated_at = excluded.updated_at",
            (app_id, json.dumps(doc, sort_keys=True), utcnow()),
        )


def app_id_of(ws: Workspace, name: str) -> int | None:
    value = ws.scalar("SELECT id FROM apps WHERE name = ?", (name,))
    return int(value) if value is not None else None


# --------------------------------------------------------------------------- caps


def recent_sends(
    ws: Workspace, device_ids: Collection[int], since: str, campaign_id: int = 0
) -> dict[int, int]:
    """Notifications sent to each device at or after ``since`` (accepted or in flight),
    not counting campaign ``campaign_id`` itself (on a shared workspace its rows are
    already in flight, claimed, when they are judged)."""
    if not device_ids:
        return {}
    rows = ws.query(
        "SELECT device_id, count(*) FROM journal"
        f" WHERE campaign_id IN ({_RECENT_CAMPAIGNS}) AND campaign_id <> ?"
        f" AND device_id IN ({ws.dialect.json_ints()})"
        f" AND state IN {_SENT} AND sent_at >= ? GROUP BY device_id",
        (since, campaign_id, json.dumps(list(device_ids)), since),
    )
    return {r[0]: r[1] for r in rows}


def recent_sends_sql(alias: str = "d") -> str:
    """A correlated subquery counting one device's recent sends (parameter: since, twice).

    For counting a whole audience in one statement (the review).
    """
    return (
        f"(SELECT count(*) FROM journal rj WHERE rj.campaign_id IN ({_RECENT_CAMPAIGNS})"
        f" AND rj.device_id = {alias}.id AND rj.state IN {_SENT} AND rj.sent_at >= ?)"
    )


# --------------------------------------------------------------------------- held rows


def hold_and_exclude(
    ws: Workspace,
    campaign_id: int,
    held: Sequence[tuple[int, str]],
    excluded: Sequence[tuple[int, str]],
) -> tuple[int, int]:
    """Move queued rows to 'held' (device id, release time) or 'excluded' (device id,
    reason) in one transaction; return how many of each moved (rows no longer queued,
    e.g. cancelled meanwhile, stay as they are)."""
    if not held and not excluded:
        return 0, 0
    now = utcnow()
    with ws.transaction() as conn:
        held_count = conn.executemany(
            "UPDATE journal SET state = 'held', release_at = ?"
            " WHERE campaign_id = ? AND device_id = ? AND state IN ('queued', 'in_flight')",
            [(release_at, campaign_id, device_id) for device_id, release_at in held],
        ).rowcount
        excluded_count = conn.executemany(
            "UPDATE journal SET state = 'excluded', reason = ?, finished_at = ?"
            " WHERE campaign_id = ? AND device_id = ? AND state IN ('queued', 'in_flight')",
            [(reason, now, campaign_id, device_id) for device_id, reason in excluded],
        ).rowcount
    return held_count, excluded_count


def release_held(ws: Workspace, campaign_id: int, until: str) -> int:
    """Queue again the held rows whose release time is ``until`` or earlier."""
    with ws.transaction() as conn:
        cursor = conn.execute(
            "UPDATE journal SET state = 'queued', release_at = NULL"
            " WHERE campaign_id = ? AND state = 'held' AND release_at <= ?",
            (campaign_id, until),
        )
    return int(cursor.rowcount)


def next_release(ws: Workspace, campaign_id: int) -> str | None:
    """The earliest release time of the campaign's held rows (None: nothing is held)."""
    value = ws.scalar(
        "SELECT min(release_at) FROM journal WHERE campaign_id = ? AND state = 'held'",
        (campaign_id,),
    )
    return str(value) if value else None


def campaigns_holding(ws: Workspace) -> list[int]:
    """Campaigns with devices held for their quiet hours."""
    rows = ws.query(
        "SELECT DISTINCT campaign_id FROM journal WHERE state = 'held'"
        " AND campaign_id IN (SELECT id FROM campaigns WHERE status IN ('scheduled', 'sending'))"
    )
    return [r[0] for r in rows]


def held_by_release(ws: Workspace, campaign_id: int) -> list[tuple[str, str, int]]:
    """(release time, time zone, devices) of the campaign's held rows, soonest first."""
    rows = ws.query(
        "SELECT release_at, timezone, count(*) FROM journal"
        " WHERE campaign_id = ? AND state = 'held' GROUP BY 1, 2 ORDER BY 1, 2",
        (campaign_id,),
    )
    return [(r[0], r[1], r[2]) for r in rows]


def set_scheduled_at(ws: Workspace, campaign_id: int, at: str | None) -> None:
    with ws.transaction() as conn:
        conn.execute("UPDATE campaigns SET scheduled_at = ? WHERE id = ?", (at, campaign_id))


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class EligibleGroup:
    """Eligible devices of an audience sharing platform, time zone, test flag, capped."""

    platform: str
    timezone: str
    test: bool
    capped: bool
    devices: int


def eligible_groups(
    ws: Workspace,
    where: str,
    params: Sequence[Any],
    exclusion: str,
    exclusion_params: Sequence[Any],
    *,
    cap_max: int | None,
    since: str,
) -> list[EligibleGroup]:
    """The audience's sendable devices (``exclusion`` = '') in groups, each marked capped
    when its devices had ``cap_max`` or more sends since ``since`` (None: no cap)."""
    cap_params: tuple[Any, ...] = ()
    if cap_max is None:
        capped = "0"
    else:
        capped, cap_params = f"{recent_sends_sql()} >= ?", (since, since, cap_max)
    rows = ws.query(
        f"SELECT d.platform, d.timezone, d.test, {capped} AS capped, count(*)"
        f" FROM devices d WHERE ({exclusion}) = '' AND {where} GROUP BY 1, 2, 3, 4",
        (*cap_params, *exclusion_params, *params),
    )
    return [EligibleGroup(r[0], r[1], bool(r[2]), bool(r[3]), r[4]) for r in rows]
