"""The report model: everything a campaign report shows, and its CSV and HTML exports.

``dashboard_data`` assembles one campaign's numbers from ``analytics`` (one index scan
for all four funnels) and ``report_data``; the Reports page, the PDF and the exports all
render this one object, so they always agree. Every rate names its numerator and its
denominator: *accepted by the provider is not delivered*, and *delivered* counts only
devices whose app reports display. The HTML export is one self-contained file: charts
come in as PNG bytes (drawn by the app) and are embedded as ``data:`` URIs.
"""

from __future__ import annotations

import base64
import html
import io
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TextIO

from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import (
    AudienceKind,
    AudienceSpec,
    Campaign,
    CampaignStatus,
    ScheduleSpec,
    spec_to_dict,
)
from pushdeck.core.campaigns.templating import Personalizer
from pushdeck.core.common.csv_cells import safe_writer
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
from pushdeck.core.reports import analytics
from pushdeck.core.reports.analytics import DEFINITIONS, FunnelRow, TimePoint
from pushdeck.core.reports.attribution import DEFINITIONS as CONVERSION_DEFINITIONS
from pushdeck.core.reports.attribution import (
    ConversionReport,
    ConversionRow,
    campaign_conversions,
    conversions_signature,
    money_text,
)
from pushdeck.core.reports.data import (
    CONTROL,
    DEVICE_COLUMNS,
    AbResult,
    ab_test,
    device_rows,
    reasons_by_state,
    token_hasher,
)
from pushdeck.core.store import events, journal_reports
from pushdeck.core.store.workspace import Workspace, utcnow

NOTE = (
    "Accepted by the provider is not delivered: APNs, FCM and Web Push only say they took "
    "the message. Confirmed delivery exists only where apps report it."
)


@dataclass(frozen=True)
class Stage:
    """One funnel bar: a count, and its rate with the denominator named."""

    key: str
    label: str
    count: int
    denominator_key: str | None
    denominator: int | None
    definition: str

    @property
    def rate(self) -> float | None:
        if not self.denominator:
            return None
        return self.count / self.denominator

    @property
    def rate_text(self) -> str:
        if self.denominator_key is None:
            return ""
        if self.rate is None:
            return f"no {self.denominator_key} yet"
        return f"{self.rate * 100:.1f} % of {self.denominator_key}"


def stages(row: FunnelRow) -> list[Stage]:
    """targeted → sent → accepted → delivered → opened, each with its denominator."""
    return [
        Stage("targeted", "Targeted", row.targeted, None, None, DEFINITIONS["targeted"]),
        Stage("sent", "Sent", row.sent, "targeted", row.targeted, DEFINITIONS["sent"]),
        Stage("accepted", "Accepted", row.accepted, "sent", row.sent, DEFINITIONS["accepted"]),
        Stage(
            "delivered",
            "Delivered",
            row.delivered,
            "accepted",
            row.accepted,
            DEFINITIONS["delivered"],
        ),
        Stage("opened", "Opened", row.opened, "accepted", row.accepted, DEFINITIONS["opened"]),
    ]


@dataclass(frozen=True)
class DashboardData:
    campaign: Campaign
    overall: FunnelRow
    by_platform: tuple[FunnelRow, ...]
    by_locale: tuple[FunnelRow, ...]
    by_variant: tuple[FunnelRow, ...]
    reasons: Mapping[str, list[tuple[str, int]]]  # state -> [(reason, n)], most first
    actions: tuple[tuple[str, int], ...]
    opens_per_minute: tuple[TimePoint, ...]
    opens_per_hour: tuple[TimePoint, ...]
    ab: AbResult | None
    generated_at: str
    # Conversions credited to the campaign, their value and the hold-out's (issue 20)
    conversions: ConversionReport | None = None

    @property
    def name(self) -> str:
        return self.campaign.name

    @property
    def stages(self) -> list[Stage]:
        return stages(self.overall)


_EMPTY = FunnelRow("", *([0] * 14))


