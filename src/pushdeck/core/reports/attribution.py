"""Which conversions a campaign earned, and what they were worth.

A conversion counts for campaign C, once, as

- **direct** when its event named C (``campaign``: the payload's ``pushdeck_campaign``);
- **influenced** when it named no campaign and the last campaign its device opened
  (a tap or an action button) within the app's attribution window before it (default
  24 h, ``pushdeck apps update APP --attribution-window 7d``) is C.

Attribution is decided when the report is made, from the events recorded by then, so
events arriving late or out of order (a file imported the next day) count the same, and
a changed window applies to past campaigns too.

Rates name their denominators: *converted ÷ accepted* (devices with a conversion
credited to C, over devices the provider accepted C's message for) and *converted ÷
opened* (those of them that opened C, over devices that opened C).

The **hold-out comparison** (lift) does not use attribution (a held-out device received
nothing to open): it compares the share of accepted devices with *any* conversion within
the attribution window after their send with the share of hold-out (control) devices with
any conversion within the window after they were held out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pushdeck.core.campaigns.hygiene import app_rules
from pushdeck.core.campaigns.spec import Campaign
from pushdeck.core.reports.analytics import FunnelRow, GroupBy
from pushdeck.core.store import conversions as store
from pushdeck.core.store.workspace import Workspace

MICROS = Decimal(1_000_000)
_CLOCK_SLACK = timedelta(days=1)

DEFINITIONS = {
    "conversions": "Conversion events credited to the campaign: direct (the event named the "
    "campaign) plus influenced (the device's last opened campaign within the attribution "
    "window before converting).",
    "converted": "Devices with at least one conversion credited to the campaign.",
    "conversion_rate_of_accepted": "converted ÷ accepted",
    "conversion_rate_of_opened": "converted devices that opened ÷ opened",
    "value": "Sum of the credited conversions' values, per currency (never converted).",
    "lift": "Share of accepted devices with any conversion within the attribution window "
    "after their send, minus the same share of the hold-out (control) group after it was "
    "held out; a two-sided two-proportion z-test gives p.",
}


@dataclass(frozen=True)
class ConversionRow:
    """Conversions of one group (the whole campaign, a platform, a variant, a locale)."""

    group: str
    accepted: int
    opened: int
    holdout: int  # control devices in the group
    conversions: int = 0
    direct: int = 0
    influenced: int = 0
    converted: int = 0  # devices with a credited conversion
    converted_opened: int = 0  # of those, devices that opened the campaign
    value: Mapping[str, Decimal] = field(default_factory=dict)  # currency -> sum
    window_converted: int = 0  # accepted devices converting within the window of the send
    holdout_converted: int = 0  # control devices converting within the window

    @property
    def conversion_rate_of_accepted(self) -> float | None:
        return _ratio(self.converted, self.accepted)

    @property
    def conversion_rate_of_opened(self) -> float | None:
        return _ratio(self.converted_opened, self.opened)

    @property
    def window_rate(self) -> float | None:
        """Accepted devices with any conversion within the window ÷ accepted."""
        return _ratio(self.window_converted, self.accepted)

    @property
    def holdout_rate(self) -> float | None:
        """Hold-out devices with any conversion within the window ÷ hold-out."""
        return _ratio(self.holdout_converted, self.holdout)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True)
class Lift:
    sent_rate: float | None
    holdout_rate: float | None
    p_value: float | None

    @property
    def points(self) -> float | None:
        """The difference in percentage points (sent − hold-out)."""
        if self.sent_rate is None or self.holdout_rate is None:
            return None
        return (self.sent_rate - self.holdout_rate) * 100

    @property
    def relative(self) -> float | None:
        if self.sent_rate is None or not self.holdout_rate:
            return None
        return self.sent_rate / self.holdout_rate - 1


@dataclass(frozen=True)
class ConversionReport:
    window: timedelta
    overall: ConversionRow
    by: Mapping[str, tuple[ConversionRow, ...]]  # "platform" / "variant" / "locale"
    lift: Lift | None  # None when nobody was held out

    @property
    def any(self) -> bool:
        o = self.overall
        return bool(o.conversions or o.window_converted or o.holdout_converted)

    def converted_by_variant(self) -> dict[str, int]:
        return {r.group: r.converted for r in self.by.get("variant", ())}


_DIMENSIONS: tuple[GroupBy, ...] = ("platform", "variant", "locale")


def campaign_conversions(
    ws: Workspace,
    campaign: Campaign,
    funnels: Mapping[GroupBy, Sequence[FunnelRow]],
) -> ConversionReport:
    """Credited conversions, rates, value and the hold-out comparison of ``campaign``.

    ``funnels`` are the campaign's funnel rows overall (key None) and per dimension
    (``reports`` already has them: no second scan of the journal).
    """
    app_id = store.find_app(ws, campaign.spec.app)
    window = app_rules(ws, campaign.spec.app).window
    if app_id is None or campaign.started_at is None or not store.any_conversions(ws, app_id):
        return _empty(window, funnels)
    # Only conversions after the campaign started can count (less a day: devices' clocks
    # are not ours), which bounds the reads to a range of the conversions index.
    since = _stamp(_parse(campaign.started_at) - _CLOCK_SLACK)
    credited = _credited(ws, campaign, app_id, window, since)
    grouped = store.conversions_of_group(
        ws, campaign.id, app_id, since, int(window.total_seconds())
    )
    overall = _fold(None, credited, grouped, funnels)
    by = {str(d): _fold(d, credited, grouped, funnels) for d in _DIMENSIONS}
    return ConversionReport(window, overall[0], by, _lift(overall[0]))


def _empty(window: timedelta, funnels: Mapping[GroupBy, Sequence[FunnelRow]]) -> ConversionReport:
    def rows(by: GroupBy) -> tuple[ConversionRow, ...]:
        return tuple(
            ConversionRow(f.group, f.accepted, f.opened, f.control) for f in funnels.get(by, ())
        )

    overall = rows(None) or (ConversionRow("", 0, 0, 0),)
    return ConversionReport(
        window, overall[0], {str(d): rows(d) for d in _DIMENSIONS}, _lift(overall[0])
    )


@dataclass(frozen=True)
class _Credit:
    row: store.ConversionRow
    direct: bool


def _credited(
    ws: Workspace, campaign: Campaign, app_id: int, window: timedelta, since: str
) -> list[_Credit]:
    credits = [_Credit(r, True) for r in store.named_conversions(ws, campaign.id)]
    for row in store.conversions_after_opens(ws, campaign.id, app_id, since):
        since = _stamp(_parse(row.at) - window)
        if store.last_open(ws, row.device_id, row.at, since) == campaign.id:
            credits.append(_Credit(row, False))
    return credits


def _fold(
    by: GroupBy,
    credits: Sequence[_Credit],
    grouped: Sequence[tuple[str, str, str, str, int]],
    funnels: Mapping[GroupBy, Sequence[FunnelRow]],
) -> tuple[ConversionRow, ...]:
    index = {"platform": 1, "variant": 2, "locale": 3}

    def key_of(row: store.ConversionRow) -> str:
        return "" if by is None else str(getattr(row, by))

    out = []
    for funnel in funnels.get(by, ()) or [FunnelRow("", *([0] * 14))]:
        mine = [c for c in credits if key_of(c.row) == funnel.group]
        devices = {c.row.device_id for c in mine}
        opened = {c.row.device_id for c in mine if c.row.opened_at is not None}
        value: dict[str, Decimal] = {}
        for credit in mine:
            if credit.row.value_micros is not None:
                money = Decimal(credit.row.value_micros) / MICROS
                value[credit.row.currency] = value.get(credit.row.currency, Decimal(0)) + money
        window = holdout = 0
        for state, *keys, n in grouped:
            if by is not None and keys[index[by] - 1] != funnel.group:
                continue
            if state == "accepted":
                window += n
            else:
                holdout += n
        out.append(
            ConversionRow(
                funnel.group, funnel.accepted, funnel.opened, funnel.control,
                conversions=len(mine), direct=sum(c.direct for c in mine),
                influenced=sum(not c.direct for c in mine), converted=len(devices),
                converted_opened=len(opened), value=dict(sorted(value.items())),
                window_converted=window, holdout_converted=holdout,
            )
        )  # fmt: skip
    return tuple(out)


def _lift(row: ConversionRow) -> Lift | None:
    if not row.holdout:
        return None
    from pushdeck.core.reports.data import two_proportion_p_value

    p = two_proportion_p_value(
        row.window_converted, row.accepted, row.holdout_converted, row.holdout
    )
    return Lift(row.window_rate, row.holdout_rate, p)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conversions_signature(ws: Workspace) -> tuple[object, ...]:
    """Changes whenever a conversion is recorded or an attribution window changes (for
    caches of reports)."""
    return store.signature(ws)


def money(value: Decimal, currency: str) -> str:
    """'1,234.50 EUR': two decimals, more only when the value has them."""
    places = max(2, -value.normalize().as_tuple().exponent)  # type: ignore[operator]
    return f"{value:,.{places}f} {currency}"


def money_text(values: Mapping[str, Decimal]) -> str:
    return "; ".join(money(v, c) for c, v in values.items()) or "–"
