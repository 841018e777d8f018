"""Preview widgets: one card per state, the all-platforms grid and the focused view."""

from __future__ import annotations

import html
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.previews import ALL_STATES, STATES_BY_KEY, render
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec, text_in
from pushdeck.app.previews.layout import TextLayoutResult, font_key
from pushdeck.app.threads import assert_gui_thread

CAPTION_FONT_PX = 11
_BLOCK_NAMES = {"title": "Title", "subtitle": "Subtitle", "body": "Body"}


def block_summary(name: str, block: TextLayoutResult) -> str:
    """One caption line: what was measured for this text block."""
    shown = len(block.lines)
    if block.truncated:
        return (
            f"{name}: {shown} line{'s' if shown != 1 else ''} shown, more hidden — cut after "
            f"{block.cut} characters"
        )
    return f"{name}: {shown} line{'s' if shown != 1 else ''}, fits"


def caption_lines(state: StateSpec, ctx: RenderContext, meas: Measured) -> list[tuple[str, str]]:
    """(kind, text) lines under a card: measured, heuristic and notes."""
    if ctx.message.is_silent:
        return [("note", "Nothing to show: silent / background message")]
    lines = [
        ("measured", block_summary(_BLOCK_NAMES.get(key, key), block))
        for key, block in meas.blocks.items()
        if block.source and key in _BLOCK_NAMES
    ]
    if state.heuristic:
        text = state.heuristic.describe()
        over = state.heuristic.over(ctx.message.title, ctx.message.body)
        lines.append(("heuristic", text + (f" — over: {', '.join(over)}" if over else "")))
    lines.extend(("note", note) for note in meas.notes)
    return lines


@lru_cache(maxsize=4096)
def _wrapped_height_cached(font_key: str, width: float, text: str) -> float:
    metrics = QFontMetricsF(_CAPTION_FONTS[font_key])
    return metrics.boundingRect(
        QRectF(0, 0, width, 1000), int(Qt.TextFlag.TextWordWrap), text
    ).height()


_CAPTION_FONTS: dict[str, QFont] = {}


def _wrapped_height(font: QFont, width: float, text: str) -> float:
    key = font_key(font)
    _CAPTION_FONTS.setdefault(key, font)
    return _wrapped_height_cached(key, width, text)


def canvas_key(
    state: StateSpec, ctx: RenderContext, meas: Measured, scale: float
) -> tuple[object, ...]:
    """Everything a state's picture depends on: the shown lines, not the full texts."""
    shown = tuple(
        (key, tuple(line.text for line in block.lines)) for key, block in meas.blocks.items()
    )

    return (
        state.key,
        scale,
        ctx.dark,
        ctx.app_name,
        ctx.site,
        ctx.time_label,
        ctx.look_key,
        bool(ctx.message.data),
        ctx.message.is_silent,
        shown,
        meas.header,
        meas.notes,
        getattr(ctx.images, "generation", 0),
        id(ctx.images),
    )


