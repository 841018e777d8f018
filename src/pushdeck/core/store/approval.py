"""A campaign's approval rows (``campaign_reviews``) on a shared workspace.

The rules live in the database (store/team_schema_pg.py): whether the last change was an
editor's, and the md5 of app and spec a sender approved. Here they are only read, and
the approval is asked of ``pushdeck_campaign_approve`` (which checks the role).
"""

from __future__ import annotations

from pushdeck.core.store.workspace import Row, Workspace


def approve(ws: Workspace, campaign_id: int) -> str:
    """Approve the campaign as it is now; the approving login."""
    return str(ws.scalar("SELECT pushdeck_campaign_approve(?)", (campaign_id,)))


def state(ws: Workspace, campaign_id: int) -> Row | None:
    """needs_approval, changed_by, changed_at, approved_by, approved_at and ``current``
    (the approval is of the campaign as it is now); None when nothing was recorded."""
    if ws.dialect.is_sqlite:
        return None
    rows = ws.query(
        "SELECT r.needs_approval, r.changed_by, r.changed_at, r.approved_by, r.approved_at,"
        " r.approved_md5 = pushdeck_campaign_md5(c.app_id, c.spec) AS current"
        " FROM campaign_reviews r JOIN campaigns c ON c.id = r.campaign_id"
        " WHERE r.campaign_id = ?",
        (campaign_id,),
    )
    return rows[0] if rows else None
