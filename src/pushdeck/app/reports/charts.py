"""Report charts (pyqtgraph), fed pre-aggregated data from ``pushdeck.core.reports.dashboard``.

Every chart shows exact values on hover (a read-out in the corner and a tooltip) and
can be exported as PNG or SVG. SVG goes through ``QSvgGenerator``: pyqtgraph's own SVG
exporter is broken on Qt 6.11+.

A chart with nothing to show (a draft, nothing accepted yet, no events yet) says so in
its middle instead of drawing empty axes. Bars never get a per-bar pen list:
``BarGraphItem`` (0.13.7 to 0.14 at least) fails on an empty ``pens`` list, so bars use
one shared ``pen=None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter, QResizeEvent
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QApplication, QToolTip, QWidget

from pushdeck.app.dates import format_date, format_when
from pushdeck.core.reports.analytics import FunnelRow, TimePoint
from pushdeck.core.reports.dashboard import Stage, percent
from pushdeck.core.reports.data import AbResult, CampaignSummary

BLUE, TEAL, ORANGE, GREY = "#3568d4", "#1a9c8c", "#e07a1f", "#8a94a6"
PALETTE = (BLUE, TEAL, ORANGE, "#9b59b6", "#c0392b", "#2c3e50", GREY)


class Chart(pg.PlotWidget):  # type: ignore[misc]
    """A plot with a title, a hover read-out and PNG/SVG export.

    Subclasses call ``_set_hover(xs, texts)``: the text of the nearest x shows on hover.
    """

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self.title = title
        self._shown_title = ""
        self._categories: list[str] = []  # the bottom axis's labels, one per bar
        self._fit_to(640)
        self.setMinimumHeight(220)
        self.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        self.setMenuEnabled(False)
        # End labels may reach past the plot's edge a little rather than vanish.
        self.getAxis("bottom").setStyle(hideOverlappingLabels=False)
        for side in ("left", "bottom"):
            axis = self.getAxis(side)
            axis.setPen(pg.mkPen("#667085"))
            axis.setTextPen(pg.mkPen("#1d2330"))
        self._hover_x: list[float] = []
        self._hover_text: list[str] = []
        self.readout = pg.TextItem(
            "", color="#1d2330", anchor=(1, 0), fill=pg.mkBrush(255, 255, 255, 220)
        )
        self.readout.setZValue(10)
        self.readout.hide()
        self.addItem(self.readout, ignoreBounds=True)
        self.empty = pg.TextItem("", color=GREY, anchor=(0.5, 0.5))
        self.empty.setZValue(10)
        self.empty.hide()
        self.addItem(self.empty, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)

    # --- fitting labels to the width --------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent | None) -> None:  # pyqtgraph passes None too
        super().resizeEvent(event)
        # not while pyqtgraph's __init__ runs, nor after close() dropped the plot
        if "_categories" in self.__dict__ and self.__dict__.get("plotItem") is not None:
            self._fit_to(self.width())

    def _fit_to(self, width: int) -> None:
        """Wrap the title and thin the category labels so nothing overlaps or is cut off.

        A title wider than the chart would set the plot's minimum width and push its right
        side out of view; category labels wider than their bar would print over each other.
        """
        room = width - self._axes_width()  # the title is centred over the plot area
        title = "<br>".join(_wrap(self.title, self._title_metrics(), max(int(room) - 16, 80)))
        if title != self._shown_title:
            self._shown_title = title
            self.setTitle(title, color="#1d2330", size="11pt")
        if not self._categories:
            return
        labels = self._categories
        axis = self.getAxis("bottom")
        metrics = QFontMetrics(axis.style.get("tickFont") or self.font())
        widest = max(metrics.horizontalAdvance(label) for label in labels) + 8
        plot_width = max(width - self._axes_width(), 40)
        (x0, x1), _y = self.getPlotItem().vb.viewRange()
        per_bar = plot_width / max(x1 - x0, 1.0)
        stride = max(1, math.ceil(widest / per_bar))
        self.label_stride = stride
        shown = [(i, label) for i, label in enumerate(labels) if i % stride == 0]
        hidden = [(i, "") for i in range(len(labels)) if i % stride]  # hover names them
        axis.setTicks([shown, hidden])

    def _axes_width(self) -> int:
        """The chart's width that is not plot area: the shown side axes and margins."""
        plot = self.getPlotItem()
        sides = [plot.getAxis(side) for side in ("left", "right") if plot.getAxis(side).isVisible()]
        return int(sum(axis.width() for axis in sides)) + 20

    def _title_metrics(self) -> QFontMetrics:
        font = QFont(self.font())
        font.setPointSizeF(11)
        return QFontMetrics(font)

    def _set_categories(self, labels: Sequence[str]) -> None:
        self._categories = list(labels)  # drawn by _fit_to, once the x range is set

    def shown_category_labels(self) -> list[str]:
        """The bottom axis labels as drawn ('' where thinned out)."""
        ticks = self.getAxis("bottom")._tickLevels or []
        return [label for level in ticks[:1] for _x, label in level]

    def has_data(self) -> bool:
        return bool(self._hover_x)

    def empty_text(self) -> str:
        """What the chart says instead of data ('' when it shows data)."""
        return self.empty.toPlainText() if self.empty.isVisible() else ""

    def _show_empty(self, text: str, *, categories: bool = False) -> None:
        """Say ``text`` in the middle of the plot (or hide the message when '').

        An empty chart hides its scales (0.1 devices, minute 1.5 mean nothing); with
        ``categories`` the bottom axis keeps its labels (the funnel's stages).
        """
        if self.empty.scene() is None:  # removed by a clear()
            self.addItem(self.empty, ignoreBounds=True)
        self.empty.setText(text)
        self.empty.setVisible(bool(text))
        for side in ("left", "right", "bottom"):
            shown = not text or (categories and side == "bottom")
            self.getAxis(side).setStyle(showValues=shown)
        if text:
            (x0, x1), (y0, y1) = self.getPlotItem().vb.viewRange()
            self.empty.setPos((x0 + x1) / 2, (y0 + y1) / 2)

    def _set_hover(self, xs: Sequence[float], texts: Sequence[str]) -> None:
        self._hover_x, self._hover_text = list(xs), list(texts)

    def hover_text_at(self, x: float) -> str:
        """The read-out for the item nearest to data coordinate ``x`` ('' if none)."""
        if not self._hover_x:
            return ""
        index = min(range(len(self._hover_x)), key=lambda i: abs(self._hover_x[i] - x))
        return self._hover_text[index]

    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        view = self.getPlotItem().vb
        if not view.sceneBoundingRect().contains(pos):
            self.readout.hide()
            return
        point = view.mapSceneToView(pos)
        text = self.hover_text_at(point.x())
        if not text:
            return
        self.readout.setText(text)
        (_x0, x1), (_y0, y1) = view.viewRange()
        self.readout.setPos(x1, y1)
        self.readout.show()
        QToolTip.showText(self.mapToGlobal(self.mapFromScene(pos).toPoint()), text, self)

    # --- export ---------------------------------------------------------------------------

    def to_image(self, size: QSize | None = None, scale: float = 2.0) -> QImage:
        """The chart as an image ``scale`` times its size (works hidden and offscreen)."""
        if size is not None:
            self.resize(size)
        self._lay_out()
        self.readout.hide()
        image = QImage(self.size() * scale, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint(painter, QRectF(image.rect()))
        finally:
            painter.end()
        return image

    def _paint(self, painter: QPainter, target: QRectF) -> None:
        # The scene, not QWidget.render: the view ignores the painter's scale and DPR.
        source = self.sceneRect()  # pyqtgraph keeps it equal to the laid-out plot
        self.scene().render(painter, target, source)

    def _lay_out(self) -> None:
        """Deliver a resize a hidden widget has pending, so the plot fills its size."""
        if self.testAttribute(Qt.WidgetAttribute.WA_PendingResizeEvent) or not self.isVisible():
            QApplication.sendEvent(self, QResizeEvent(self.size(), self.size()))
            self._fit_to(self.width())
            self.setAttribute(Qt.WidgetAttribute.WA_PendingResizeEvent, False)
            # A hidden view's resize event still sees its old size: size the scene directly,
            # or the image keeps the 640×480 layout squeezed into its aspect ratio.
            rect = QRectF(0, 0, self.width(), self.height())
            pg.GraphicsView.setRange(self, rect, padding=0, disableAutoPixel=False)
        self.getPlotItem().layout.activate()  # axes and view box take the new size now

    def png_bytes(self, size: QSize | None = None) -> bytes:
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        self.to_image(size).save(buffer, "PNG")  # type: ignore[call-overload]  # stub wants bytes; PySide6 takes str
        return bytes(buffer.data().data())

    def export_png(self, path: Path | str) -> None:
        if not self.to_image().save(str(path), "PNG"):  # type: ignore[call-overload]  # stub wants bytes; PySide6 takes str
            raise OSError(f"Could not write {path}.")

    def export_svg(self, path: Path | str) -> None:
        self._lay_out()
        self.readout.hide()
        generator = QSvgGenerator()
        generator.setFileName(str(path))
        generator.setSize(self.size())
        generator.setViewBox(QRect(0, 0, self.width(), self.height()))
        generator.setTitle(self.title)
        generator.setDescription("Pushdeck report chart")
        painter = QPainter(generator)
        try:
            self._paint(painter, QRectF(0, 0, self.width(), self.height()))
        finally:
            painter.end()

    def svg_bytes(self) -> bytes:
        self._lay_out()
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        generator = QSvgGenerator()
        generator.setOutputDevice(buffer)
        generator.setSize(self.size())
        generator.setViewBox(QRect(0, 0, self.width(), self.height()))
        painter = QPainter(generator)
        try:
            self._paint(painter, QRectF(0, 0, self.width(), self.height()))
        finally:
            painter.end()
        return bytes(data.data())


def _wrap(text: str, metrics: QFontMetrics, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` pixels, breaking between words."""
    lines: list[str] = []
    for word in text.split():
        if lines and metrics.horizontalAdvance(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


class FunnelChart(Chart):
    """targeted → sent → accepted → delivered → opened, with counts and named rates."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Funnel (bars: devices; label: rate of the named denominator)", parent)
        self.getAxis("left").setLabel("devices")
        self._labels: list[pg.TextItem] = []

    def set_stages(self, stages: Sequence[Stage]) -> None:
        self.clear_bars()
        xs = list(range(len(stages)))
        heights = [s.count for s in stages]
        colors = [BLUE, BLUE, TEAL, TEAL, ORANGE][: len(stages)]
        if xs:
            self.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.6, brushes=colors, pen=None))
        self._set_categories([s.label for s in stages])
        top = max(heights, default=0) or 1
        for x, stage in zip(xs, stages, strict=True):
            # "12.3 %" over "of accepted": a line each keeps a label no wider than its bar
            rate = stage.rate_text.replace(" of ", "<br>of ", 1) if stage.rate_text else ""
            text = f"<b>{stage.count:,}</b>" + (f"<br>{rate}" if rate else "")
            label = pg.TextItem(
                html=f"<div style='text-align:center; color:#1d2330'>{text}</div>",
                anchor=(0.5, 1),
            )
            label.setPos(x, stage.count + top * 0.02)
            self.addItem(label)
            self._labels.append(label)
        self.setYRange(0, top * 1.45, padding=0)  # room for three lines over the tallest
        self.setXRange(-0.6, max(len(stages), 1) - 0.4, padding=0)
        self._fit_to(self.width())
        self._show_empty(
            ""
            if any(heights)
            else "No device targeted yet: the funnel fills in as the campaign is sent.",
            categories=True,
        )
        self._set_hover(
            xs,
            [
                f"{s.label}: {s.count:,}"
                + (f" = {s.rate_text} ({s.count:,} ÷ {s.denominator:,})" if s.denominator else "")
                + f"\n{s.definition}"
                for s in stages
            ],
        )

    def clear_bars(self) -> None:
        for item in list(self.getPlotItem().items):
            if item not in (self.readout, self.empty):
                self.removeItem(item)
        self._labels.clear()


class OpensChart(Chart):
    """First opens per minute or hour since the send (bars) and cumulative % of accepted (line)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Opens since the send", parent)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=pg.mkBrush(BLUE), pen=None)
        self.addItem(self.bars)
        plot = self.getPlotItem()
        plot.showAxis("right")
        self.cumulative_view = pg.ViewBox()
        self.cumulative_view.setMouseEnabled(False, False)
        plot.scene().addItem(self.cumulative_view)
        plot.getAxis("right").linkToView(self.cumulative_view)
        plot.getAxis("right").setLabel("cumulative, % of accepted", color=ORANGE)
        self.cumulative_view.setXLink(plot)
        self.curve = pg.PlotDataItem(pen=pg.mkPen(ORANGE, width=2))
        self.cumulative_view.addItem(self.curve)
        plot.vb.sigResized.connect(self._sync_views)
        self.getAxis("left").setLabel("first opens per bucket (devices)", color=BLUE)

    def _sync_views(self) -> None:
        self.cumulative_view.setGeometry(self.getPlotItem().vb.sceneBoundingRect())

    def set_points(self, points: Sequence[TimePoint], accepted: int, unit: str) -> None:
        xs = [p.offset for p in points]
        counts = [p.count for p in points]
        cumulative = [100 * p.cumulative / accepted if accepted else 0.0 for p in points]
        self.bars.setOpts(x=xs, height=counts, width=0.8)
        self.curve.setData(xs, cumulative)
        self.getAxis("bottom").setLabel(f"{unit}s since the send started")
        last = max(xs, default=1)
        self.setXRange(-0.5, last + 0.5, padding=0.02)
        self.setYRange(0, max(counts, default=1) * 1.1, padding=0)
        self.cumulative_view.setYRange(0, max(cumulative, default=1) * 1.1 or 1, padding=0)
        self._sync_views()
        if points:
            self._show_empty("")
        elif accepted:
            self._show_empty("No opens reported yet.")
        else:
            self._show_empty("Nothing accepted yet: opens are counted once providers accept.")
        self._set_hover(
            xs,
            [
                f"{unit} {p.offset}: {p.count:,} first opens; cumulative {p.cumulative:,}"
                + (
                    f" = {percent(p.cumulative / accepted)} of {accepted:,} accepted"
                    if accepted
                    else ""
                )
                for p in points
            ],
        )


class GroupChart(Chart):
    """Open rate (opened ÷ accepted) per platform / locale / variant, with 95 % intervals."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.getAxis("left").setLabel("opened ÷ accepted (%)")

    def set_rows(self, rows: Sequence[FunnelRow], ab: AbResult | None = None) -> None:
        self.getPlotItem().clear()
        self.addItem(self.readout, ignoreBounds=True)
        groups = len(rows)
        rows = [r for r in rows if r.accepted]
        xs = list(range(len(rows)))
        rates = [100 * (r.open_rate_of_accepted or 0.0) for r in rows]
        many = len(rows) > 5  # one colour and no in-bar labels; hover gives the values
        brushes = [BLUE if many else PALETTE[i % len(PALETTE)] for i in xs]
        if xs:
            self.addItem(pg.BarGraphItem(x=xs, height=rates, width=0.6, brushes=brushes, pen=None))
        self._set_categories([r.group or "(none)" for r in rows])
        intervals = {s.name: s.ci for s in ab.variants} if ab else {}
        top = max(rates, default=1.0)
        if intervals:
            lows = [100 * (intervals.get(r.group) or (0, 0))[0] for r in rows]
            highs = [100 * (intervals.get(r.group) or (0, 0))[1] for r in rows]
            error = pg.ErrorBarItem(
                x=np.array(xs, dtype=float),
                y=np.array(rates),
                top=np.array(highs) - np.array(rates),
                bottom=np.array(rates) - np.array(lows),
                beam=0.2,
                pen=pg.mkPen("#1d2330", width=1.5),
            )
            self.addItem(error)
            top = max([*highs, top])
        labelled = [] if many else list(zip(xs, rates, strict=True))
        for x, rate in labelled:  # inside the bar: clear of the interval bars
            if rate > 0 and rate >= top * 0.12:
                label = pg.TextItem(f"{rate:.1f} %", color="w", anchor=(0.5, 0.5))
                label.setPos(x, rate / 2)
            else:  # too short a bar to hold it (0 % while still sending): above it
                label = pg.TextItem(f"{rate:.1f} %", color="#1d2330", anchor=(0.5, 1))
                label.setPos(x, rate + (top or 1) * 0.02)
            self.addItem(label)
        self.setYRange(0, top * 1.2 or 1, padding=0)
        self.setXRange(-0.6, max(len(rows), 1) - 0.4, padding=0)
        self._fit_to(self.width())
        if rows:
            self._show_empty("")
        elif groups:
            self._show_empty("Nothing accepted yet: open rates need accepted sends.")
        else:
            self._show_empty("Nothing sent yet.")
        texts = []
        for row in rows:
            text = (
                f"{row.group or '(none)'}: {row.opened:,} opened ÷ {row.accepted:,} accepted"
                f" = {percent(row.open_rate_of_accepted)}; {row.targeted:,} targeted,"
                f" {row.delivered:,} delivered (reported by apps)"
            )
            ci = intervals.get(row.group)
            if ci:
                text += f"; 95 % interval {percent(ci[0])} – {percent(ci[1])}"
            texts.append(text)
        self._set_hover(xs, texts)


class TrendChart(Chart):
    """Open rate (opened ÷ accepted) by campaign, in start order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Open rate by campaign (opened ÷ accepted)", parent)
        self.getAxis("left").setLabel("%")
        self.curve = self.plot([], [], pen=pg.mkPen(BLUE, width=2), symbol="o", symbolBrush=BLUE)

    def set_rows(self, rows: Sequence[CampaignSummary]) -> None:
        xs = list(range(len(rows)))
        ys = [100 * (r.open_rate or 0.0) for r in rows]
        self.curve.setData(xs, ys)
        self._set_categories([f"{_short(r.name)} ({format_date(r.started_at)})" for r in rows])
        self.setXRange(-0.5, max(len(rows), 1) - 0.5, padding=0.05)
        self._fit_to(self.width())
        self.setYRange(0, max(ys, default=1) * 1.2 or 1, padding=0)
        self._show_empty("" if rows else "No campaign sent in this period.")
        self._set_hover(
            xs,
            [
                f"{r.name} ({format_when(r.started_at)}): {r.opened:,} opened"
                f" ÷ {r.accepted:,} accepted = {percent(r.open_rate)}"
                for r in rows
            ],
        )


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


__all__ = ["Chart", "FunnelChart", "GroupChart", "OpensChart", "TrendChart"]


def release_charts(root: QWidget) -> None:
    """Empty the scene of every chart under ``root``, before ``root`` is deleted.

    Deleting a window deletes each chart's scene from inside the chart's own destructor,
    and the scene then deletes pyqtgraph's items (Python subclasses, with layouts that
    point at one another) in whatever order it likes while the view around them is
    half destroyed: a call through a dangling item, "pure virtual method called" or
    SIGSEGV. Emptied first, while every object is whole, nothing is left to go wrong.
    """
    for view in root.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is not None:
            scene.clear()