class ReportCache:
    """Dashboard data reused while nothing that feeds it has changed.

    A campaign that is not sending changes only through new events (the events trigger
    updates its journal rows) or a status change, so its data is keyed by the campaign
    row's status and times plus the newest event id (``max(rowid)``: O(1)). A sending
    campaign is always recomputed. Use one cache per workspace thread.
    """

    def __init__(self, size: int = 16) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, int], tuple[tuple[Any, ...], DashboardData]] = (
            OrderedDict()
        )

    def get(self, key: tuple[str, int], signature: tuple[Any, ...]) -> DashboardData | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != signature:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[str, int], signature: tuple[Any, ...], data: DashboardData) -> None:
        self._entries[key] = (signature, data)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def dashboard_data(ws: Workspace, name: str, cache: ReportCache | None = None) -> DashboardData:
    """Everything the dashboard shows for campaign ``name`` (all aggregates in SQL)."""
    campaign = get_campaign(ws, name)
    if cache is None or campaign.status is CampaignStatus.SENDING:
        return _compute(ws, campaign)
    key = (str(ws.path), campaign.id)
    signature = (
        campaign.status,
        campaign.updated_at,
        campaign.started_at,
        campaign.finished_at,
        events.newest_event_id(ws),
        conversions_signature(ws),  # conversions and the attribution window (issue 20)
    )
    data = cache.get(key, signature)
    if data is None:
        data = _compute(ws, campaign)
        cache.put(key, signature, data)
    return data


def _compute(ws: Workspace, campaign: Campaign) -> DashboardData:
    name = campaign.name
    # analytics' grouped counts (the materialized journal_summary), folded four ways.
    rows = analytics._funnel_rows(ws, name)
    folded = {by: analytics._sorted(analytics._fold(rows, by)) for by in _DIMENSIONS}
    per_minute = tuple(analytics.opens_over_time(ws, name, unit="minute"))
    variants = tuple(folded["variant"]) if campaign.spec.variants else ()
    conversions = campaign_conversions(ws, campaign, folded)
    by_conversions = campaign.spec.ab_metric == "conversions"
    return DashboardData(
        campaign=campaign,
        overall=(folded[None] or [_EMPTY])[0],
        by_platform=tuple(folded["platform"]),
        by_locale=tuple(folded["locale"]),
        by_variant=variants,
        reasons=reasons_by_state(ws, campaign.id),
        actions=tuple(analytics.action_counts(ws, name)),
        opens_per_minute=per_minute,
        opens_per_hour=tuple(per_hour(per_minute)),
        ab=ab_test(variants, conversions.converted_by_variant() if by_conversions else None),
        generated_at=utcnow(),
        conversions=conversions,
    )


_DIMENSIONS: tuple[analytics.GroupBy, ...] = (None, "platform", "locale", "variant")


