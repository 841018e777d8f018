"""The sandbox's simulated engagement for a campaign that was already sent.

Replays the accepted sends of a campaign through the sandbox's deterministic engagement
model and records the events it yields through the same validation as real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.common.model import ProviderKind, SendResult, SendStatus
from pushdeck.core.engagement.events import EventReport, event_to_dict, record_events
from pushdeck.core.providers.sandbox_engagement import SentNotification, simulate_engagement
from pushdeck.core.store.events import accepted_sends
from pushdeck.core.store.workspace import Workspace


def simulate_campaign_engagement(
    ws: Workspace,
    name: str,
    *,
    open_rate: float | Mapping[str, float] = 0.12,
    now: datetime | None = None,
    seed: int = 0,
) -> EventReport:
    """Record the sandbox's simulated engagement for the accepted sends of ``name``.

    Deterministic (same ids every time), so calling it again later only adds the
    events that have "happened" since.
    """
    campaign = get_campaign(ws, name)
    actions = tuple(a.id for a in campaign.spec.message.actions)
    rows = accepted_sends(ws, campaign.id)
    sends = [
        SentNotification(
            name,
            r["token"],
            datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
            SendResult(SendStatus.ACCEPTED, ProviderKind.SANDBOX, provider_id=r["provider_id"]),
            r["variant"],
            actions,
        )
        for r in rows
    ]
    now = now or datetime.now(UTC)
    events = simulate_engagement(sends, open_rate=open_rate, now=now, seed=seed)
    return record_events(ws, (event_to_dict(e) for e in events), now=now)
