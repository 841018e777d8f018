"""The materialized funnel (journal_summary) always equals a GROUP BY over the journal."""

from __future__ import annotations

from pathlib import Path

from pushdeck.core.demo.workspace import fill_demo
from pushdeck.core.store import Workspace

_GROUPED = """
SELECT campaign_id, platform, variant, locale, state, count(*), count(delivered_at),
       count(opened_at), sum(actions), count(dismissed_at)
FROM journal GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
"""
_SUMMARY = """
SELECT campaign_id, platform, variant, locale, state, n, delivered, opened, actions, dismissed
FROM journal_summary WHERE n > 0 ORDER BY 1, 2, 3, 4, 5
"""


def _same(ws: Workspace) -> None:
    assert [tuple(r) for r in ws.query(_SUMMARY)] == [tuple(r) for r in ws.query(_GROUPED)]


def test_summary_follows_sends_events_updates_and_deletes(ws_target: Path | str) -> None:
    fill_demo(ws_target, devices=400)  # a new file, or an empty PostgreSQL database
    with Workspace.open(ws_target) as ws:
        assert ws.scalar("SELECT count(*) FROM journal") > 0
        assert ws.scalar("SELECT sum(opened) FROM journal_summary") > 0
        _same(ws)
        campaign = ws.scalar("SELECT campaign_id FROM journal LIMIT 1")
        device = ws.scalar("SELECT device_id FROM journal WHERE state = 'accepted' LIMIT 1")
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO events (event_id, campaign_id, device_id, kind, action_id, at,"
                " received_at) VALUES ('t-1', ?, ?, 'dismissed', '', '2026-01-01T00:00:00Z',"
                " '2026-01-01T00:00:00Z')",
                (campaign, device),
            )
            conn.execute(
                "UPDATE journal SET state = 'rejected', reason = 'x'"
                " WHERE campaign_id = ? AND device_id = ?",
                (campaign, device),
            )
        _same(ws)
        with ws.transaction() as conn:
            conn.execute(
                "DELETE FROM journal WHERE campaign_id = ? AND device_id % 3 = 0", (campaign,)
            )
        _same(ws)
        with ws.transaction() as conn:
            conn.execute("DELETE FROM campaigns WHERE id = ?", (campaign,))
        _same(ws)
        assert (
            ws.scalar("SELECT count(*) FROM journal_summary WHERE campaign_id = ?", (campaign,))
            == 0
        )
