"""When campaigns are due: now, at a UTC instant, or at a local time per time zone.

``run_due`` sends what is due (the app calls it on a timer on a workspace file, the
scheduler worker on a shared one, cron calls ``pushdeck campaigns run-due``, which on a
shared workspace leaves the schedules to the worker that runs them:
``run_due_from_cron``). A schedule whose moment passed more than
``grace`` ago with nothing sent is *missed*: it is marked so, reported, and waits
for a decision (``decide_missed``); it is never sent late silently.

Local-time campaigns send each time-zone group when the wall-clock time arrives
there; devices with no time zone use the campaign's ``default_timezone``.

Devices held for their quiet hours (``hygiene``) are queued again once those end, and
their campaign (waiting as ``scheduled``, whatever its schedule) sends them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from pushdeck.core.campaigns.approval import require_approved
from pushdeck.core.campaigns.library import get_campaign, list_campaigns, set_status
from pushdeck.core.campaigns.schedule_times import local_due
from pushdeck.core.campaigns.spec import Campaign, CampaignStatus, ScheduleKind
from pushdeck.core.common.errors import ConfigError, PermissionDeniedError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import Provider
from pushdeck.core.store import journal
from pushdeck.core.store.audience import distinct_timezones
from pushdeck.core.store.workspace import Workspace

DEFAULT_GRACE = timedelta(minutes=30)
@dataclass(frozen=True)
class DuePlan:
    """What to do with one scheduled campaign at ``now``."""

    campaign: str
    due: bool  # something is due now
    missed: bool  # something became due more than the grace ago and was never sent
    timezones: frozenset[str] | None = None  # for local-time: the zones due now
    missed_timezones: frozenset[str] = field(default_factory=frozenset)


def plan_campaign(
    ws: Workspace, campaign: Campaign, now: datetime, grace: timedelta = DEFAULT_GRACE
) -> DuePlan:
    """Decide whether ``campaign`` is due, and whether (part of) it was missed."""
    schedule = campaign.spec.schedule
    if schedule.kind is ScheduleKind.NOW:
        return DuePlan(campaign.name, True, False)
    if schedule.kind is ScheduleKind.AT:
        at = schedule.at or now
        sent_any = journal.sent_any(ws, campaign.id)
        return DuePlan(campaign.name, at <= now, at + grace < now and not sent_any)
    return _plan_local(ws, campaign, now, grace)


def _plan_local(ws: Workspace, campaign: Campaign, now: datetime, grace: timedelta) -> DuePlan:
    from pushdeck.core.campaigns.audience import audience_rule

    spec = campaign.spec
    rule = audience_rule(ws, spec)
    zones = distinct_timezones(ws, rule)
    due: set[str] = set()
    missed: set[str] = set()
    for zone in zones:
        at = local_due(spec.schedule, zone)
        if at <= now:
            due.add(zone)
            if at + grace < now and _zone_untouched(ws, campaign.id, zone):
                missed.add(zone)
    return DuePlan(spec.name, bool(due), bool(missed), frozenset(due), frozenset(missed))


def _zone_untouched(ws: Workspace, campaign_id: int, zone: str) -> bool:
    """True when nothing of this zone's group was sent yet but something is to be sent."""
    states = journal.zone_states(ws, campaign_id, zone)
    if not states:
        return True  # the journal was not written yet: nothing was sent
    return "queued" in states and not states - {"queued", "excluded", "control"}


@dataclass(frozen=True)
class RunDueReport:
    sent: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # waiting for a decision
    waiting: list[str] = field(default_factory=list)  # scheduled, not yet due
    #: due, but refused on a shared workspace: not approved, or this login may not send
    refused: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)  # why, one sentence each
    #: A shared workspace whose schedules another process runs (a worker): nothing was
    #: done here, and this says who ('' otherwise).
    scheduled_by: str = ""

    def refused_now(self, campaign: Campaign) -> bool:
        return campaign.name in self.refused


ProvidersFor = Callable[[str], Mapping[ProviderKind, Provider]]


