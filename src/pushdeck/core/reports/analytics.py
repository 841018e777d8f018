"""What the reports chart: the funnel, rates with named denominators, opens over time.

Every number is one SQL aggregate over the journal (what was sent) and the events
(what came back), grouped by nothing, platform, variant or locale (the device's
platform and locale as they were when sent). Definitions, so reports can print them:

- targeted: devices the audience matched, in any state;
- excluded: targeted but not sendable (opted out, unregistered, invalid, no credential);
- control: the hold-out group, deliberately not sent;
- sent: the provider answered (accepted + rejected + dead);
- accepted: the provider accepted the message — *not* proof it reached the device;
- rejected: the provider refused it (by reason); dead: the token no longer exists;
- delivered: devices whose app confirmed display (only apps that report it);
- opened: devices that tapped the notification or one of its actions;
- actions: action-button presses; dismissed: devices that swiped it away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.store import events, journal, journal_reports
from pushdeck.core.store.workspace import Row, Workspace

GroupBy = Literal["platform", "variant", "locale"] | None

DEFINITIONS = {
    "targeted": "Devices the audience matched, in any state.",
    "excluded": "Targeted devices that could not be sent to (see exclusion reasons).",
    "control": "Hold-out group: deliberately sent nothing, for comparison.",
    "sent": "Sends the provider answered: accepted + rejected + dead.",
    "accepted": "Accepted by the provider (APNs/FCM/Web Push). Not proof of delivery.",
    "rejected": "Refused by the provider, by reason.",
    "dead": "The provider said the token no longer exists; the device was unregistered.",
    "skipped": "Never sent: the personalized payload was over budget or failed to render.",
    "delivered": "Confirmed shown on the device by the app (only where apps report it).",
    "opened": "Devices that tapped the notification or one of its action buttons.",
    "actions": "Action-button presses.",
    "dismissed": "Devices that dismissed the notification without opening it.",
    "acceptance_rate": "accepted ÷ sent",
    "delivery_rate": "delivered ÷ accepted",
    "open_rate_of_accepted": "opened ÷ accepted",
    "open_rate_of_delivered": "opened ÷ delivered (only meaningful where apps report delivery)",
}


@dataclass(frozen=True)
class FunnelRow:
    group: str  # '' for the whole campaign, else the platform / variant / locale
    targeted: int
    excluded: int
    control: int
    queued: int  # not sent yet (or in flight)
    skipped: int
    cancelled: int
    sent: int
    accepted: int
    rejected: int
    dead: int
    delivered: int
    opened: int
    actions: int
    dismissed: int

    @property
    def acceptance_rate(self) -> float | None:
        return _ratio(self.accepted, self.sent)

    @property
    def delivery_rate(self) -> float | None:
        return _ratio(self.delivered, self.accepted)

    @property
    def open_rate_of_accepted(self) -> float | None:
        return _ratio(self.opened, self.accepted)

    @property
    def open_rate_of_delivered(self) -> float | None:
        return _ratio(self.opened, self.delivered)

    def as_dict(self) -> dict[str, Any]:
        rates = {
            "acceptance_rate": self.acceptance_rate,
            "delivery_rate": self.delivery_rate,
            "open_rate_of_accepted": self.open_rate_of_accepted,
            "open_rate_of_delivered": self.open_rate_of_delivered,
        }
        return {**asdict(self), **rates}


def _ratio(numerator: int, denominator: int) -> float | None:
    """None, not 0, when there is no denominator: "no data" is not "0 %"."""
    return numerator / denominator if denominator else None


# The grouped counts come from journal_summary (``store.journal_reports.funnel_rows``):
# a few hundred rows instead of one per recipient, folded into the overall /
# per-platform / per-variant / per-locale funnels.
_STATE_FIELDS = {
    "excluded": "excluded",
    "control": "control",
    "queued": "queued",
    "in_flight": "queued",
    "skipped": "skipped",
    "cancelled": "cancelled",
    "accepted": "accepted",
    "rejected": "rejected",
    "dead": "dead",
}
_COUNTS = (
    "targeted", "excluded", "control", "queued", "skipped", "cancelled", "sent", "accepted",
    "rejected", "dead", "delivered", "opened", "actions", "dismissed",
)  # fmt: skip


def _fold(rows: list[Row], by: GroupBy) -> list[FunnelRow]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        key = "" if by is None else row[by]
        counts = totals.setdefault(key, dict.fromkeys(_COUNTS, 0))
        counts["targeted"] += row["n"]
        counts[_STATE_FIELDS.get(row["state"], "queued")] += row["n"]
        if row["state"] in ("accepted", "rejected", "dead"):
            counts["sent"] += row["n"]
        for name in ("delivered", "opened", "actions", "dismissed"):
            counts[name] += int(row[name] or 0)
    return [FunnelRow(key, **counts) for key, counts in totals.items()]


def funnel(ws: Workspace, name: str, by: GroupBy = None) -> list[FunnelRow]:
    """The funnel of campaign ``name``, overall (one row) or per group, largest first."""
    return _sorted(_fold(_funnel_rows(ws, name), by))


def _funnel_rows(ws: Workspace, name: str) -> list[Row]:
    return journal_reports.funnel_rows(ws, get_campaign(ws, name).id)


def _sorted(rows: list[FunnelRow]) -> list[FunnelRow]:
    return sorted(rows, key=lambda r: (-r.targeted, r.group))


def funnel_rows(ws: Workspace, name: str) -> list[Row]:
    """The raw grouped rows (platform, variant, locale, state, counts) of one scan."""
    return _funnel_rows(ws, name)


def fold(rows: list[Row], by: GroupBy = None) -> list[FunnelRow]:
    """Funnels from ``funnel_rows`` for one grouping, largest first (no new query)."""
    return _sorted(_fold(rows, by))


_EMPTY = FunnelRow("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def overall(ws: Workspace, name: str) -> FunnelRow:
    """The whole campaign's funnel (zeros before anything was targeted)."""
    return (funnel(ws, name) or [_EMPTY])[0]


