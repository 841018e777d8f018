"""Handing a campaign to the workers of a shared workspace, and following it.

``queue_campaign`` is the one place a campaign is queued (the CLI's ``campaigns queue``
and the app's Send on a shared workspace): checks, then journal and status 'sending' in
one transaction (all or nothing, as workers and other clients see it), and a wake-up
for the workers, after the team's approval check.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pushdeck.core.campaigns.approval import require_approved
from pushdeck.core.campaigns.dispatch import Progress, progress, start_sending
from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.campaigns.spec import SENDABLE, Campaign, CampaignStatus
from pushdeck.core.campaigns.templating import require_valid_templates
from pushdeck.core.campaigns.workers import live_workers, shared
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.credentials.secrets import list_records
from pushdeck.core.store import workers as rows
from pushdeck.core.store.audience import journal_written
from pushdeck.core.store.workspace import Workspace

#: Statuses ``wait_campaign`` stops at: the campaign will not move without someone.
SETTLED = frozenset(
    {CampaignStatus.SENT, CampaignStatus.FAILED, CampaignStatus.CANCELLED, CampaignStatus.PAUSED,
     CampaignStatus.MISSED}
)  # fmt: skip


#: Statuses a campaign is queued from ('sending' and 'sent' are left as they are).
QUEUEABLE = SENDABLE - {CampaignStatus.SENDING}


@dataclass(frozen=True)
class QueuedState:
    """One look at a queued campaign, for a window following it (``queued_state``)."""

    progress: Progress
    settled: bool  # in SETTLED: nothing moves without someone
    error: str  # the campaign's stored error (why it failed or paused)
    live_workers: int  # 'pushdeck worker' processes alive: 0 means nobody will send


def queued_state(ws: Workspace, name: str) -> QueuedState:
    campaign = get_campaign(ws, name)
    snapshot = progress(ws, campaign, str(campaign.status))
    return QueuedState(snapshot, campaign.status in SETTLED, campaign.error, live_workers(ws))


def queue_campaign(ws: Workspace, name: str) -> Campaign:
    """Queue campaign ``name`` for the workers: its journal is written and it is marked
    'sending'; the workers claim its devices. Queueing a campaign already sending or
    sent changes nothing (but one left 'sending' without its journal by an older
    Pushdeck gets it)."""
    if not shared(ws):
        raise ConfigError(
            "Queueing for workers needs a shared PostgreSQL workspace.",
            hint=f"On a workspace file, send it from here: 'pushdeck campaigns send {name}'.",
        )
    campaign = get_campaign(ws, name)
    stranded = campaign.status is CampaignStatus.SENDING and not journal_written(ws, campaign.id)
    if campaign.status in (CampaignStatus.SENDING, CampaignStatus.SENT) and not stranded:
        return campaign
    if campaign.status not in SENDABLE:
        raise ConfigError(
            f"Campaign {name!r} is {campaign.status} and cannot be sent.",
            hint=f"Duplicate it ('pushdeck campaigns duplicate {name} NEW') to send again.",
        )
    require_approved(ws, campaign)  # a team: the role, and an editor's change approved
    require_valid_templates(campaign.spec)
    kinds = {record.provider for record in list_records(ws, campaign.spec.app)}
    if not kinds:
        raise ConfigError(
            f"App {campaign.spec.app!r} has no credentials, so nothing can be sent.",
            hint=f"Add one with 'pushdeck credentials set-apns {campaign.spec.app} …'.",
        )
    # Journal and status commit together: a queue killed half-way leaves the campaign as
    # it was (queue it again), never 'sending' with part of its audience for the workers.
    # 'Stranded': marked sending with no journal by an older Pushdeck killed while queueing
    # it (status first, then the journal): queueing it again writes the journal.
    if start_sending(ws, campaign, kinds, QUEUEABLE | ({campaign.status} if stranded else set())):
        rows.notify(ws, name)
    return get_campaign(ws, name)  # else queued (or sent, cancelled) by another client


def wait_campaign(
    ws: Workspace,
    name: str,
    *,
    timeout: float | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    poll: float = 0.5,
) -> Progress | None:
    """Follow campaign ``name`` until it is sent, failed, cancelled or paused; its last
    progress, or None when ``timeout`` seconds passed first."""
    campaign = get_campaign(ws, name)
    deadline = None if timeout is None else time.monotonic() + timeout
    first_done, started = -1, time.monotonic()
    while True:
        status = get_campaign(ws, name).status
        snapshot = progress(ws, campaign, str(status))
        if first_done < 0:
            first_done = snapshot.done
        elapsed = time.monotonic() - started
        rate = (snapshot.done - first_done) / elapsed if elapsed > 0 else 0.0
        remaining = snapshot.remaining
        snapshot = Progress(
            snapshot.campaign, snapshot.status, snapshot.counts, snapshot.total, remaining, rate,
            remaining / rate if rate > 0 else None, snapshot.possibly_duplicated,
        )  # fmt: skip
        if on_progress is not None:
            on_progress(snapshot)
        if status in SETTLED:
            return snapshot
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))