async def run_due(
    ws: Workspace,
    providers_for: ProvidersFor,
    *,
    now: datetime | None = None,
    grace: timedelta = DEFAULT_GRACE,
    **send_options: object,
) -> RunDueReport:
    """Send every due campaign; mark missed ones and leave them for a decision."""
    from pushdeck.core.campaigns.dispatch import DispatchOptions, send_campaign_async
    from pushdeck.core.campaigns.hygiene import release_due

    moment = now or datetime.now(UTC)
    if now is not None:  # the clock caps and quiet hours judge by, too
        options = send_options.get("options") or DispatchOptions()
        assert isinstance(options, DispatchOptions)
        send_options["options"] = replace(options, clock=lambda: moment)
    report = RunDueReport()
    candidates = list_campaigns(ws, status=CampaignStatus.SCHEDULED)
    refused = _refused_to_send(ws, report)
    candidates += list_campaigns(ws, status=CampaignStatus.SENDING)
    for campaign in candidates:
        released = 0
        if campaign.status is CampaignStatus.SCHEDULED:
            released = release_due(ws, campaign, moment)  # their quiet hours are over
        if campaign.spec.schedule.kind is ScheduleKind.NOW:
            # 'now' campaigns are sent by 'campaigns send', never by cron, except for
            # the devices that were held for their quiet hours.
            if released and not refused(campaign):
                await send_campaign_async(
                    ws, campaign.name, providers=providers_for(campaign.spec.app),
                    **send_options,  # type: ignore[arg-type]
                )  # fmt: skip
                report.sent.append(campaign.name)
            elif campaign.status is CampaignStatus.SCHEDULED and not report.refused_now(campaign):
                report.waiting.append(campaign.name)
            continue
        plan = plan_campaign(ws, campaign, moment, grace)
        if plan.missed:
            set_status(ws, campaign.name, CampaignStatus.MISSED, error=_missed_text(plan))
            report.missed.append(campaign.name)
        elif plan.due and not refused(campaign):
            await send_campaign_async(
                ws,
                campaign.name,
                providers=providers_for(campaign.spec.app),
                timezones=plan.timezones,
                **send_options,  # type: ignore[arg-type]
            )
            report.sent.append(campaign.name)
        elif campaign.name not in report.refused:
            report.waiting.append(campaign.name)
    report.missed.extend(
        c.name
        for c in list_campaigns(ws, status=CampaignStatus.MISSED)
        if c.name not in report.missed
    )
    return report


#: What a shared workspace's scheduler is called when the lock's holder has not said who
#: it is yet (a worker that took it this instant).
UNNAMED_SCHEDULER = "another process (a worker starting, or another 'campaigns run-due')"


async def run_due_from_cron(ws: Workspace, providers_for: ProvidersFor) -> RunDueReport:
    """``pushdeck campaigns run-due``: what cron runs every minute.

    On a workspace file: ``run_due``. On a shared workspace the schedules have one
    runner at a time, the holder of the scheduler's lock (``workers.scheduler_role``):

    - a ``pushdeck worker`` holds it (every worker tries for it at each turn): this run
      does nothing and says which worker schedules (``scheduled_by``). Cron may stay
      in place beside the workers: it never sends a campaign they send, nor competes.
    - nobody holds it: this run takes it and sends what is due itself, as one more
      worker (its rows are claimed, so a worker starting meanwhile helps and nothing
      goes twice; that worker takes the schedules over once this run ends). It sends
      rather than queueing for the workers because a free lock means no worker is
      running (each one takes it within a poll): a queued campaign would wait for
      nobody, and cron's user asked for what is due to be sent, as on a file.
    """
    from pushdeck.core.campaigns.workers import scheduler_holder, scheduler_role, shared

    if not shared(ws):
        return await run_due(ws, providers_for)
    with scheduler_role(ws, "run-due") as lease:
        if lease is None:
            holder = scheduler_holder(ws)
            return RunDueReport(scheduled_by=holder.describe() if holder else UNNAMED_SCHEDULER)
        return await run_due(ws, providers_for, worker=lease)


def _refused_to_send(ws: Workspace, report: RunDueReport) -> Callable[[Campaign], bool]:
    """A check that records (and says True for) a due campaign this login may not send
    (a shared workspace: not approved since an editor's change, or not a sender):
    the others are still sent."""

    def refused(campaign: Campaign) -> bool:
        try:
            require_approved(ws, campaign)
        except PermissionDeniedError as exc:
            report.refused.append(campaign.name)
            report.refusals.append(exc.message)
            return True
        return False

    return refused


def _missed_text(plan: DuePlan) -> str:
    zones = ", ".join(sorted(z or "(no time zone)" for z in plan.missed_timezones))
    where = f" (time zones: {zones})" if zones else ""
    return (
        f"The scheduled time passed while Pushdeck was not running{where}; nothing was sent. "
        "Decide: send now ('pushdeck campaigns send NAME') or cancel it."
    )


def missed_campaigns(ws: Workspace) -> list[Campaign]:
    """Campaigns whose schedule was missed and that wait for a decision (shown at start)."""
    return list_campaigns(ws, status=CampaignStatus.MISSED)


async def decide_missed(
    ws: Workspace,
    name: str,
    *,
    send_now: bool,
    providers: Mapping[ProviderKind, Provider] | None = None,
) -> None:
    """Resolve a missed campaign: send it now (everything still queued), or cancel it."""
    from pushdeck.core.campaigns.dispatch import cancel_campaign, send_campaign_async

    campaign = get_campaign(ws, name)
    if campaign.status is not CampaignStatus.MISSED:
        raise ConfigError(f"Campaign {name!r} is {campaign.status}, not missed.")
    if not send_now:
        cancel_campaign(ws, name)
        return
    if providers is None:
        raise ConfigError("Sending a missed campaign needs its providers.")
    await send_campaign_async(ws, name, providers=providers)