def reasons(ws: Workspace, name: str, state: str) -> list[tuple[str, int]]:
    """Counts by reason for one journal state ('rejected', 'dead', 'excluded', 'skipped')."""
    return journal.reason_counts(ws, get_campaign(ws, name).id, state)


def action_counts(ws: Workspace, name: str) -> list[tuple[str, int]]:
    return events.action_counts(ws, get_campaign(ws, name).id)


@dataclass(frozen=True)
class TimePoint:
    offset: int  # minutes or hours since the campaign started sending
    count: int  # devices whose first open fell in this bucket
    cumulative: int


def opens_over_time(
    ws: Workspace,
    name: str,
    *,
    unit: Literal["minute", "hour"] = "minute",
) -> list[TimePoint]:
    """First opens (tap or action) per device, by time since the send started (gaps omitted)."""
    campaign = get_campaign(ws, name)
    if campaign.started_at is None:
        return []
    seconds = 60 if unit == "minute" else 3600
    rows = journal_reports.first_opens(ws, campaign.id, campaign.started_at, seconds)
    points: list[TimePoint] = []
    total = 0
    for bucket, count in rows:
        total += count
        points.append(TimePoint(int(bucket), int(count), total))
    return points


def campaign_report(ws: Workspace, name: str) -> dict[str, Any]:
    """Everything above for one campaign, JSON-ready (CLI ``--json``, exports)."""
    campaign = get_campaign(ws, name)
    rows = _funnel_rows(ws, name)  # one index scan for all four funnels
    return {
        "campaign": name,
        "status": str(campaign.status),
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "overall": (_fold(rows, None) or [_EMPTY])[0].as_dict(),
        "by_platform": [r.as_dict() for r in _sorted(_fold(rows, "platform"))],
        "by_variant": [r.as_dict() for r in _sorted(_fold(rows, "variant"))],
        "by_locale": [r.as_dict() for r in _sorted(_fold(rows, "locale"))],
        "excluded_by_reason": dict(reasons(ws, name, "excluded")),
        "rejected_by_reason": dict(reasons(ws, name, "rejected")),
        "dead_by_reason": dict(reasons(ws, name, "dead")),
        "skipped_by_reason": dict(reasons(ws, name, "skipped")),
        "actions": dict(action_counts(ws, name)),
        "opens_per_hour": [asdict(p) for p in opens_over_time(ws, name, unit="hour")],
        "definitions": DEFINITIONS,
    }
