"""One preview card: a state's picture (cached) with its measurements underneath."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from pushdeck.app.previews import render
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
