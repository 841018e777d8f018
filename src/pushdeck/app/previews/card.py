"""One preview card: a state's picture (cached) with its measurements underneath."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import cast

from PySide6.QtCore import QObject, QPoint, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from pushdeck.app.previews import render
from pushdeck.app.previews.base import (
    DeferredBlock,
    DeferredDraw,
    LayerError,
    Measured,
    RenderContext,
    StateSpec,
    draw_block,
    text_in,
)
from pushdeck.app.previews.layout import TextLayoutResult, font_key
from pushdeck.app.previews.platform_text import for_state
from pushdeck.app.threads import assert_gui_thread

CAPTION_FONT_PX = 11
_BLOCK_NAMES = {"title": "Title", "subtitle": "Subtitle", "body": "Body"}
BODY = "body"


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
    if state.shows_nothing(ctx):
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
    return _key(state, ctx, meas, scale, shown)


def background_key(
    state: StateSpec, ctx: RenderContext, meas: Measured, scale: float
) -> tuple[object, ...]:
    """``canvas_key`` without the body's text: its line count and line boxes instead."""
    shown = tuple(
        (
            key,
            ("lines", tuple(line.available for line in block.lines))
            if key == BODY
            else tuple(line.text for line in block.lines),
        )
        for key, block in meas.blocks.items()
    )
    return _key(state, ctx, meas, scale, shown)


def _key(
    state: StateSpec, ctx: RenderContext, meas: Measured, scale: float, shown: tuple[object, ...]
) -> tuple[object, ...]:
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