class PreviewCard(QWidget):
    """One state of one platform, with its measurements underneath.

    Signals:
        activated(str): the card was clicked; carries the state key.
    """

    activated = Signal(str)

    def __init__(
        self, state: StateSpec, parent: QWidget | None = None, *, zoom: float = 1.0
    ) -> None:
        super().__init__(parent)
        self.state = state
        self._zoom = zoom
        self._ctx: RenderContext | None = None
        self._meas = Measured({})
        self._caption: list[tuple[str, str]] = []
        self._canvas_h = state.height
        self._canvas: QImage | None = None
        self._shown: tuple[object, ...] = ()
        self._caption_cache: QImage | None = None
        self._caption_key: tuple[object, ...] = ()
        self._canvas_key: tuple[object, ...] = ()
        self._caption_font = QFont()
        self._caption_font.setPixelSize(CAPTION_FONT_PX)
        self._bold_font = QFont(self._caption_font)
        self._bold_font.setBold(True)
        self.setAccessibleName(f"{state.group} preview: {state.label}")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    @property
    def measured(self) -> Measured:
        return self._meas

    @property
    def caption(self) -> list[tuple[str, str]]:
        return list(self._caption)

    def set_zoom(self, zoom: float) -> None:
        """Draw at ``zoom`` (the text is still measured at the state's real width)."""
        self._zoom = zoom
        self._shown = ()
        self._canvas = None
        self._caption_cache = None

    def set_context(self, ctx: RenderContext) -> bool:
        """Show ``ctx``; return True when the card changed size."""
        assert_gui_thread("PreviewCard")
        self._ctx = ctx
        self._meas = render.measure(self.state, ctx)
        self._canvas_h = self.state.canvas_height(ctx, self._meas)
        self._caption = caption_lines(self.state, ctx, self._meas)
        size = self._compute_size()
        resized = size != self.size()
        if resized:
            self.setFixedSize(size)
        # Repaint only when the picture or the caption changed: typing past a state's cut
        # changes nothing it shows, so Qt need not repaint it at all.
        shown = (canvas_key(self.state, ctx, self._meas, self._zoom), tuple(self._caption))
        if shown != self._shown:
            self._shown = shown
            self.update()
        return resized

    def _caption_height(self) -> float:
        metrics = QFontMetricsF(self._caption_font)
        width = self.state.width * self._zoom
        total = metrics.lineSpacing() + 6  # the state label
        for _, text in self._caption:
            total += _wrapped_height(self._caption_font, width, text) + 1
        return total + 8

    def _compute_size(self) -> QSize:
        return QSize(
            round(self.state.width * self._zoom),
            round(self._canvas_h * self._zoom + self._caption_height()),
        )

    def sizeHint(self) -> QSize:
        return self._compute_size()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._ctx is None:
            return
        painter = QPainter(self)
        try:
            painter.drawImage(0, 0, self._canvas_image())
            painter.drawImage(0, round(self._canvas_h * self._zoom), self._caption_image())
        finally:
            painter.end()

    def _caption_image(self) -> QImage:
        """The caption, re-rendered only when its text (or the palette) changed."""
        color = self.palette().color(self.palette().ColorRole.WindowText)
        window = self.palette().color(self.palette().ColorRole.Window)
        dpr = self.devicePixelRatioF()
        key = (tuple(self._caption), self.width(), color.rgba(), window.rgba(), dpr)
        if self._caption_cache is None or key != self._caption_key:
            height = max(1, self.height() - round(self._canvas_h * self._zoom))
            # Opaque (on the window colour): blitting it is a copy, not a blend.
            image = QImage(
                round(self.width() * dpr), round(height * dpr), QImage.Format.Format_RGB32
            )
            image.setDevicePixelRatio(dpr)
            image.fill(window)
            painter = QPainter(image)
            try:
                painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
                self._paint_caption(painter, 4)
            finally:
                painter.end()
            self._caption_cache, self._caption_key = image, key
        return self._caption_cache

    def _canvas_image(self) -> QImage:
        """The painted state, re-rendered only when what it shows changed.

        Typing at the end of a long body changes nothing visible in most states (they are
        already cut), so those cards just blit their cached image; this keeps a keystroke
        within one frame with every preview on screen.
        """
        assert self._ctx is not None
        scale = self._zoom * self.devicePixelRatioF()
        key = canvas_key(self.state, self._ctx, self._meas, scale)
        if self._canvas is None or key != self._canvas_key:
            # Every state paints its whole canvas (wallpaper, shade or desktop), so the
            # image is opaque and blitting it is a plain copy.
            image = QImage(
                round(self.state.width * scale),
                round(self._canvas_h * scale),
                QImage.Format.Format_RGB32,
            )
            image.setDevicePixelRatio(self.devicePixelRatioF())
            image.fill(Qt.GlobalColor.white)
            painter = QPainter(image)
            try:
                painter.scale(self._zoom, self._zoom)
                render.paint(painter, self.state, self._ctx, self._meas)
            finally:
                painter.end()
            self._canvas, self._canvas_key = image, key
        return self._canvas

    def _paint_caption(self, painter: QPainter, y: float) -> None:
        pal = self.palette()
        text_color = pal.color(pal.ColorRole.WindowText)
        muted = QColor(text_color)
        muted.setAlpha(170)
        colors = {"measured": text_color, "heuristic": muted, "note": QColor("#c77700")}
        metrics = QFontMetricsF(self._caption_font)
        width = self.width()
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        text_in(
            painter,
            QRectF(0, y, width, metrics.lineSpacing() + 2),
            f"{self.state.group} · {self.state.label}",
            self._bold_font,
            text_color,
            top_left,
        )
        y += metrics.lineSpacing() + 6
        for kind, text in self._caption:
            used = _wrapped_height(self._caption_font, width, text)
            text_in(
                painter,
                QRectF(0, y, width, used + 2),
                text,
                self._caption_font,
                colors[kind],
                top_left,
                wrap=True,
            )
            y += used + 1

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self.state.key)
        super().mousePressEvent(event)


class PreviewGrid(QWidget):
    """Every state of every platform, in three columns (iOS, Android, Web).

    Signals:
        state_activated(str): a card was clicked.
    """

    state_activated = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, states: tuple[StateSpec, ...] = ALL_STATES
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("All platform previews")
        self.cards: dict[str, PreviewCard] = {}
        row = QHBoxLayout(self)
        row.setSpacing(28)
        row.setContentsMargins(16, 12, 16, 16)
        for group in dict.fromkeys(state.group for state in states):
            column = QVBoxLayout()
            column.setSpacing(18)
            heading = QLabel(group)
            heading.setStyleSheet("font-size: 16px; font-weight: 600;")
            column.addWidget(heading)
            for state in states:
                if state.group == group:
                    card = PreviewCard(state, self)
                    card.activated.connect(self.state_activated)
                    self.cards[state.key] = card
                    column.addWidget(card)
            column.addStretch(1)
            row.addLayout(column)
        row.addStretch(1)

    def set_zoom(self, zoom: float) -> None:
        for card in self.cards.values():
            card.set_zoom(zoom)

    def set_context(self, ctx: RenderContext) -> None:
        assert_gui_thread("PreviewGrid")
        resized = False
        for card in self.cards.values():
            resized = card.set_context(ctx) or resized
        if resized:  # only then does the grid's own size need recomputing
            self.adjustSize()


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
        for state in ALL_STATES:
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
        from PySide6.QtWidgets import QTabWidget

        self.tabs = QTabWidget()
        self.tabs.addTab(scroll, "All platforms")
        self.tabs.addTab(self.focus, "Focused")
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
        if self._ctx is not None:
            self.set_context(self._ctx)

    def set_context(self, ctx: RenderContext) -> None:
        assert_gui_thread("PreviewPanel")
        self._ctx = ctx
        ctx = replace(ctx, dark=self.dark_box.isChecked())
        self.grid.set_context(ctx)
        if self.tabs.currentWidget() is self.focus:
            self.focus.set_context(ctx)
        else:
            self.focus._ctx = ctx

    def _on_dark_box_toggled(self, checked: bool) -> None:
        if self._ctx is not None:
            self.set_context(self._ctx)

    def _on_grid_state_activated(self, key: str) -> None:
        self.focus.show_state(key)
        if self._ctx is not None:
            self.focus.set_context(replace(self._ctx, dark=self.dark_box.isChecked()))
        self.tabs.setCurrentWidget(self.focus)
