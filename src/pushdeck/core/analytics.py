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

from pushdeck.core.campaigns import get_campaign
from pushdeck.core.store.workspace import Workspace

GroupBy = Literal["platform", "variant", "locale"] | None
_GROUP_SQL = {None: "''", "platform": "j.platform", "variant": "j.variant", "locale": "j.locale"}

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


_JOURNAL_SQL = """
SELECT {group} AS grp,
       count(*) AS targeted,
       sum(j.state = 'excluded') AS excluded,
       sum(j.state = 'control') AS control,
       sum(j.state IN ('queued', 'in_flight')) AS queued,
       sum(j.state = 'skipped') AS skipped,
       sum(j.state = 'cancelled') AS cancelled,
       sum(j.state IN ('accepted', 'rejected', 'dead')) AS sent,
       sum(j.state = 'accepted') AS accepted,
       sum(j.state = 'rejected') AS rejected,
       sum(j.state = 'dead') AS dead
FROM journal j WHERE j.campaign_id = ? GROUP BY grp
"""

# One row per device first (an index range scan on events(campaign_id, kind, device_id)),
# then grouped: counting distinct devices without a sort over every event.
_EVENTS_SQL = """
WITH per_device AS (
    SELECT e.device_id,
           max(e.kind = 'delivered') AS delivered,
           max(e.kind IN ('opened', 'action')) AS opened,
           sum(e.kind = 'action') AS actions,
           max(e.kind = 'dismissed') AS dismissed
    FROM events e WHERE e.campaign_id = ? GROUP BY e.device_id
)
SELECT {group} AS grp, sum(p.delivered), sum(p.opened), sum(p.actions), sum(p.dismissed)
FROM per_device p JOIN journal j ON j.campaign_id = ? AND j.device_id = p.device_id
GROUP BY grp
"""


def funnel(ws: Workspace, name: str, by: GroupBy = None) -> list[FunnelRow]:
    """The funnel of campaign ``name``, overall (one row) or per group, largest first."""
    campaign_id = get_campaign(ws, name).id
    group = _GROUP_SQL[by]
    sent = {r[0]: tuple(r)[1:] for r in ws.query(_JOURNAL_SQL.format(group=group), (campaign_id,))}
    engaged = {
        r[0]: tuple(r)[1:]
        for r in ws.query(_EVENTS_SQL.format(group=group), (campaign_id, campaign_id))
    }
    rows = [_row(key, values, engaged.get(key)) for key, values in sent.items()]
    return sorted(rows, key=lambda r: (-r.targeted, r.group))


def _row(key: str, sent: tuple[Any, ...], engaged: tuple[Any, ...] | None) -> FunnelRow:
    counts = [int(v or 0) for v in (*sent, *(engaged or (0, 0, 0, 0)))]
    return FunnelRow(key, *counts)


def overall(ws: Workspace, name: str) -> FunnelRow:
    rows = funnel(ws, name)
    if rows:
        return rows[0]
    return FunnelRow("", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def reasons(ws: Workspace, name: str, state: str) -> list[tuple[str, int]]:
    """Counts by reason for one journal state ('rejected', 'dead', 'excluded', 'skipped')."""
    campaign_id = get_campaign(ws, name).id
    rows = ws.query(
        "SELECT reason, count(*) AS n FROM journal WHERE campaign_id = ? AND state = ?"
        " GROUP BY reason ORDER BY n DESC, reason",
        (campaign_id, state),
    )
    return [(r[0], r[1]) for r in rows]


def action_counts(ws: Workspace, name: str) -> list[tuple[str, int]]:
    campaign_id = get_campaign(ws, name).id
    rows = ws.query(
        "SELECT action_id, count(*) AS n FROM events WHERE campaign_id = ? AND kind = 'action'"
        " GROUP BY action_id ORDER BY n DESC",
        (campaign_id,),
    )
    return [(r[0], r[1]) for r in rows]


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
    kinds: tuple[str, ...] = ("opened", "action"),
) -> list[TimePoint]:
    """First opens per device, bucketed by time since the send started (gaps omitted)."""
    campaign = get_campaign(ws, name)
    if campaign.started_at is None:
        return []
    seconds = 60 if unit == "minute" else 3600
    marks = ", ".join("?" * len(kinds))
    rows = ws.query(
        "WITH first AS (SELECT device_id, min(at) AS at FROM events"
        f" WHERE campaign_id = ? AND kind IN ({marks}) GROUP BY device_id)"
        " SELECT max(0, (CAST(strftime('%s', at) AS INTEGER)"
        " - CAST(strftime('%s', ?) AS INTEGER)) / ?) AS bucket, count(*)"
        " FROM first GROUP BY bucket ORDER BY bucket",
        (campaign.id, *kinds, campaign.started_at, seconds),
    )
    points: list[TimePoint] = []
    total = 0
    for bucket, count in rows:
        total += count
        points.append(TimePoint(int(bucket), int(count), total))
    return points


def campaign_report(ws: Workspace, name: str) -> dict[str, Any]:
    """Everything above for one campaign, JSON-ready (CLI ``--json``, exports)."""
    campaign = get_campaign(ws, name)
    return {
        "campaign": name,
        "status": str(campaign.status),
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
        "overall": overall(ws, name).as_dict(),
        "by_platform": [r.as_dict() for r in funnel(ws, name, "platform")],
        "by_variant": [r.as_dict() for r in funnel(ws, name, "variant")],
        "by_locale": [r.as_dict() for r in funnel(ws, name, "locale")],
        "excluded_by_reason": dict(reasons(ws, name, "excluded")),
        "rejected_by_reason": dict(reasons(ws, name, "rejected")),
        "dead_by_reason": dict(reasons(ws, name, "dead")),
        "skipped_by_reason": dict(reasons(ws, name, "skipped")),
        "actions": dict(action_counts(ws, name)),
        "opens_per_hour": [asdict(p) for p in opens_over_time(ws, name, unit="hour")],
        "definitions": DEFINITIONS,
    }
