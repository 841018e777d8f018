"""The paged PDF report: QTextDocument laid out on a QPdfWriter (A4, numbered pages).

Summary, funnel (chart and table with denominators), time series, per-platform and
per-variant tables with the A/B verdict, conversions (credited, value, hold-out), reasons,
definitions, and the message as sent with a preview per variant, each labelled with its
variant and platform.

Sections flow on (no forced page breaks leaving half-empty pages); a table that runs
onto the next page repeats its header row (``<thead>``); times are in the reader's
locale and time zone (``app.dates``). The text is set without ligatures: a PDF viewer
copies and searches "ﬁ" as one glyph, so "Confirmed" would not be found.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QMarginsF, QUrl
from PySide6.QtGui import QFont, QImage, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from pushdeck.app.dates import format_when
from pushdeck.app.fonts import report_font
from pushdeck.core.common.paths import create_private_file
from pushdeck.core.reports.dashboard import (
    GROUP_HEADER,
    NOTE,
    DashboardData,
    ab_table,
    conversion_summary,
    conversion_tables,
    funnel_table_rows,
    message_lines,
    percent,
    report_definitions,
)


def _page(title: str) -> str:
    """A section heading (sections flow on: a break per section left pages half empty)."""
    return f"<h2>{html.escape(title)}</h2>"


def _without_ligatures(font: QFont) -> QFont:
    """``font`` with ligatures off, so the PDF's text copies and searches as typed."""
    for tag in ("liga", "clig", "dlig", "hlig"):
        font.setFeature(QFont.Tag(tag), 0)
    return font


#: (label, image): one preview of the message as sent per variant.
Previews = Sequence[tuple[str, QImage]]


_IMAGE_WIDTH = 500  # 1/96 in: print_() lays A4 out 1,053 px wide at 200 dpi (≈ 505 here)


def write_pdf(
    data: DashboardData, charts: Mapping[str, QImage], previews: Previews, path: Path
) -> None:
    create_private_file(path)  # Qt truncates it and keeps its owner-only mode
    writer = QPdfWriter(str(path))
    writer.setTitle(f"{data.name} – Pushdeck report")
    writer.setCreator("Pushdeck")
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(18, 18, 18, 18), QPageLayout.Unit.Millimeter)
    writer.setResolution(200)
    document = QTextDocument()
    document.setDefaultFont(_without_ligatures(report_font(10)))
    document.setDocumentMargin(0)
    for index, image in enumerate(charts.values()):
        document.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"chart{index}"), image)
    for index, (_label, image) in enumerate(previews):
        document.addResource(
            QTextDocument.ResourceType.ImageResource, QUrl(f"preview{index}"), image
        )
    document.setHtml(report_html(data, list(charts), previews))
    document.print_(writer)
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"Could not write {path}.")


def report_html(data: DashboardData, captions: Sequence[str], previews: Previews = ()) -> str:
    """The PDF's HTML (QTextDocument's subset: tables with attributes, no CSS layout)."""
    e = html.escape
    c = data.campaign
    o = data.overall
    parts = [
        "<h1 style='font-size:26pt'>" + e(c.name) + "</h1>",
        "<p style='font-size:13pt'>Push campaign report</p>",
        _table(
            ("", ""),
            [
                ["App", c.spec.app],
                ["Status", str(c.status)],
                ["Started sending", format_when(c.started_at, empty="–")],
                ["Finished", format_when(c.finished_at, empty="–")],
                ["Description", c.spec.description or "–"],
                ["Report generated", format_when(data.generated_at)],
            ],
            header=False,
        ),
        "<h2>In short</h2>",
        f"<p>{o.targeted:,} devices targeted; {o.sent:,} sent; {o.accepted:,} accepted by the "
        f"providers ({percent(o.acceptance_rate)} of sent); {o.delivered:,} confirmed delivered "
        f"by apps that report it; <b>{o.opened:,} opened ({percent(o.open_rate_of_accepted)} of "
        "accepted)</b>.</p>",
    ]
    if conversion_summary(data):
        parts.append(f"<p>{e(conversion_summary(data))}</p>")
    if data.ab is not None:
        parts.append(f"<p><b>A/B test:</b> {e(data.ab.verdict)}</p>")
    parts += [f"<p><i>{e(NOTE)}</i></p>", _page("Funnel")]
    parts += _figure(0, captions)
    parts.append(
        _table(
            ("stage", "count", "rate", "definition"),
            [[s.label, f"{s.count:,}", s.rate_text, s.definition] for s in data.stages],
        )
    )
    parts.append(_page("Opens over time"))
    parts += _figure(1, captions)
    parts += ["<h2>By platform</h2>", *_figure(2, captions)]
    parts.append(_table(GROUP_HEADER, funnel_table_rows(data.by_platform)))
    if data.by_variant:
        parts += [_page("By variant"), *_figure(3, captions)]
        parts.append(_table(GROUP_HEADER, funnel_table_rows(data.by_variant)))
    if data.ab is not None:
        parts += ["<h3>A/B test</h3>", f"<p>{e(data.ab.verdict)}</p>", _table(*ab_table(data.ab))]
    if data.by_locale:
        parts += ["<h2>By locale</h2>", _table(GROUP_HEADER, funnel_table_rows(data.by_locale))]
    for title, (header, lines) in conversion_tables(data):
        parts += [f"<h2>{html.escape(title)}</h2>", _table(header, lines)]
    parts += _reasons(data)
    parts += ["<h2>Definitions</h2>"]
    definitions = report_definitions(data)
    parts.append(_table(("term", "meaning"), [[k, v] for k, v in definitions.items()]))
    parts += [_page("The message as sent")]
    for index, (label, image) in enumerate(previews):
        width = min(_IMAGE_WIDTH, round(image.width() / image.devicePixelRatio()))
        parts.append(f"<h3>{e(label)}</h3>")
        parts.append(f"<p><img src='preview{index}' width='{width}'></p>")
    parts.append(_table(("field", "value"), [list(x) for x in message_lines(c)]))
    return "\n".join(parts)


def _figure(index: int, captions: Sequence[str]) -> list[str]:
    if index >= len(captions):
        return []
    return [
        f"<p><img src='chart{index}' width='{_IMAGE_WIDTH}'></p>",
        f"<p style='color:#555555'><i>{html.escape(captions[index])}</i></p>",
    ]


def _reasons(data: DashboardData) -> list[str]:
    parts = ["<h2>Rejections and dead tokens</h2>"]
    rows = [
        [state, reason, f"{n:,}"]
        for state in ("rejected", "dead", "excluded", "skipped")
        for reason, n in data.reasons.get(state, [])
    ]
    if rows:
        parts.append(_table(("state", "reason", "devices"), rows))
    else:
        parts.append("<p>None.</p>")
    if data.actions:
        parts += [
            "<h3>Action buttons</h3>",
            _table(("action", "presses"), [[a, f"{n:,}"] for a, n in data.actions]),
        ]
    return parts


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], *, header: bool = True) -> str:
    e = html.escape
    out = [
        "<table border='1' cellspacing='0' cellpadding='3' width='100%'"
        " style='border-color:#c9ced8; font-size:8pt'>"
    ]
    if header:  # <thead>: repeated at the top of each page the table runs onto
        out.append(
            "<thead><tr>"
            + "".join(f"<th bgcolor='#eef1f6' align='left'>{e(h)}</th>" for h in columns)
            + "</tr></thead>"
        )
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{e(str(cell))}</td>" for cell in row) + "</tr>")
    out.append("</table>")
    return "".join(out)
