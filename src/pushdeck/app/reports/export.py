"""Report exports that need Qt: chart images, the message preview, HTML, PDF and PNG.

Used by the Reports page and, headless, by ``pushdeck report``. Charts for an export
are fresh widgets of a fixed size, laid out offscreen, so every export looks the same
whatever the window size.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QCoreApplication, QEvent, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QWidget

from pushdeck.app.previews import STATES_BY_KEY
from pushdeck.app.previews.base import RenderContext
from pushdeck.app.previews.render import render_image
from pushdeck.app.reports.charts import Chart, FunnelChart, GroupChart, OpensChart
from pushdeck.core.common.paths import create_private_file, open_private
from pushdeck.core.reports.dashboard import DashboardData, message_as_sent, render_html

CHART_SIZE = QSize(760, 330)
PREVIEW_STATE = "ios.banner"


def lay_out_offscreen(widget: QWidget) -> None:
    """Show ``widget`` off screen and deliver its pending layout, without an event loop."""
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen)
    widget.show()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
    QCoreApplication.sendPostedEvents(widget, 0)


def build_charts(data: DashboardData, size: QSize = CHART_SIZE) -> dict[str, Chart]:
    """The report's charts, keyed by caption, filled and laid out at ``size``."""
    funnel = FunnelChart()
    funnel.set_stages(data.stages)
    opens = OpensChart()
    hourly = len(data.opens_per_minute) > 0 and data.opens_per_minute[-1].offset > 180
    points = data.opens_per_hour if hourly else data.opens_per_minute
    opens.set_points(points, data.overall.accepted, "hour" if hourly else "minute")
    charts: dict[str, Chart] = {
        "Funnel: devices at each stage; rates name their denominator": funnel,
        "First opens since the send, and cumulative opens as % of accepted": opens,
    }
    platform = GroupChart("Open rate by platform (opened ÷ accepted)")
    platform.set_rows(data.by_platform)
    charts["Open rate by platform"] = platform
    if data.by_variant:
        variant = GroupChart("Open rate by variant, with 95 % intervals")
        variant.set_rows(data.by_variant, data.ab)
        charts["Open rate by variant (bars: 95 % Wilson interval)"] = variant
    for chart in charts.values():
        chart.resize(size)
        lay_out_offscreen(chart)
    return charts


def png_bytes(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")  # type: ignore[call-overload]  # stub wants bytes; PySide6 takes str
    return bytes(buffer.data().data())


def preview_image(data: DashboardData, variant: str = "") -> QImage:
    """The message as sent (leading variant), drawn by the iOS banner preview at 2×."""
    if not variant and data.ab is not None and data.ab.leader:
        variant = data.ab.leader
    message = message_as_sent(data.campaign, variant)
    context = RenderContext(message=message, app_name=data.campaign.spec.app)
    return render_image(STATES_BY_KEY[PREVIEW_STATE], context, scale=2.0)


def labelled_previews(data: DashboardData) -> list[tuple[str, QImage]]:
    """The message as each variant sent it (or the one message), named by variant and by
    the platform and display state it is drawn as."""
    state = STATES_BY_KEY[PREVIEW_STATE]
    shown = f"{state.group} {state.label[:1].lower()}{state.label[1:]}"
    names = [v.name for v in data.campaign.spec.variants]
    if not names:
        return [(f"As sent, shown as an {shown}", preview_image(data))]
    leader = data.ab.leader if data.ab is not None else None
    return [
        (
            f"Variant {name}{' (the leader)' if name == leader else ''}, shown as an {shown}",
            preview_image(data, name),
        )
        for name in names
    ]


def export_html(data: DashboardData, path: Path) -> None:
    charts = build_charts(data)
    pngs = {caption: chart.png_bytes() for caption, chart in charts.items()}
    page = render_html(data, pngs, png_bytes(preview_image(data)))
    with open_private(path, encoding="utf-8") as out:
        out.write(page)
    _close(charts)


def export_png(data: DashboardData, path: Path) -> None:
    """All charts of the report stacked in one PNG (for chat and e-mail)."""
    charts = build_charts(data)
    images = [chart.to_image() for chart in charts.values()]
    width = max(i.width() for i in images)
    sheet = QImage(width, sum(i.height() for i in images), QImage.Format.Format_ARGB32)
    sheet.fill(Qt.GlobalColor.white)
    painter = QPainter(sheet)
    y = 0
    for image in images:
        painter.drawImage(0, y, image)
        y += image.height()
    painter.end()
    _close(charts)
    create_private_file(path)  # Qt truncates it and keeps its owner-only mode
    if not sheet.save(str(path), "PNG"):  # type: ignore[call-overload]  # stub wants bytes; PySide6 takes str
        raise OSError(f"Could not write {path}.")


def export_pdf(data: DashboardData, path: Path) -> None:
    from pushdeck.app.reports.pdf import write_pdf

    charts = build_charts(data)
    images = {caption: chart.to_image() for caption, chart in charts.items()}
    _close(charts)
    write_pdf(data, images, labelled_previews(data), path)


def _close(charts: dict[str, Chart]) -> None:
    for chart in charts.values():
        chart.close()
        chart.deleteLater()
