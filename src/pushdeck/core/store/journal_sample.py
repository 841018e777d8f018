"""A random sample of a campaign's unanswered recipients (to judge the whole audience).

"Unanswered" is queued or in flight: a send claims whole pages of the queue (in flight)
before it renders them, so with a wide window the queue proper can be empty while most
of the audience is still ahead.
"""

from __future__ import annotations

import random

from pushdeck.core.store.workspace import Row, Workspace

_NEXT_QUEUED = (
    "SELECT d.*, a.name AS app, j.variant AS j_variant, j.attempts AS j_attempts"
    " FROM journal j JOIN devices d ON d.id = j.device_id JOIN apps a ON a.id = d.app_id"
    " WHERE j.campaign_id = ? AND j.state IN ('queued', 'in_flight') AND j.device_id >= ?"
    " ORDER BY j.device_id LIMIT 1"
)


def random_queued(
    ws: Workspace, campaign_id: int, size: int, rng: random.Random | None = None
) -> list[Row]:
    """About ``size`` unanswered rows spread over the whole queue (same columns as a page).

    Each pick is one index seek at a random device id, so sampling a million-row queue
    costs ``size`` lookups, not a sort. Rows may repeat when the queue is small.
    """
    low, high = ws.query(
        "SELECT min(device_id), max(device_id) FROM journal"
        " WHERE campaign_id = ? AND state IN ('queued', 'in_flight')",
        (campaign_id,),
    )[0]
    if low is None:
        return []
    pick = rng or random.Random()
    rows: list[Row] = []
    for _ in range(size):
        found = ws.query(_NEXT_QUEUED, (campaign_id, pick.randint(low, high)))
        rows.extend(found)
    return rows
