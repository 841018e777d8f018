"""Preview widgets: the all-platforms grid, the focused view and the panel holding both."""

from __future__ import annotations

import html
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt, Signal
from PySide6.QtGui import QFont, QMouseEvent, QPainter, QPaintEvent, QPalette, QRegion
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.previews import ALL_STATES, LIVE_ACTIVITY_STATES, STATES_BY_KEY, render
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec
from pushdeck.app.previews.card import (
    _BLOCK_NAMES,
    CardView,
    PreviewCard,
    block_summary,
    canvas_key,
    caption_lines,
)
from pushdeck.app.threads import assert_gui_thread

__all__ = [
    "CardView",
    "FocusView",
    "PreviewCard",
    "PreviewGrid",
    "PreviewPanel",
    "block_summary",
    "canvas_key",
    "caption_lines",
    "cut_details",
]


class PreviewGrid(QWidget):
    """Every state of every platform, in three columns (iOS, Android, Web), painted by this
    one widget from each card's cached picture (no widget per card).

    Signals:
        state_activated(str): a card was clicked.
    """

    state_activated = Signal(str)
    MARGIN, COLUMN_GAP, CARD_GAP, HEADING = 16, 28, 18, 34

    def __init__(
        self, parent: QWidget | None = None, states: tuple[StateSpec, ...] = ALL_STATES
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("All platform previews")
        self.cards: dict[str, CardView] = {}
        self._groups: dict[str, list[CardView]] = {}
        self._rects: dict[str, QRect] = {}
        self._gaps: list[QRect] = []  # what no card covers: margins, headings, gaps
        self._heading_font = QFont()
        self._heading_font.setPixelSize(16)
        self._heading_font.setWeight(QFont.Weight.DemiBold)
        for state in states:
            card = CardView(state)
            card.activated.connect(self.state_activated)
            self.cards[state.key] = card
            self._groups.setdefault(state.group, []).append(card)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        # paintEvent fills what the cards leave uncovered itself: Qt need not clear the whole
        # dirty region (a full-grid fill per frame) before the opaque card pictures cover it.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        # Growing or shrinking repaints nothing by itself: set_context updates what moved.
        self.setAttribute(Qt.WidgetAttribute.WA_StaticContents)
        self._relayout()

    def card_rect(self, key: str) -> QRect:
        return QRect(self._rects[key])

    def set_zoom(self, zoom: float) -> None:
        for card in self.cards.values():
            card.set_zoom(zoom)
        self._relayout()
        self.update()

    def set_context(self, ctx: RenderContext) -> None:
        assert_gui_thread("PreviewGrid")
        resized, dirty = False, []
        for key, card in self.cards.items():
            card_resized, changed = card.set_context(ctx)
            resized = resized or card_resized
            if changed:
                dirty.append(key)
        if resized:  # positions move: lay out again, repaint what changed or moved
            before = dict(self._rects)
            self._relayout()
            area = QRegion()
            for key, rect in self._rects.items():
                old = before.get(key)
                if old != rect or key in dirty:
                    area += rect
                    if old is not None:
                        area += old  # (now a gap, or another card's, also repainted)
            self.update(area)
        else:  # repaint only the cards whose picture or caption changed
            for key in dirty:
                self.update(self._rects[key])

    def _relayout(self) -> None:
        x = self.MARGIN
        bottom = 0
        spans = []
        for cards in self._groups.values():
            y = self.MARGIN + self.HEADING
            width = max((card.column_width() for card in cards), default=0)
            for card in cards:
                self._rects[card.state.key] = QRect(x, y, card.width(), card.height())
                y += card.height() + self.CARD_GAP
            bottom = max(bottom, y)
            spans.append((x, width, cards))
            x += width + self.COLUMN_GAP
        self.setFixedSize(x - self.COLUMN_GAP + self.MARGIN, bottom + self.MARGIN)
        self._gaps = self._uncovered(spans)

    def _uncovered(self, spans: list[tuple[int, int, list[CardView]]]) -> list[QRect]:
        """What no card covers, in few rectangles (one fill each): the heading band, then
        per column the strips beside and below each card, the margins and gaps included."""
        total_w, total_h = self.width(), self.height()
        top = self.MARGIN + self.HEADING
        gaps, left = [QRect(0, 0, total_w, top)], 0
        for index, (x, width, cards) in enumerate(spans):
            last = index == len(spans) - 1
            right = total_w if last else x + width + self.COLUMN_GAP  # the next column's x
            rects = [self._rects[card.state.key] for card in cards]
            for n, rect in enumerate(rects):
                gaps.append(QRect(left, rect.y(), rect.x() - left, rect.height()))
                end = rect.x() + rect.width()
                gaps.append(QRect(end, rect.y(), right - end, rect.height()))
                gap_top = rect.y() + rect.height()
                gap_end = rects[n + 1].y() if n + 1 < len(rects) else total_h
                gaps.append(QRect(left, gap_top, right - left, gap_end - gap_top))
            left = right
        return [gap for gap in gaps if not gap.isEmpty()]

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            dpr, palette, area = self.devicePixelRatioF(), self.palette(), event.region()
            window = palette.brush(QPalette.ColorRole.Window)
            if dpr == 1.0:  # card pictures cover their rectangles exactly: fill the gaps
                for gap in self._gaps:
                    if area.intersects(gap):
                        painter.fillRect(gap, window)
            else:  # a fractional edge may show beside a card: fill everything under it
                painter.fillRect(area.boundingRect(), window)
            painter.setFont(self._heading_font)
            painter.setPen(palette.color(palette.ColorRole.WindowText))
            for group, cards in self._groups.items():
                first = self._rects[cards[0].state.key]
                painter.drawText(QPoint(first.x(), self.MARGIN + 20), group)
            for key, card in self.cards.items():
                rect = self._rects[key]
                if area.intersects(rect):  # the dirty region, not its bounding box
                    # A dirty region of several cards is a complex clip, through which the
                    # raster engine blends image by image span; clipped to the one card's
                    # rectangle (inside the region) the blit is a plain copy.
                    painter.setClipRect(rect)
                    card.paint(painter, rect.topLeft(), palette, dpr)
        finally:
            painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        for key, rect in self._rects.items():
            if rect.contains(event.position().toPoint()):
                self.cards[key].activated.emit(key)
                break
        super().mousePressEvent(event)


def cut_details(meas: Measured) -> str:
    """Rich text: each shown line numbered, then the hidden rest struck through."""
    parts = []
    for key, block in meas.blocks.items():
        if not block.source:
            continue
        name = _BLOCK_NAMES.get(key, key)
        lines = "".join(
            f"<tr><td style='color:gray'>{n}&nbsp;</td><td>{html.escape(line.text)}</td></tr>"
            for n, line in enumerate(block.lines, 1)
        )
        hidden = (
            f"<div style='color:#b3261e'>Cut here; not shown: "
            f"<s>{html.escape(block.hidden)}</s></div>"
            if block.truncated
            else ""
        )
        parts.append(f"<b>{name}</b><table>{lines}</table>{hidden}")
    return "".join(parts)


class FocusView(QWidget):
    """One state, large, with its measurements and an "Export PNG" button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx: RenderContext | None = None
        self.picker = QComboBox()
        self.picker.setAccessibleName("Preview state")
        for state in (*ALL_STATES, *LIVE_ACTIVITY_STATES):
            self.picker.addItem(f"{state.group} · {state.label}", state.key)
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setAccessibleName("Export preview as PNG")
        self.export_button.clicked.connect(self._on_export_clicked)
        bar = QHBoxLayout()
        bar.addWidget(self.picker, 1)
        bar.addWidget(self.export_button)
        self._holder = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        inner.setLayout(self._holder)
        scroll.setWidget(inner)
        layout.addWidget(scroll, 1)
        self.card = PreviewCard(ALL_STATES[0], zoom=1.5)
        self._holder.addWidget(
            self.card, 0, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        )
        self.details = QLabel()
        self.details.setAccessibleName("Measured lines and cut")
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setMaximumWidth(700)
        self._holder.addWidget(self.details, 0, Qt.AlignmentFlag.AlignHCenter)
        self._holder.addStretch(1)
        self.picker.currentIndexChanged.connect(self._on_picker_changed)

    def show_state(self, key: str) -> None:
        self.picker.setCurrentIndex(self.picker.findData(key))

    def set_context(self, ctx: RenderContext) -> None:
        assert_gui_thread("FocusView")
        self._ctx = ctx
        self.card.set_context(ctx)
        self.details.setText(cut_details(self.card.measured))

    def export_png(self, path: Path, scale: float = 2.0) -> Path:
        """Save the focused state (without captions) as a PNG at ``scale``; return the path."""
        if self._ctx is None:
            raise RuntimeError("Nothing to export yet")
        image = render.render_image(self.card.state, self._ctx, scale)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(path.suffix + ".png")
        if not image.save(str(path)):  # the format comes from the .png suffix
            raise OSError(f"Could not write {path}")
        return path

    def _on_picker_changed(self, index: int) -> None:
        state = STATES_BY_KEY[self.picker.itemData(index)]
        old = self.card
        self.card = PreviewCard(state, zoom=1.5)
        self._holder.replaceWidget(old, self.card)
        old.deleteLater()
        if self._ctx is not None:
            self.set_context(self._ctx)

    def _on_export_clicked(self) -> None:
        name = f"{self.card.state.key.replace('.', '-')}.png"
        path, _ = QFileDialog.getSaveFileName(self, "Export preview", name, "PNG image (*.png)")
        if path:
            self.export_png(Path(path))


class PreviewPanel(QWidget):
    """Grid and focused view together, with a dark-appearance switch."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx: RenderContext | None = None
        self.grid = PreviewGrid()
        self.focus = FocusView()
        self.dark_box = QCheckBox("Dark appearance")
        self.dark_box.setAccessibleName("Preview dark appearance")
        self.dark_box.toggled.connect(self._on_dark_box_toggled)
        self.grid.state_activated.connect(self._on_grid_state_activated)
        scroll = QScrollArea()
        scroll.setWidget(self.grid)
        scroll.setWidgetResizable(False)
        self.scroll_area = scroll
        # A Live Activity is drawn in its own presentations instead of the notification grid.
        self.live_grid = PreviewGrid(states=LIVE_ACTIVITY_STATES)
        self.live_grid.setAccessibleName("Live Activity previews")
        self.live_grid.state_activated.connect(self._on_grid_state_activated)
        live_scroll = QScrollArea()
        live_scroll.setWidget(self.live_grid)
        live_scroll.setWidgetResizable(False)
        self.live_scroll_area = live_scroll
        self.grids = QStackedWidget()
        self.grids.addWidget(scroll)
        self.grids.addWidget(live_scroll)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.grids, "All platforms")
        self.tabs.addTab(self.focus, "Focused")
        self.tabs.currentChanged.connect(self._on_tabs_current_changed)
        self.zoom_box = QComboBox()
        self.zoom_box.setAccessibleName("Preview zoom")
        for percent in (50, 75, 100, 125, 150):
            self.zoom_box.addItem(f"{percent}%", percent / 100)
        self.zoom_box.setCurrentIndex(2)
        self.zoom_box.currentIndexChanged.connect(self._on_zoom_box_changed)
        bar = QHBoxLayout()
        bar.addWidget(self.dark_box)
        bar.addStretch(1)
        bar.addWidget(QLabel("Zoom:"))
        bar.addWidget(self.zoom_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

    def _on_zoom_box_changed(self, _index: int) -> None:
        """Zoom draws the grid larger or smaller; measurement stays at the real widths."""
        self.grid.set_zoom(float(self.zoom_box.currentData()))
        self.live_grid.set_zoom(float(self.zoom_box.currentData()))
        if self._ctx is not None:
            self.set_context(self._ctx)

    def set_context(self, ctx: RenderContext) -> None:
        assert_gui_thread("PreviewPanel")
        self._ctx = ctx
        ctx = replace(ctx, dark=self.dark_box.isChecked())
        live = ctx.message.is_live_activity
        self.grids.setCurrentIndex(1 if live else 0)
        self.tabs.setTabText(0, "Live Activity" if live else "All platforms")
        (self.live_grid if live else self.grid).set_context(ctx)
        if self.tabs.currentWidget() is self.focus:
            self.focus.set_context(ctx)
        else:
            self.focus._ctx = ctx

    def _on_tabs_current_changed(self, _index: int) -> None:
        # While hidden the focused view only keeps the latest context (no measuring work);
        # draw it when it is shown, the first time included.
        if self.tabs.currentWidget() is self.focus and self._ctx is not None:
            self.focus.set_context(replace(self._ctx, dark=self.dark_box.isChecked()))

    def _on_dark_box_toggled(self, checked: bool) -> None:
        if self._ctx is not None:
            self.set_context(self._ctx)

    def _on_grid_state_activated(self, key: str) -> None:
        self.focus.show_state(key)
        if self._ctx is not None:
            self.focus.set_context(replace(self._ctx, dark=self.dark_box.isChecked()))
        self.tabs.setCurrentWidget(self.focus)
