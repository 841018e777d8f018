"""The send journal: one row per (campaign, device), its state and the provider's answer."""

from __future__ import annotations

from pushdeck.core.store.workspace import Workspace


def reason_counts(ws: Workspace, campaign_id: int, state: str) -> list[tuple[str, int]]:
    """Counts by reason for one journal state, most common first."""
    rows = ws.query(
        "SELECT reason, count(*) AS n FROM journal WHERE campaign_id = ? AND state = ?"
        " GROUP BY reason ORDER BY n DESC, reason",
        (campaign_id, state),
    )
    return [(r[0], r[1]) for r in rows]