def per_hour(per_minute: Sequence[TimePoint]) -> list[TimePoint]:
    """Minute buckets folded into hour buckets (floor(s/60)//60 == floor(s/3600))."""
    hours: dict[int, int] = {}
    for point in per_minute:
        hours[point.offset // 60] = hours.get(point.offset // 60, 0) + point.count
    total, points = 0, []
    for hour in sorted(hours):
        total += hours[hour]
        points.append(TimePoint(hour, hours[hour], total))
    return points


def message_as_sent(campaign: Campaign, variant: str = "") -> Message:
    """The campaign's message for ``variant`` (default: the leading or first one), rendered
    for a device with no attributes (Liquid defaults apply), in the base language."""
    spec = campaign.spec
    if not variant and spec.variants:
        variant = spec.variants[0].name
    device = Device(spec.app, Platform.IOS, ProviderKind.APNS, "report-preview")
    return Personalizer(spec).render(device, variant)


# --------------------------------------------------------------------------- send the winner


def send_winner_to_rest(
    ws: Workspace, name: str, *, variant: str | None = None, new_name: str = ""
) -> Campaign:
    """Create (not send) a draft campaign: the winning variant to the held-out devices.

    ``variant`` defaults to the A/B test's significant winner; without one this refuses,
    rather than send a coin flip to everyone else.
    """
    campaign = get_campaign(ws, name)
    spec = campaign.spec
    if variant is None:
        ab = dashboard_data(ws, name).ab
        if ab is None or ab.winner is None:
            raise ConfigError(
                f"Campaign {name!r} has no significant winner.",
                hint=ab.verdict if ab else "It was not an A/B test.",
            )
        variant = ab.winner
    chosen = next((v for v in spec.variants if v.name == variant), None)
    if chosen is None:
        raise ConfigError(f"Campaign {name!r} has no variant {variant!r}.")
    tokens = journal_reports.held_out_tokens(ws, campaign.id)
    if not tokens:
        raise ConfigError(
            f"Nobody in {name!r} was held out of the test.",
            hint="'The rest' is the hold-out (control) group; this campaign had none left.",
        )
    follow_up = replace(
        spec,
        name=new_name or f"{name} – winner {variant}",
        audience=AudienceSpec(AudienceKind.TOKENS, tokens=tuple(tokens)),
        variants=(replace(chosen, percent=100.0),),
        control_percent=0.0,
        schedule=ScheduleSpec(),
        description=f"Variant {variant} of {name!r}, sent to the {len(tokens)} held-out devices.",
    )
    return create_campaign(ws, follow_up)


# --------------------------------------------------------------------------- CSV

FUNNEL_COLUMNS = (
    "dimension", "group", "targeted", "excluded", "control", "queued", "skipped", "cancelled",
    "sent", "accepted", "rejected", "dead", "delivered", "opened", "actions", "dismissed",
    "acceptance_rate", "delivery_rate", "open_rate_of_accepted", "open_rate_of_delivered",
)  # fmt: skip


#: Conversion columns after the funnel's (docs/reports.md), then ``value_<CURRENCY>``.
CONVERSION_COLUMNS = (
    "conversions", "conversions_direct", "conversions_influenced", "converted",
    "conversion_rate_of_accepted", "conversion_rate_of_opened", "converted_within_window",
    "conversion_rate_within_window", "holdout", "holdout_converted", "holdout_conversion_rate",
)  # fmt: skip


def write_aggregates_csv(data: DashboardData, out: TextIO) -> None:
    """The funnel overall and per platform / locale / variant, one row per group, with
    each group's conversions and their value per currency."""
    writer = safe_writer(out, lineterminator="\n")
    currencies = _currencies(data.conversions)
    writer.writerow([*FUNNEL_COLUMNS, *CONVERSION_COLUMNS, *(f"value_{c}" for c in currencies)])
    sections = (
        ("overall", (data.overall,)),
        ("platform", data.by_platform),
        ("locale", data.by_locale),
        ("variant", data.by_variant),
    )
    for dimension, rows in sections:
        for row in rows:
            values = row.as_dict()
            cells = [values[c] for c in FUNNEL_COLUMNS[2:]]
            cells += _conversion_cells(_conversion_row(data, dimension, row.group), currencies)
            writer.writerow([dimension, row.group, *("" if v is None else _cell(v) for v in cells)])


def _currencies(report: ConversionReport | None) -> list[str]:
    if report is None:
        return []
    return sorted(report.overall.value)


def _conversion_row(data: DashboardData, dimension: str, group: str) -> ConversionRow | None:
    report = data.conversions
    if report is None:
        return None
    if dimension == "overall":
        return report.overall
    return next((r for r in report.by.get(dimension, ()) if r.group == group), None)


def _conversion_cells(row: ConversionRow | None, currencies: Sequence[str]) -> list[Any]:
    if row is None:
        return [None] * (len(CONVERSION_COLUMNS) + len(currencies))
    return [
        row.conversions, row.direct, row.influenced, row.converted,
        row.conversion_rate_of_accepted, row.conversion_rate_of_opened, row.window_converted,
        row.window_rate, row.holdout, row.holdout_converted, row.holdout_rate,
        *(str(row.value[c]) if c in row.value else None for c in currencies),
    ]  # fmt: skip


def _cell(value: Any) -> str:
    return f"{value:.6f}" if isinstance(value, float) else str(value)


def write_devices_csv(ws: Workspace, name: str, out: TextIO, *, raw_tokens: bool = False) -> int:
    """Per-device rows (tokens hashed unless ``raw_tokens``); returns the row count."""
    writer = safe_writer(out, lineterminator="\n")
    writer.writerow(DEVICE_COLUMNS)
    count = 0
    for row in device_rows(ws, get_campaign(ws, name).id, raw=raw_tokens):
        writer.writerow(["" if v is None else v for v in row])
        count += 1
    return count


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:60em;color:#1d2330;line-height:1.4}h1{margin-bottom:.1em}h2{margin-top:1.8em;
border-bottom:1px solid #d5dae3;padding-bottom:.2em}table{border-collapse:collapse;
margin:.6em 0}th,td{padding:.25em .7em;border-bottom:1px solid #e3e7ee;text-align:left}
td.n{text-align:right;white-space:nowrap}th{background:#f3f5f9}.note{background:#fff7e0;
border-left:4px solid #e0a800;padding:.5em .8em}.muted{color:#667085}img{max-width:100%}
dt{font-weight:600}dd{margin:0 0 .5em 1em}pre{background:#f3f5f9;padding:.8em;overflow:auto}
"""


def funnel_table_rows(rows: Sequence[FunnelRow]) -> list[list[str]]:
    """Rows of a per-group table: counts and the two headline rates."""
    return [
        [
            row.group or "(none)",
            f"{row.targeted:,}",
            f"{row.sent:,}",
            f"{row.accepted:,}",
            f"{row.delivered:,}",
            f"{row.opened:,}",
            percent(row.open_rate_of_accepted),
            percent(row.open_rate_of_delivered),
        ]
        for row in rows
    ]


GROUP_HEADER = (
    "group", "targeted", "sent", "accepted", "delivered", "opened",
    "opened ÷ accepted", "opened ÷ delivered",
)  # fmt: skip


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def message_lines(campaign: Campaign) -> list[tuple[str, str]]:
    """The message as sent: base fields, then each variant's and locale's changes."""
    spec = spec_to_dict(campaign.spec)
    lines = [(f"message.{k}", _show(v)) for k, v in spec["message"].items()]
    for locale, fields in spec.get("localizations", {}).items():
        lines += [(f"{locale}: {k}", _show(v)) for k, v in fields.items()]
    for variant in spec.get("variants", []):
        changes = variant.get("message", {}) or {"": "(base message)"}
        label = f"variant {variant['name']} ({variant['percent']:g} %)"
        lines += [(f"{label} {k}".strip(), _show(v)) for k, v in changes.items()]
    if campaign.spec.control_percent:
        lines.append(("hold-out", f"{campaign.spec.control_percent:g} % sent nothing"))
    return lines


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    return str(value)


def render_html(
    data: DashboardData, charts: Mapping[str, bytes], preview_png: bytes | None = None
) -> str:
    """One self-contained HTML page; ``charts`` maps a caption to PNG bytes."""
    e = html.escape
    c = data.campaign
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(c.name)} – Pushdeck report</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(c.name)}</h1><p class='muted'>App {e(c.spec.app)} · {e(str(c.status))} · "
        f"started {e(c.started_at or '–')} · finished {e(c.finished_at or '–')} · "
        f"report generated {e(data.generated_at)}</p>",
        f"<p class='note'>{e(NOTE)}</p><h2>Funnel</h2>",
        _table(
            ("stage", "count", "rate", "definition"),
            [[s.label, f"{s.count:,}", s.rate_text, s.definition] for s in data.stages],
        ),
    ]
    for caption, png in charts.items():
        uri = "data:image/png;base64," + base64.b64encode(png).decode()
        parts.append(f"<figure><img alt='{e(caption)}' src='{uri}'><figcaption>{e(caption)}"
                     "</figcaption></figure>")  # fmt: skip
    for title, rows in (
        ("By platform", data.by_platform),
        ("By variant", data.by_variant),
        ("By locale", data.by_locale),
    ):
        if rows:
            parts += [f"<h2>{title}</h2>", _table(GROUP_HEADER, funnel_table_rows(rows))]
    if data.ab is not None:
        parts += [f"<h2>A/B test</h2><p>{e(data.ab.verdict)}</p>", _table(*ab_table(data.ab))]
    for title, (header, lines) in conversion_tables(data):
        level = "h2" if title == "Conversions" else "h3"
        parts += [f"<{level}>{e(title)}</{level}>", _table(header, lines)]
    parts += _reasons_html(data)
    parts.append("<h2>Definitions</h2><dl>")
    parts += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in report_definitions(data).items()]
    parts.append("</dl><h2>The message as sent</h2>")
    if preview_png:
        uri = "data:image/png;base64," + base64.b64encode(preview_png).decode()
        parts.append(f"<img alt='preview' src='{uri}'>")
    parts.append(_table(("field", "value"), [list(x) for x in message_lines(c)]))
    parts.append("</body></html>")
    return "\n".join(parts)


def report_definitions(data: DashboardData) -> dict[str, str]:
    """The funnel's definitions, and the conversions' when the report has any."""
    if data.conversions is None or not data.conversions.any:
        return dict(DEFINITIONS)
    window = _hours(data.conversions.window.total_seconds())
    extra = {k: v.replace("attribution window", f"attribution window ({window})")
             for k, v in CONVERSION_DEFINITIONS.items()}  # fmt: skip
    return {**DEFINITIONS, **extra}


def _hours(seconds: float) -> str:
    hours = round(seconds / 3600)
    return f"{hours // 24} d" if hours % 24 == 0 and hours >= 48 else f"{hours} h"


CONVERSION_HEADER = (
    "group", "conversions", "direct", "influenced", "converted", "converted ÷ accepted",
    "converted ÷ opened", "value",
)  # fmt: skip


Table = tuple[tuple[str, ...], list[list[str]]]


def conversion_tables(data: DashboardData) -> list[tuple[str, Table]]:
    """(title, (header, rows)) of the conversion tables (none when nothing converted):
    overall, per variant, and the hold-out comparison. HTML and PDF both render them."""
    report = data.conversions
    if report is None or not report.any:
        return []
    tables: list[tuple[str, Table]] = [
        ("Conversions", (CONVERSION_HEADER, [_conversion_line(report.overall)]))
    ]
    variants = [r for r in report.by.get("variant", ()) if r.group] if data.by_variant else []
    if variants:
        lines = [_conversion_line(r) for r in variants]
        tables.append(("Conversions by variant", (CONVERSION_HEADER, lines)))
    if report.lift is not None:
        o, lift = report.overall, report.lift
        window = _hours(report.window.total_seconds())
        p = lift.p_value
        rows = [
            ["sent (accepted)", f"{o.accepted:,}", f"{o.window_converted:,}",
             percent(o.window_rate)],
            ["hold-out (control)", f"{o.holdout:,}", f"{o.holdout_converted:,}",
             percent(o.holdout_rate)],
            ["lift", "", "",
             "–" if lift.points is None else
             f"{lift.points:+.1f} points" + ("" if p is None else f" (p = {p:.3f})")],
        ]  # fmt: skip
        header = ("group", "devices", f"converted within {window}", "rate")
        tables.append(("Conversions: sent vs hold-out", (header, rows)))
    return tables


def conversion_summary(data: DashboardData) -> str:
    """One sentence on conversions for headlines ('' when nothing converted)."""
    report = data.conversions
    if report is None or not report.any:
        return ""
    o = report.overall
    text = (
        f"{o.conversions:,} conversions credited ({o.direct:,} direct, {o.influenced:,} "
        f"influenced): converted {percent(o.conversion_rate_of_accepted)} of accepted, "
        f"{percent(o.conversion_rate_of_opened)} of opened; value {money_text(o.value)}."
    )
    lift = report.lift
    if lift is not None and lift.points is not None:
        p = "" if lift.p_value is None else f", p = {lift.p_value:.3f}"
        text += f" Against the hold-out: {lift.points:+.1f} points{p}."
    return text


def _conversion_line(row: ConversionRow) -> list[str]:
    return [
        row.group or "(all)", f"{row.conversions:,}", f"{row.direct:,}", f"{row.influenced:,}",
        f"{row.converted:,}", percent(row.conversion_rate_of_accepted),
        percent(row.conversion_rate_of_opened), money_text(row.value),
    ]  # fmt: skip


def ab_table(ab: AbResult) -> tuple[tuple[str, ...], list[list[str]]]:
    done = "opened" if ab.metric == "opens" else "converted"
    header = ("variant", "accepted", done, f"{done} ÷ accepted", "95 % interval")
    rows = [
        [
            s.name,
            f"{s.accepted:,}",
            f"{s.opened:,}",
            percent(s.rate),
            "–" if s.ci is None else f"{percent(s.ci[0])} – {percent(s.ci[1])}",
        ]
        for s in ab.variants
    ]
    return header, rows


def _reasons_html(data: DashboardData) -> list[str]:
    parts = ["<h2>Not delivered: reasons</h2>"]
    titles = {
        "rejected": "Rejected by the provider",
        "dead": "Dead tokens (device unregistered)",
        "excluded": "Excluded before sending",
        "skipped": "Skipped",
    }
    found = False
    for state, title in titles.items():
        rows = data.reasons.get(state)
        if rows:
            found = True
            parts += [
                f"<h3>{title}</h3>",
                _table(("reason", "devices"), [[r, f"{n:,}"] for r, n in rows]),
            ]
    if not found:
        parts.append("<p>None: every targeted device was sent to and accepted.</p>")
    if data.actions:
        parts += [
            "<h3>Action buttons</h3>",
            _table(("action", "presses"), [[a, f"{n:,}"] for a, n in data.actions]),
        ]
    return parts


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell_html(c) for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell_html(text: str) -> str:
    """Numbers and rates right-aligned (class n), words left."""
    numeric = bool(text) and (text[0].isdigit() or text == "–")
    return f"<td class='n'>{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>"


def aggregates_csv_text(data: DashboardData) -> str:
    buffer = io.StringIO()
    write_aggregates_csv(data, buffer)
    return buffer.getvalue()


__all__ = [
    "CONTROL",
    "NOTE",
    "DashboardData",
    "ReportCache",
    "Stage",
    "aggregates_csv_text",
    "dashboard_data",
    "message_as_sent",
    "render_html",
    "send_winner_to_rest",
    "stages",
    "token_hasher",
    "write_aggregates_csv",
    "write_devices_csv",
]
