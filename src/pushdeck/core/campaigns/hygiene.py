"""Frequency caps and quiet hours, applied to a campaign's journal when it sends.

The rules (``hygiene_rules``) are judged at *send time*, page by page, right before
rows are marked in flight (``SendGate.admit``): a long throttled send, a local-time
schedule spread over a day, or a device held until morning is judged by the clock and
the send history of the moment it would actually go. For each queued device that is
not a test device:

1. inside its quiet hours (its own time zone; none: the app's default zone) with
   ``then: hold`` → ``held`` until they end (``journal.release_at``); its cap is
   counted when it is released;
2. over its frequency cap (``max`` or more notifications accepted — or in flight —
   from any campaign within the window) → ``excluded``, "frequency cap (2 in 24 h)";
3. inside its quiet hours with ``then: skip`` → ``excluded``, "quiet hours (21:00–08:00)".

Held rows go back to the queue when their time comes (``release_due``, called by
``scheduling.run_due``: the app's timer, a worker, or ``pushdeck campaigns run-due``);
a campaign with held rows waits as ``scheduled`` with ``scheduled_at`` = the next release.
``forecast`` predicts all of this for the review, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pushdeck.core.campaigns.hygiene_rules import (
    AppRules,
    FrequencyCap,
    QuietAction,
    QuietHours,
    Rules,
    Window,
    app_rules_from_doc,
    effective_rules,
    parse_zone,
    zone_or,
)
from pushdeck.core.campaigns.spec import Campaign, CampaignSpec, ScheduleKind
from pushdeck.core.store import hygiene as store
from pushdeck.core.store.segment_rules import CompiledRule
from pushdeck.core.store.workspace import Workspace

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A UTC instant in the workspace's text form."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stored_rules(ws: Workspace, app_id: int) -> AppRules:
    """The app's defaults (none set: no cap, no quiet hours, UTC, a 24 h window)."""
    doc = store.get_app_rules_doc(ws, app_id)
    return app_rules_from_doc(doc) if doc is not None else AppRules()


def app_rules(ws: Workspace, app: str) -> AppRules:
    app_id = store.app_id_of(ws, app)
    return _stored_rules(ws, app_id) if app_id is not None else AppRules()


def rules_for(ws: Workspace, spec: CampaignSpec) -> Rules:
    """The campaign's own cap and quiet hours, else its app's defaults."""
    return effective_rules(spec.frequency_cap, spec.quiet_hours, app_rules(ws, spec.app))


class _QuietEnds:
    """When each time zone's quiet hours end, from one moment (None: not quiet there)."""

    def __init__(self, rules: Rules, moment: datetime) -> None:
        self.rules = rules
        self.moment = moment
        self.cache: dict[str, datetime | None] = {}

    def __call__(self, timezone: str) -> datetime | None:
        if timezone not in self.cache:
            quiet = self.rules.quiet
            zone = zone_or(timezone, self.rules.zone)
            self.cache[timezone] = quiet.ends_after(self.moment, zone) if quiet else None
        return self.cache[timezone]


@dataclass(frozen=True)
class Verdict:
    """One device's fate at one moment: sent, held until ``release``, or excluded."""

    release: datetime | None = None
    reason: str = ""

    @property
    def admitted(self) -> bool:
        return self.release is None and not self.reason


_SEND = Verdict()


def judge(rules: Rules, *, test: bool, quiet_end: datetime | None, recent: int) -> Verdict:
    """The order of the module docstring: hold, then cap, then skip."""
    if test:
        return _SEND  # test devices are the team's own: never capped, never held
    quiet = rules.quiet
    if quiet is not None and quiet_end is not None and quiet.then is QuietAction.HOLD:
        return Verdict(release=quiet_end)
    if rules.cap is not None and recent >= rules.cap.max:
        return Verdict(reason=rules.cap.reason)
    if quiet is not None and quiet_end is not None:
        return Verdict(reason=quiet.reason)
    return _SEND


class SendGate:
    """Used by the dispatcher: which of a page of queued rows may be sent now."""

    def __init__(self, ws: Workspace, campaign: Campaign, clock: Clock | None = None) -> None:
        self.ws = ws
        self.campaign = campaign
        self.clock = clock or utc_now
        self.rules = rules_for(ws, campaign.spec)

    def admit(self, rows: Sequence[Any]) -> tuple[list[Any], dict[str, int]]:
        """(rows to send now, {journal state: rows moved there}); the others are
        recorded as held or excluded. ``rows`` are ``journal.queued_page`` rows."""
        if not self.rules.active or not rows:
            return list(rows), {}
        now = self.clock()
        quiet_end = _QuietEnds(self.rules, now)
        recent: Mapping[int, int] = {}
        if self.rules.cap is not None:
            since = stamp(now - self.rules.cap.within.delta)
            ids = [r["id"] for r in rows if not r["test"]]
            recent = store.recent_sends(self.ws, ids, since, self.campaign.id)
        admitted: list[Any] = []
        held: list[tuple[int, str]] = []
        excluded: list[tuple[int, str]] = []
        for row in rows:
            verdict = judge(
                self.rules,
                test=bool(row["test"]),
                quiet_end=None if row["test"] else quiet_end(row["timezone"]),
                recent=recent.get(row["id"], 0),
            )
            if verdict.release is not None:
                held.append((row["id"], stamp(verdict.release)))
            elif verdict.reason:
                excluded.append((row["id"], verdict.reason))
            else:
                admitted.append(row)
        moved_held, moved_excluded = store.hold_and_exclude(
            self.ws, self.campaign.id, held, excluded
        )
        return admitted, {"held": moved_held, "excluded": moved_excluded}


