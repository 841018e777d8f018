"""Rewrites only the demo workspace makes: moving its sent campaign into the past."""

from __future__ import annotations

from pushdeck.core.store.workspace import Workspace

_JOURNAL_TIMES = ("queued_at", "sent_at", "finished_at")
_CAMPAIGN_TIMES = ("created_at", "updated_at", "started_at", "finished_at")


def backdate_campaign(ws: Workspace, campaign_id: int, seconds: int) -> None:
    """Move the campaign and its journal ``seconds`` back, keeping every interval the same."""
    shift = f"-{int(seconds)} seconds"  # an integer: never text from outside
    moved = ws.dialect.plus_seconds
    with ws.transaction() as conn:
        conn.execute(
            "UPDATE journal SET "
            + ", ".join(f"{c} = {moved(c)}" for c in _JOURNAL_TIMES)
            + " WHERE campaign_id = ?",
            (*[shift] * len(_JOURNAL_TIMES), campaign_id),
        )
        conn.execute(
            "UPDATE campaigns SET "
            + ", ".join(f"{c} = {moved(c)}" for c in _CAMPAIGN_TIMES)
            + " WHERE id = ?",
            (*[shift] * len(_CAMPAIGN_TIMES), campaign_id),
        )
