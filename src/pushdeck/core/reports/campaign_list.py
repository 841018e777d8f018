"""The campaign list: each campaign's status, audience size, funnel and dates.

One row per campaign for the app's Campaigns page; the funnel comes from the analytics,
a draft's audience is counted now.
"""

from __future__ import annotations

from dataclasses import dataclass

from pushdeck.core.campaigns.audience import count_audience
from pushdeck.core.campaigns.library import list_campaigns
from pushdeck.core.campaigns.spec import CampaignStatus
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.reports.analytics import overall
from pushdeck.core.store.workspace import Workspace


@dataclass(frozen=True)
class CampaignRow:
    name: str
    status: str
    app: str
    audience: int  # targeted (journal rows once sending started, else counted now)
    sent: int
    accepted: int
    opened: int
    created: str
    scheduled: str
    finished: str
    error: str = ""


def campaign_rows(ws: Workspace) -> list[CampaignRow]:
    rows = []
    for c in list_campaigns(ws):
        funnel = overall(ws, c.name)
        audience = funnel.targeted
        if not audience and c.status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
            try:
                audience = count_audience(ws, c.spec, list(ProviderKind)).targeted
            except Exception:  # noqa: BLE001 - e.g. its segment was deleted: show 0
                audience = 0
        rows.append(
            CampaignRow(
                c.name, str(c.status), c.spec.app, audience, funnel.sent, funnel.accepted,
                funnel.opened, c.created_at, c.scheduled_at or "", c.finished_at or "", c.error,
            )
        )  # fmt: skip
    return rows