class CardView(QObject):
    """One state's card without a widget: measurement, cached picture and caption.

    The grid paints many of these in one widget (no per-card widget overhead per keystroke);
    ``PreviewCard`` wraps one for the focused view.

    Signals:
        activated(str): the card was clicked; carries the state key.
    """

    activated = Signal(str)

    def __init__(self, state: StateSpec, *, zoom: float = 1.0) -> None:
        super().__init__()
        self.state = state
        self._zoom = zoom
        self._ctx: RenderContext | None = None
        self._meas = Measured({})
        self._caption: list[tuple[str, str]] = []
        self._canvas_h = state.height
        self._size = QSize(0, 0)
        self._canvas: QImage | None = None
        self._canvas_key: tuple[object, ...] = ()
        # The canvas without the body's lines, and where they go (see _background).
        self._background_key: tuple[object, ...] = ()
        self._layers: tuple[QImage, tuple[DeferredDraw, ...]] | None = None
        self._caption_cache: QImage | None = None
        self._caption_key: tuple[object, ...] = ()
        self._shown: tuple[object, ...] = ()
        self._ctx_key: tuple[object, ...] = ()
        self._caption_font = QFont()
        self._caption_font.setPixelSize(CAPTION_FONT_PX)
        self._bold_font = QFont(self._caption_font)
        self._bold_font.setBold(True)

    @property
    def measured(self) -> Measured:
        return self._meas

    @property
    def caption(self) -> list[tuple[str, str]]:
        return list(self._caption)

    @property
    def has_context(self) -> bool:
        return self._ctx is not None

    def size(self) -> QSize:
        return QSize(self._size)

    def width(self) -> int:
        return self._size.width()

    def column_width(self) -> int:
        """The drawn width at the current zoom, known before any message is shown."""
        return round(self.state.width * self._zoom)

    def height(self) -> int:
        return self._size.height()

    def set_zoom(self, zoom: float) -> None:
        """Draw at ``zoom`` (the text is still measured at the state's real width)."""
        self._zoom = zoom
        self._shown = ()
        self._canvas = None
        self._caption_cache = None
        if self._ctx is not None:
            self._size = self._compute_size()

    def set_context(self, ctx: RenderContext) -> tuple[bool, bool]:
        """Measure ``ctx``; return (size changed, picture or caption changed)."""
        assert_gui_thread("CardView")
        ctx = for_state(self.state, ctx)  # the platform's own title and body
        self._ctx = ctx
        self._meas = render.measure(self.state, ctx)
        self._canvas_h = self.state.canvas_height(ctx, self._meas)
        self._caption = caption_lines(self.state, ctx, self._meas)
        size = self._compute_size()
        resized = size != self._size
        self._size = size
        # Typing past a state's cut changes nothing it shows: then it needs no repaint.
        self._ctx_key = canvas_key(self.state, ctx, self._meas, self._zoom)
        shown = (self._ctx_key, tuple(self._caption))
        changed = shown != self._shown
        self._shown = shown
        return resized, changed

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

    def paint(self, painter: QPainter, origin: QPoint, palette: QPalette, dpr: float) -> None:
        """Blit the cached picture and caption at ``origin`` (re-rendering what changed)."""
        if self._ctx is None:
            return
        painter.drawImage(origin, self._canvas_image(dpr))
        caption_at = QPoint(origin.x(), origin.y() + round(self._canvas_h * self._zoom))
        painter.drawImage(caption_at, self._caption_image(palette, dpr))

    def _caption_image(self, palette: QPalette, dpr: float) -> QImage:
        """The caption, re-rendered only when its text (or the palette) changed."""
        color = palette.color(QPalette.ColorRole.WindowText)
        window = palette.color(QPalette.ColorRole.Window)
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
                self._paint_caption(painter, 4, color)
            finally:
                painter.end()
            self._caption_cache, self._caption_key = image, key
        return self._caption_cache

    def _canvas_image(self, dpr: float) -> QImage:
        """The painted state, re-rendered only when what it shows changed."""
        assert self._ctx is not None
        scale = self._zoom * dpr
        key = self._ctx_key  # computed by set_context at the zoom: the same at device scale 1
        if key[1:2] != (scale,):  # (the scale is the key's second item)
            key = canvas_key(self.state, self._ctx, self._meas, scale)
        if self._canvas is None or key != self._canvas_key:
            # Every state paints its whole canvas (wallpaper, shade or desktop), so the
            # image is opaque and blitting it is a plain copy.
            layers = self._background(scale, dpr)
            if layers is not None:  # typing in the body: its lines over the cached rest
                image = self._compose(*layers)
            else:
                size = QSize(round(self.state.width * scale), round(self._canvas_h * scale))
                old = self._canvas
                if old is None or old.size() != size or old.devicePixelRatio() != dpr:
                    image = QImage(size, QImage.Format.Format_RGB32)
                    image.setDevicePixelRatio(dpr)
                else:  # painted over in place (a fresh buffer per keystroke costs page faults)
                    image = old
                image.fill(Qt.GlobalColor.white)
                painter = QPainter(image)
                try:
                    painter.scale(self._zoom, self._zoom)
                    render.paint(painter, self.state, self._ctx, self._meas)
                finally:
                    painter.end()
            self._canvas, self._canvas_key = image, key
        return self._canvas

    def _background(
        self, scale: float, dpr: float
    ) -> tuple[QImage, tuple[DeferredDraw, ...]] | None:
        """The canvas painted without the body's lines, and the deferred draws of them.

        Painted by the state itself with a ``DeferredBlock`` for the body, so it provably
        depends on the body through its line boxes only (the key); None when the state
        reads the body's text to paint, draws it in another painter state, or paints over
        where the lines ink afterwards (then drawing them last would not be the same).
        """
        assert self._ctx is not None
        body = self._meas.blocks.get(BODY)
        if body is None or not body.lines or self._ctx.message.is_silent:
            return None
        key = background_key(self.state, self._ctx, self._meas, scale)
        if key == self._background_key:
            return self._layers
        self._background_key, self._layers = key, None
        image = QImage(
            round(self.state.width * scale),
            round(self._canvas_h * scale),
            QImage.Format.Format_RGB32,
        )
        image.setDevicePixelRatio(dpr)
        image.fill(Qt.GlobalColor.white)
        painter = QPainter(image)
        try:
            painter.scale(self._zoom, self._zoom)
            width = max(line.available for line in body.lines)
            clip = QRectF(0, 0, self.state.width, self._canvas_h)
            deferred = DeferredBlock(len(body.lines), width, image, painter.worldTransform(), clip)
            stand_in = cast(TextLayoutResult, deferred)  # draw_block knows it
            meas = replace(self._meas, blocks={**self._meas.blocks, BODY: stand_in})
            render.paint(painter, self.state, self._ctx, meas)
        except LayerError:
            return None
        finally:
            painter.end()
        if any(image.copy(draw.band) != draw.before for draw in deferred.draws):
            return None
        self._layers = (image, tuple(deferred.draws))
        return self._layers

    def _compose(self, background: QImage, draws: tuple[DeferredDraw, ...]) -> QImage:
        """The background with the body's lines drawn as the state would have drawn them."""
        image = background.copy()
        painter = QPainter(image)
        try:
            painter.scale(self._zoom, self._zoom)  # the canvas painter's state, as checked
            painter.setClipRect(QRectF(0, 0, self.state.width, self._canvas_h))
            body = self._meas.blocks[BODY]
            for draw in draws:
                painter.setRenderHints(painter.renderHints(), False)
                painter.setRenderHints(draw.hints)
                painter.setOpacity(draw.opacity)
                painter.setCompositionMode(draw.mode)
                painter.setLayoutDirection(draw.direction)
                draw_block(
                    painter,
                    body,
                    draw.font,
                    draw.color,
                    draw.x,
                    draw.y,
                    line_height=draw.line_height,
                )
        finally:
            painter.end()
        return image

    def _paint_caption(self, painter: QPainter, y: float, text_color: QColor) -> None:
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


class PreviewCard(QWidget):
    """One state of one platform as a widget (the focused view), with its measurements.

    Signals:
        activated(str): the card was clicked; carries the state key.
    """

    activated = Signal(str)

    def __init__(
        self, state: StateSpec, parent: QWidget | None = None, *, zoom: float = 1.0
    ) -> None:
        super().__init__(parent)
        self.state = state
        self.view = CardView(state, zoom=zoom)
        self.view.activated.connect(self.activated)
        self.setAccessibleName(f"{state.group} preview: {state.label}")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    @property
    def measured(self) -> Measured:
        return self.view.measured

    @property
    def caption(self) -> list[tuple[str, str]]:
        return self.view.caption

    def set_zoom(self, zoom: float) -> None:
        self.view.set_zoom(zoom)
        self.setFixedSize(self.view.size())
        self.update()

    def set_context(self, ctx: RenderContext) -> bool:
        """Show ``ctx``; return True when the card changed size."""
        resized, changed = self.view.set_context(ctx)
        if resized:
            self.setFixedSize(self.view.size())
        if changed or resized:
            self.update()
        return resized

    def sizeHint(self) -> QSize:
        return self.view.size()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self.view.paint(painter, QPoint(0, 0), self.palette(), self.devicePixelRatioF())
        finally:
            painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.activated.emit(self.state.key)
        super().mousePressEvent(event)