def release_due(ws: Workspace, campaign: Campaign, now: datetime) -> int:
    """Queue again the campaign's devices whose quiet hours ended by ``now``."""
    return store.release_held(ws, campaign.id, stamp(now))


def wait_for_release(ws: Workspace, campaign: Campaign) -> bool:
    """After a pass: True when devices are held (the campaign then waits as scheduled,
    its ``scheduled_at`` the next release)."""
    release = store.next_release(ws, campaign.id)
    if release is None:
        return False
    if campaign.spec.schedule.kind is not ScheduleKind.LOCAL:
        store.set_scheduled_at(ws, campaign.id, release)
    return True


# --------------------------------------------------------------------------- review


@dataclass(frozen=True)
class HeldGroup:
    """Devices of one time zone that the review expects to hold, and when they go."""

    timezone: str  # the zone the rule used ('' never: devices without one use the default)
    devices: int
    release_at: datetime  # UTC
    words: str  # "08:00 on 2026-05-02 in Europe/Lisbon (07:00 UTC)"


@dataclass(frozen=True)
class Forecast:
    """What the campaign's rules will do, as far as can be known before sending."""

    rules: list[str] = field(default_factory=list)
    excluded: dict[str, int] = field(default_factory=dict)  # reason -> devices
    excluded_by_platform: dict[str, int] = field(default_factory=dict)
    held: list[HeldGroup] = field(default_factory=list)

    @property
    def held_devices(self) -> int:
        return sum(g.devices for g in self.held)


def forecast(
    ws: Workspace,
    spec: CampaignSpec,
    rule: CompiledRule,
    exclusion: CompiledRule,
    now: datetime | None = None,
) -> Forecast:
    """Predict caps and quiet hours over the audience's sendable devices.

    Caps are counted from the sends recorded by ``now``; quiet hours are judged at the
    moment each time zone's devices are due (now, the scheduled instant, or the local
    time of a per-time-zone schedule).
    """
    rules = rules_for(ws, spec)
    if not rules.active:
        return Forecast()
    moment = now or utc_now()
    since = stamp(moment - rules.cap.within.delta) if rules.cap else ""
    groups = store.eligible_groups(
        ws, rule.where, rule.params, exclusion.where, exclusion.params,
        cap_max=rules.cap.max if rules.cap else None, since=since,
    )  # fmt: skip
    excluded: dict[str, int] = {}
    by_platform: dict[str, int] = {}
    held: dict[tuple[str, datetime], int] = {}
    for group in groups:
        zone = zone_or(group.timezone, rules.zone)
        due = _due(spec, group.timezone, moment)
        verdict = judge(
            rules,
            test=group.test,
            quiet_end=rules.quiet.ends_after(due, zone) if rules.quiet else None,
            recent=rules.cap.max if rules.cap and group.capped else 0,
        )
        if verdict.release is not None:
            key = (zone.key, verdict.release)
            held[key] = held.get(key, 0) + group.devices
        elif verdict.reason:
            excluded[verdict.reason] = excluded.get(verdict.reason, 0) + group.devices
            by_platform[group.platform] = by_platform.get(group.platform, 0) + group.devices
    return Forecast(
        rules.describe(),
        excluded,
        by_platform,
        [
            HeldGroup(zone, n, release, _release_words(release, zone))
            for (zone, release), n in sorted(held.items(), key=lambda kv: (kv[0][1], kv[0][0]))
        ],
    )


def _due(spec: CampaignSpec, timezone: str, now: datetime) -> datetime:
    schedule = spec.schedule
    if schedule.kind is ScheduleKind.AT and schedule.at is not None:
        return max(schedule.at, now)
    if schedule.kind is ScheduleKind.LOCAL:
        from pushdeck.core.campaigns.schedule_times import local_due

        return max(local_due(schedule, timezone), now)
    return now


def _release_words(release: datetime, zone: str) -> str:
    local = release.astimezone(ZoneInfo(zone))
    return f"{local:%H:%M} on {local:%Y-%m-%d} in {zone} ({release:%Y-%m-%d %H:%M} UTC)"


# --------------------------------------------------------------------------- app defaults


def update_app_rules(
    ws: Workspace,
    app: str,
    *,
    frequency_cap: FrequencyCap | str | None = None,
    quiet_hours: QuietHours | str | None = None,
    timezone: str | None = None,
    attribution_window: Window | None = None,
) -> AppRules:
    """Change an app's defaults: None leaves a rule as it is, ``OFF`` removes it."""
    from pushdeck.core.store.apps import get_app

    app_id = get_app(ws, app).id  # a clear error for an unknown app
    assert app_id is not None
    rules = _stored_rules(ws, app_id)
    if frequency_cap is not None:
        cap = frequency_cap if isinstance(frequency_cap, FrequencyCap) else None
        rules = replace(rules, frequency_cap=cap)  # OFF (any text) removes it
    if quiet_hours is not None:
        quiet = quiet_hours if isinstance(quiet_hours, QuietHours) else None
        rules = replace(rules, quiet_hours=quiet)
    if timezone is not None:
        rules = replace(rules, timezone=parse_zone(timezone, "timezone"))
    if attribution_window is not None:
        rules = replace(rules, attribution_window=attribution_window)
    store.set_app_rules_doc(ws, app_id, rules.to_doc())
    return rules
