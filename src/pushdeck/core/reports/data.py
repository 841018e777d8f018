"""Report queries and statistics that ``analytics`` does not provide.

- A/B statistics: per-variant open rate (opened ÷ accepted) with a Wilson 95 % interval,
  and a two-sided two-proportion z-test between the best and the runner-up variant.
- Reasons of every non-sent state in one query, per-device rows for CSV export (tokens
  hashed with a per-export salt unless raw is asked for), and the across-campaigns table
  (the statements are ``store.journal_reports``).

"Not enough data" rule: the normal approximation behind both the z-test and a useful
interval needs, in every compared variant, at least ``MIN_ACCEPTED`` accepted sends and
at least ``MIN_OPENS`` opens *and* ``MIN_OPENS`` non-opens (the usual n·p ≥ 10 and
n·(1−p) ≥ 10 rule of thumb, with a floor on n so one lucky open does not decide).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pushdeck.core.campaigns.library import list_campaigns
from pushdeck.core.campaigns.spec import AudienceKind, Campaign
from pushdeck.core.reports.analytics import FunnelRow
from pushdeck.core.store import journal_reports
from pushdeck.core.store.workspace import Workspace

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
ALPHA = 0.05
MIN_ACCEPTED = 100
MIN_OPENS = 10
CONTROL = "control"


# --------------------------------------------------------------------------- statistics


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``successes / trials`` (None when ``trials`` is 0)."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (None if undefined)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class VariantStat:
    name: str
    accepted: int
    opened: int  # successes of the metric: devices that opened, or that converted
    rate: float | None  # opened (or converted) ÷ accepted
    ci: tuple[float, float] | None  # Wilson 95 %

    @property
    def enough(self) -> bool:
        return (
            self.accepted >= MIN_ACCEPTED
            and self.opened >= MIN_OPENS
            and self.accepted - self.opened >= MIN_OPENS
        )


@dataclass(frozen=True)
class AbResult:
    """The A/B verdict in numbers and in plain words."""

    variants: tuple[VariantStat, ...]
    leader: str | None  # highest open rate
    runner_up: str | None
    p_value: float | None  # leader vs runner-up
    enough_data: bool
    significant: bool
    verdict: str
    metric: str = "opens"  # or "conversions" (the campaign's ab_metric)

    @property
    def winner(self) -> str | None:
        """The leader, only when the difference is significant at 5 %."""
        return self.leader if self.significant else None


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def ab_test(
    rows: Sequence[FunnelRow], converted: Mapping[str, int] | None = None
) -> AbResult | None:
    """Compare the variants' open rates, or with ``converted`` (variant -> devices with a
    credited conversion) their conversion rates (None with fewer than two variants)."""

    def successes(row: FunnelRow) -> int:
        return row.opened if converted is None else converted.get(row.group, 0)

    stats = [
        VariantStat(
            r.group,
            r.accepted,
            successes(r),
            successes(r) / r.accepted if r.accepted else None,
            wilson_interval(successes(r), r.accepted),
        )
        for r in rows
        if r.group not in ("", CONTROL)
    ]
    if len(stats) < 2:
        return None
    ranked = sorted(stats, key=lambda s: (-(s.rate or 0.0), s.name))
    best, second = ranked[0], ranked[1]
    enough = best.enough and second.enough
    p = two_proportion_p_value(best.opened, best.accepted, second.opened, second.accepted)
    significant = enough and p is not None and p < ALPHA and (best.rate or 0) > (second.rate or 0)
    metric = "opens" if converted is None else "conversions"
    return AbResult(
        tuple(sorted(stats, key=lambda s: s.name)),
        best.name,
        second.name,
        p,
        enough,
        significant,
        _verdict(best, second, p, enough, significant, metric),
        metric,
    )


def _verdict(
    best: VariantStat,
    second: VariantStat,
    p: float | None,
    enough: bool,
    significant: bool,
    metric: str = "opens",
) -> str:
    done, doing, events = (
        ("opened", "is opened more often", "opens")
        if metric == "opens"
        else ("converted", "converts more often", "conversions")
    )
    rates = f"{best.name} {_pct(best.rate)} vs {second.name} {_pct(second.rate)} of accepted"
    if metric != "opens":
        rates += " converted"
    if not enough:
        short = [s for s in (best, second) if not s.enough]
        detail = "; ".join(f"{s.name}: {s.accepted} accepted, {s.opened} {done}" for s in short)
        return (
            f"Not enough data yet to compare ({rates}). Each variant needs at least "
            f"{MIN_ACCEPTED} accepted sends and {MIN_OPENS} {events} and non-{events} "
            f"({detail})."
        )
    p_text = "p < 0.001" if p is not None and p < 0.001 else f"p = {p:.3f}"
    if significant:
        return (
            f"{best.name} wins: it {doing} ({rates}, {p_text}). A difference "
            "this large would be unlikely (under 5 %) if the variants performed the same."
        )
    return (
        f"No clear winner: {rates} ({p_text}). A difference this size could well be "
        "chance; keep collecting data or treat the variants as equal."
    )


# --------------------------------------------------------------------------- queries


def reasons_by_state(ws: Workspace, campaign_id: int) -> dict[str, list[tuple[str, int]]]:
    """Reason counts of every state that carries one, from the (campaign, state) index."""
    result: dict[str, list[tuple[str, int]]] = {}
    for state, reason, n in journal_reports.reasons_by_state(ws, campaign_id):
        result.setdefault(state, []).append((reason or "(no reason given)", int(n)))
    return result


DEVICE_COLUMNS = (
    "device",
    "platform",
    "locale",
    "variant",
    "state",
    "reason",
    "sent_at",
    "delivered_at",
    "opened_at",
    "dismissed_at",
    "actions",
)


def token_hasher(
    *, raw: bool = False, salt: bytes | None = None
) -> tuple[str, Callable[[str], str]]:
    """(column note, callable token -> text): SHA-256 of salt + token, first 16 hex digits.

    The salt is random per export and never stored, so hashes from two exports cannot be
    joined and a token cannot be confirmed by hashing a guess.
    """
    if raw:
        return "raw device token", str
    key = salt if salt is not None else secrets.token_bytes(16)

    def digest(token: str) -> str:
        return hashlib.sha256(key + token.encode()).hexdigest()[:16]

    return "SHA-256 of a per-export salt + token, truncated to 16 hex digits", digest


def device_rows(
    ws: Workspace, campaign_id: int, *, raw: bool = False, salt: bytes | None = None
) -> Iterator[tuple[object, ...]]:
    """One row per targeted device (``DEVICE_COLUMNS``), streamed in device-id order."""
    _, hasher = token_hasher(raw=raw, salt=salt)
    for row in journal_reports.device_rows(ws, campaign_id):
        yield (hasher(row[0]), *tuple(row)[1:])


# --------------------------------------------------------------------------- across campaigns


@dataclass(frozen=True)
class CampaignSummary:
    name: str
    app: str
    status: str
    started_at: str
    audience: str
    targeted: int
    sent: int
    accepted: int
    delivered: int
    opened: int

    @property
    def open_rate(self) -> float | None:
        """opened ÷ accepted."""
        return self.opened / self.accepted if self.accepted else None


def across_campaigns(
    ws: Workspace,
    *,
    since: str = "",
    until: str = "",
    app: str = "",
    platform: str = "",
    segment: str = "",
) -> list[CampaignSummary]:
    """Campaigns that started sending in [since, until] (ISO dates), oldest first.

    ``platform`` restricts every count to that platform's devices; ``app`` and
    ``segment`` keep only campaigns of that app / sent to that segment.
    """
    result = []
    for campaign in sorted(list_campaigns(ws), key=lambda c: (c.started_at or "", c.id)):
        if not _selected(campaign, since, until, app, segment):
            continue
        counts = [int(v or 0) for v in journal_reports.totals(ws, campaign.id, platform)]
        result.append(
            CampaignSummary(
                campaign.name,
                campaign.spec.app,
                str(campaign.status),
                campaign.started_at or "",
                _audience_label(campaign),
                *counts,
            )
        )
    return result


def _selected(campaign: Campaign, since: str, until: str, app: str, segment: str) -> bool:
    started = campaign.started_at
    if started is None:
        return False
    if since and started[: len(since)] < since:
        return False
    if until and started[: len(until)] > until:
        return False
    if app and campaign.spec.app != app:
        return False
    audience = campaign.spec.audience
    return not segment or (audience.kind is AudienceKind.SEGMENT and audience.segment == segment)


def _audience_label(campaign: Campaign) -> str:
    audience = campaign.spec.audience
    if audience.kind is AudienceKind.SEGMENT:
        return f"segment {audience.segment}"
    if audience.kind is AudienceKind.TOKENS:
        return f"{len(audience.tokens)} tokens"
    return {"all": "all devices", "test_devices": "test devices"}[audience.kind.value]
