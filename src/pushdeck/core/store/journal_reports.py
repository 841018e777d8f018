"""What reports read from the send journal: every aggregate is one statement here.

``pushdeck.core.reports`` folds, rates, tests and formats; this module only reads. The
funnels come from ``journal_summary`` (migration 5), which triggers keep equal to a
GROUP BY over the journal: a few hundred rows per campaign instead of one per recipient.
"""

from __future__ import annotations

from collections.abc import Iterator

from pushdeck.core.store.workspace import Row, Workspace

_FUNNEL_SQL = """
SELECT platform, variant, locale, state, n, delivered, opened, actions, dismissed
FROM journal_summary
WHERE campaign_id = ? AND n > 0
ORDER BY platform, variant, locale, state
"""


def funnel_rows(ws: Workspace, campaign_id: int) -> list[Row]:
    """(platform, variant, locale, state, n, delivered, opened, actions, dismissed) of
    every non-empty group of the campaign, by name (one index scan)."""
    return ws.query(_FUNNEL_SQL, (campaign_id,))


def first_opens(ws: Workspace, campaign_id: int, since: str, bucket_seconds: int) -> list[Row]:
    """(bucket, devices): devices whose first open (tap or action) fell ``bucket`` times
    ``bucket_seconds`` after ``since`` (earlier opens count in bucket 0), empty buckets
    left out, in order."""
    d = ws.dialect
    since_s, opened_s = d.epoch_seconds("?"), d.epoch_seconds("opened_at")
    return ws.query(
        f"SELECT {d.greatest('0', f'({opened_s} - {since_s}) / ?')} AS bucket, count(*)"
        f" FROM journal{d.indexed_by('journal_opened')}"
        " WHERE campaign_id = ? AND opened_at IS NOT NULL GROUP BY bucket ORDER BY bucket",
        (since, bucket_seconds, campaign_id),
    )


def reasons_by_state(ws: Workspace, campaign_id: int) -> list[Row]:
    """(state, reason, n) of the states that carry a reason (rejected, dead, excluded,
    skipped), most common first within each state, from the (campaign, state) index."""
    return ws.query(
        "SELECT state, reason, count(*) AS n FROM journal"
        " WHERE campaign_id = ? AND state IN ('rejected', 'dead', 'excluded', 'skipped')"
        " GROUP BY state, reason ORDER BY state, n DESC, reason",
        (campaign_id,),
    )


def held_out_tokens(ws: Workspace, campaign_id: int) -> list[str]:
    """Tokens of the campaign's hold-out (control) devices that can still be sent to."""
    rows = ws.query(
        "SELECT d.token FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? AND j.state = 'control' AND d.status = 'active'"
        " ORDER BY j.device_id",
        (campaign_id,),
    )
    return [r[0] for r in rows]


def device_rows(ws: Workspace, campaign_id: int) -> Iterator[Row]:
    """(token, platform, locale, variant, state, reason, sent_at, delivered_at, opened_at,
    dismissed_at, actions) of every targeted device, streamed in device-id order: a
    million rows are never held at once."""
    return ws.stream(
        "SELECT d.token, j.platform, j.locale, j.variant, j.state, j.reason, j.sent_at,"
        " j.delivered_at, j.opened_at, j.dismissed_at, j.actions"
        " FROM journal j JOIN devices d ON d.id = j.device_id"
        " WHERE j.campaign_id = ? ORDER BY j.device_id",
        (campaign_id,),
    )


# From the materialized funnel (migration 5): a handful of rows per campaign.
_SUMMARY_SQL = """
SELECT sum(n), sum(CASE WHEN state IN ('accepted', 'rejected', 'dead') THEN n ELSE 0 END),
       sum(CASE WHEN state = 'accepted' THEN n ELSE 0 END), sum(delivered), sum(opened)
FROM journal_summary WHERE campaign_id = ?
"""


def totals(ws: Workspace, campaign_id: int, platform: str = "") -> Row:
    """(targeted, sent, accepted, delivered, opened) of the campaign, only ``platform``'s
    devices when given (each None when nothing was targeted)."""
    if platform:
        return ws.query(_SUMMARY_SQL + " AND platform = ?", (campaign_id, platform))[0]
    return ws.query(_SUMMARY_SQL, (campaign_id,))[0]
