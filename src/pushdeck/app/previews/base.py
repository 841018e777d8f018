"""Shared pieces of every preview state: context, state spec, and small painting helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Protocol

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QLinearGradient,
    QPainter,
    QPainterPath,
    QPen,
    QStaticText,
    QTextOption,
    QTransform,
)

from pushdeck.app.previews.layout import Heuristic, TextLayoutResult, font_key
from pushdeck.core.common.model import Message


class ImageSource(Protocol):
    """Where renderers get images: never blocks; returns the image or a status text."""

    def image(self, ref: str) -> QImage | None: ...

    def status(self, ref: str) -> str: ...


class NoImages:
    """An image source that has nothing (tests, benchmarks)."""

    def image(self, ref: str) -> QImage | None:
        return None

    def status(self, ref: str) -> str:
        return "Image not loaded"


NO_IMAGES = NoImages()


@dataclass(frozen=True)
class RenderContext:
    """Everything a renderer needs besides the painter."""

    message: Message
    dark: bool = False
    app_name: str = "Pushdeck Demo"
    site: str = "shop.example.com"
    time_label: str = "now"
    images: ImageSource = NO_IMAGES
    #: The app declares a Notification Service Extension (``App.has_service_extension``):
    #: without one iOS shows no image, and the iOS cards say so.
    has_service_extension: bool = False

    @cached_property
    def look_key(self) -> str:
        """Everything about the message except its texts, as one string (canvas cache key)."""
        return repr(replace(self.message, title="", subtitle="", body="", data={}))


@dataclass(frozen=True)
class Measured:
    """The text layouts one state computed, plus notes shown under it."""

    blocks: Mapping[str, TextLayoutResult]
    notes: tuple[str, ...] = ()
    header: str = ""  # a label line above the title, e.g. iOS "TIME SENSITIVE"


MeasureFn = Callable[[RenderContext], Measured]
PaintFn = Callable[[QPainter, RenderContext, Measured], None]


@dataclass(frozen=True)
class StateSpec:
    """One display state of one platform: its canvas size, heuristic and how to draw it."""

    key: str  # e.g. "ios.lock"
    group: str  # "iOS" | "Android" | "Web"
    label: str
    width: int
    height: int
    heuristic: Heuristic | None
    measure: MeasureFn
    paint: PaintFn
    height_fn: Callable[[RenderContext, Measured], float] | None = None
    #: Draws a message with no title or body too (a Live Activity shows its content-state).
    draws_silent: bool = False

    def shows_nothing(self, ctx: RenderContext) -> bool:
        """True when this state has nothing of ``ctx`` to draw (a silent message)."""
        return ctx.message.is_silent and not self.draws_silent

    def canvas_height(self, ctx: RenderContext, meas: Measured) -> int:
        """The canvas height for this message (states with menus or images grow)."""
        if self.height_fn is None or self.shows_nothing(ctx):
            return self.height
        return round(self.height_fn(ctx, meas))


# --- painting helpers ---------------------------------------------------------------
# Everything drawn per keystroke goes through two caches: QStaticText for text (no re-shaping)
# and pre-rendered layers for antialiased shapes (a blit instead of a path fill). Together they
# keep a keystroke's repaint of the whole grid within one frame.


_STATIC: dict[tuple[str, str, int, bool, int, float], QStaticText] = {}
_STATIC_LIMIT = 4000


def _static_text(
    text: str, font: QFont, align: int, wrap: bool, direction: int, width: float
) -> QStaticText:
    key = (text, font_key(font), align, wrap, direction, round(width, 1) if wrap else -1.0)
    static = _STATIC.get(key)
    if static is None:
        if len(_STATIC) > _STATIC_LIMIT:
            _STATIC.clear()
        static = QStaticText(text)
        option = QTextOption(Qt.AlignmentFlag(align & 0x0F))
        option.setWrapMode(QTextOption.WrapMode.WordWrap if wrap else QTextOption.WrapMode.NoWrap)
        if direction:
            option.setTextDirection(
                Qt.LayoutDirection.RightToLeft if direction == 2 else Qt.LayoutDirection.LeftToRight
            )
        static.setTextOption(option)
        static.setTextFormat(Qt.TextFormat.PlainText)
        if wrap:
            static.setTextWidth(width)
        static.prepare(QTransform(), font)
        _STATIC[key] = static
    return static


_LEFT_VCENTER = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_RIGHT, _HCENTER = int(Qt.AlignmentFlag.AlignRight), int(Qt.AlignmentFlag.AlignHCenter)
_VCENTER, _BOTTOM = int(Qt.AlignmentFlag.AlignVCenter), int(Qt.AlignmentFlag.AlignBottom)


def text_in(
    painter: QPainter,
    rect: QRectF,
    text: str,
    font: QFont,
    color: QColor,
    align: Qt.AlignmentFlag = _LEFT_VCENTER,
    *,
    wrap: bool = False,
    rtl: bool | None = None,
) -> None:
    """Draw ``text`` aligned in ``rect``; single-line text is clipped to the rect."""
    if not text:
        return
    direction = 0 if rtl is None else (2 if rtl else 1)
    flags = int(align)
    static = _static_text(text, font, flags, wrap, direction, rect.width())
    size = static.size()
    x, y = rect.x(), rect.y()
    if flags & _RIGHT:
        x = rect.right() - size.width()
    elif flags & _HCENTER:
        x = rect.x() + (rect.width() - size.width()) / 2
    if flags & _VCENTER:
        y = rect.y() + (rect.height() - size.height()) / 2
    elif flags & _BOTTOM:
        y = rect.bottom() - size.height()
    painter.setFont(font)
    painter.setPen(color)
    if not wrap and size.width() > rect.width() + 0.5:  # never spill out of the box
        painter.save()
        painter.setClipRect(rect, Qt.ClipOperation.IntersectClip)
        painter.drawStaticText(QPointF(x, y), static)
        painter.restore()
    else:
        painter.drawStaticText(QPointF(x, y), static)


_LAYERS: dict[tuple[object, ...], QImage] = {}
_LAYER_LIMIT = 600


def blit_layer(
    painter: QPainter,
    rect: QRectF,
    key: tuple[object, ...],
    draw: Callable[[QPainter, QRectF], None],
    pad: float = 0.0,
) -> None:
    """Draw ``draw(p, rect)`` through an image cache keyed by ``key``, size and device scale."""
    scale = abs(painter.deviceTransform().m11()) or 1.0
    full = (key, round(rect.width(), 1), round(rect.height(), 1), round(scale, 2), pad)
    image = _LAYERS.get(full)
    if image is None:
        if len(_LAYERS) > _LAYER_LIMIT:
            _LAYERS.clear()
        width, height = rect.width() + 2 * pad, rect.height() + 2 * pad
        image = QImage(
            max(1, math.ceil(width * scale)),
            max(1, math.ceil(height * scale)),
            QImage.Format.Format_ARGB32_Premultiplied,
        )
        image.setDevicePixelRatio(scale)
        image.fill(Qt.GlobalColor.transparent)
        layer = QPainter(image)
        layer.setRenderHint(QPainter.RenderHint.Antialiasing)
        layer.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        draw(layer, QRectF(pad, pad, rect.width(), rect.height()))
        layer.end()
        _LAYERS[full] = image
    painter.drawImage(QPointF(rect.x() - pad, rect.y() - pad), image)


def rounded(
    painter: QPainter, rect: QRectF, radius: float, fill: QColor, border: QColor | None = None
) -> None:
    def draw(p: QPainter, r: QRectF) -> None:
        p.setPen(QPen(border, 1) if border else Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawRoundedRect(r.adjusted(0.5, 0.5, -0.5, -0.5) if border else r, radius, radius)

    blit_layer(
        painter, rect, ("rounded", radius, fill.rgba(), border.rgba() if border else None), draw
    )


def shadow(painter: QPainter, rect: QRectF, radius: float, strength: int = 28) -> None:
    """A soft shadow under a card (two translucent rounded rects, cached)."""

    def draw(p: QPainter, r: QRectF) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        for step, alpha in ((3, strength // 3), (1, strength // 2)):
            p.setBrush(QColor(0, 0, 0, alpha))
            p.drawRoundedRect(
                r.adjusted(-step, -step + 2, step, step + 3), radius + step, radius + step
            )

    blit_layer(painter, rect, ("shadow", radius, strength), draw, pad=6)


_BACKGROUNDS: dict[tuple[int, int, int, int], QImage] = {}


def gradient_fill(painter: QPainter, rect: QRectF, top: QColor, bottom: QColor) -> None:
    """A diagonal gradient wallpaper, rendered once per size and colours, then blitted."""
    clip = painter.clipBoundingRect()
    height = min(rect.height(), clip.bottom()) if not clip.isEmpty() else rect.height()
    key = (round(rect.width()), max(1, round(height)), top.rgba(), bottom.rgba())
    image = _BACKGROUNDS.get(key)
    if image is None:
        image = QImage(key[0], key[1], QImage.Format.Format_RGB32)  # opaque: blits are copies
        grad = QLinearGradient(0, 0, key[0], key[1])
        grad.setColorAt(0, top)
        grad.setColorAt(1, bottom)
        fill = QPainter(image)
        fill.fillRect(image.rect(), grad)
        fill.end()
        _BACKGROUNDS[key] = image
    painter.drawImage(QRectF(rect.x(), rect.y(), key[0], key[1]), image)


class LayerError(Exception):
    """A background pass read the deferred block's text or drew it in an unusual painter
    state: this canvas is painted whole instead (see ``DeferredBlock``)."""


class _DeferredLine:
    """A shown line whose text is not known in a background pass: reading it fails."""

    __slots__ = ()

    def __getattr__(self, name: str) -> object:
        raise LayerError(f"line.{name}")

    def __eq__(self, other: object) -> bool:
        raise LayerError("line ==")

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        raise LayerError("str(line)")


@dataclass(frozen=True)
class DeferredDraw:
    """Where a background pass would have drawn the deferred block's lines."""

    font: QFont
    color: QColor
    x: float
    y: float
    line_height: float
    hints: QPainter.RenderHint
    opacity: float
    mode: QPainter.CompositionMode
    direction: Qt.LayoutDirection
    band: QRect  # canvas pixels the lines may ink: their rows, half a row above and below
    before: QImage  # those pixels when the lines would have been drawn


class DeferredBlock:
    """Stands in for a state's body in a *background pass*: everything but the body's lines.

    It shows only how many lines the body has (``lines`` of that length); any read of a
    line's text or geometry, or of any other attribute, raises ``LayerError``, so a
    background that paints without error provably depends on the body through its line
    count alone (and what the caller keys it on). ``draw_block`` given this block draws
    nothing and records the call; the lines are drawn later over the finished background,
    in the same painter state (checked here: the canvas's own transform and clip).
    """

    #: Logical pixels beside the lines' boxes where a glyph may still ink (overhang).
    SIDE_MARGIN = 6.0

    def __init__(
        self, count: int, width: float, canvas: QImage, transform: QTransform, clip: QRectF
    ) -> None:
        """``width``: the widest line box the real block has; ``canvas``: the image painted;
        ``transform`` and ``clip``: the canvas painter's own (any other state fails)."""
        self.lines = tuple(_DeferredLine() for _ in range(count))
        self.draws: list[DeferredDraw] = []
        self._width, self._canvas = width, canvas
        self._transform, self._clip = transform, clip

    def __getattr__(self, name: str) -> object:
        raise LayerError(f"block.{name}")

    def defer(
        self,
        painter: QPainter,
        font: QFont,
        color: QColor,
        x: float,
        y: float,
        line_height: float | None,
    ) -> float:
        if line_height is None:
            raise LayerError("line_height from the block")
        if painter.worldTransform() != self._transform or not painter.hasClipping():
            raise LayerError("painter transformed")
        if painter.backgroundMode() != Qt.BGMode.TransparentMode:
            raise LayerError("text background filled")
        clip = painter.clipPath()
        bounds, canvas = clip.boundingRect(), self._clip
        if clip.elementCount() != 5 or (
            max(
                abs(bounds.x() - canvas.x()),
                abs(bounds.y() - canvas.y()),
                abs(bounds.width() - canvas.width()),
                abs(bounds.height() - canvas.height()),
            )
            > 1e-6
        ):
            raise LayerError("painter clipped")  # not just the canvas rectangle
        margin = self.SIDE_MARGIN
        area = QRectF(
            x - margin,
            y - line_height / 2,
            self._width + 2 * margin,
            line_height * (len(self.lines) + 1),
        )
        band = painter.deviceTransform().mapRect(area).toAlignedRect() & self._canvas.rect()
        self.draws.append(
            DeferredDraw(
                QFont(font),
                QColor(color),
                x,
                y,
                line_height,
                painter.renderHints(),
                painter.opacity(),
                painter.compositionMode(),
                painter.layoutDirection(),
                band,
                self._canvas.copy(band),
            )
        )
        return y + line_height * len(self.lines)


def draw_block(
    painter: QPainter,
    block: TextLayoutResult,
    font: QFont,
    color: QColor,
    x: float,
    y: float,
    *,
    line_height: float | None = None,
) -> float:
    """Draw the shown lines of ``block`` from (x, y); right-aligned when RTL. Returns new y."""
    if isinstance(block, DeferredBlock):
        return block.defer(painter, font, color, x, y, line_height)
    step = line_height or block.line_height
    align = (
        Qt.AlignmentFlag.AlignRight if block.rtl else Qt.AlignmentFlag.AlignLeft
    ) | Qt.AlignmentFlag.AlignVCenter
    for line in block.lines:
        text_in(
            painter,
            QRectF(x, y, line.available, step),
            line.text,
            font,
            color,
            align,
            rtl=block.rtl,
        )
        y += step
    return y


def draw_single(
    painter: QPainter,
    text: str,
    font: QFont,
    color: QColor,
    rect: QRectF,
    align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft,
) -> None:
    text_in(painter, rect, text, font, color, align | Qt.AlignmentFlag.AlignVCenter)


_ICON_FONTS: dict[int, QFont] = {}


def app_icon(
    painter: QPainter,
    rect: QRectF,
    radius_ratio: float = 0.225,
    letter: str = "P",
    colors: tuple[str, str] = ("#7B61FF", "#3A8DFF"),
    circle: bool = False,
) -> None:
    """The demo app's icon: a gradient squircle (or circle) with a letter (cached)."""

    def draw(p: QPainter, r: QRectF) -> None:
        grad = QLinearGradient(r.topLeft(), r.bottomRight())
        grad.setColorAt(0, QColor(colors[0]))
        grad.setColorAt(1, QColor(colors[1]))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(grad)
        if circle:
            p.drawEllipse(r)
        else:
            p.drawRoundedRect(r, r.width() * radius_ratio, r.width() * radius_ratio)
        if letter:
            font = QFont()
            font.setPixelSize(max(6, round(r.height() * 0.55)))
            font.setBold(True)
            text_in(p, r, letter, font, QColor("white"), Qt.AlignmentFlag.AlignCenter)

    blit_layer(painter, rect, ("icon", radius_ratio, letter, colors, circle), draw)


def image_box(
    painter: QPainter,
    rect: QRectF,
    radius: float,
    ctx: RenderContext,
    ref: str,
    dark: bool,
    caption_font: QFont,
) -> None:
    """Draw the image ``ref`` cropped to ``rect``, or a placeholder saying why it is not there."""
    image = ctx.images.image(ref) if ref else None
    path = QPainterPath()
    path.addRoundedRect(rect, radius, radius)
    painter.save()
    painter.setClipPath(path)
    if image is not None and not image.isNull():
        scaled = image.scaled(
            rect.size().toSize(),
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        dx = (scaled.width() - rect.width()) / 2
        dy = (scaled.height() - rect.height()) / 2
        painter.drawImage(rect, scaled, QRectF(dx, dy, rect.width(), rect.height()))
    else:
        painter.fillRect(rect, QColor("#3a3a3c") if dark else QColor("#d9dde3"))
        painter.setPen(QPen(QColor(255, 255, 255, 50) if dark else QColor(0, 0, 0, 40), 1.2))
        painter.drawLine(rect.topLeft(), rect.bottomRight())
        painter.drawLine(rect.bottomLeft(), rect.topRight())
        if rect.height() > 60:
            text = ctx.images.status(ref) if ref else "No image"
            fg = QColor("#e5e5ea") if dark else QColor("#3c3c43")
            text_in(
                painter,
                rect.adjusted(8, 4, -8, -4),
                text,
                caption_font,
                fg,
                Qt.AlignmentFlag.AlignCenter,
                wrap=True,
            )
    painter.restore()


def notice(painter: QPainter, rect: QRectF, text: str, dark: bool, font: QFont) -> None:
    """A dashed panel with a sentence: used where the platform shows nothing."""
    painter.setPen(
        QPen(
            QColor(255, 255, 255, 120) if dark else QColor(0, 0, 0, 110), 1.2, Qt.PenStyle.DashLine
        )
    )
    painter.setBrush(QColor(0, 0, 0, 90) if dark else QColor(255, 255, 255, 150))
    painter.drawRoundedRect(rect, 14, 14)
    text_in(
        painter,
        rect.adjusted(14, 8, -14, -8),
        text,
        font,
        QColor("#f2f2f7") if dark else QColor("#1c1c1e"),
        Qt.AlignmentFlag.AlignCenter,
        wrap=True,
    )


def badge_circle(
    painter: QPainter, center: QPointF, text: str, font: QFont, fill: QColor | None = None
) -> None:
    """An iOS-style red count badge centred on ``center``."""
    from PySide6.QtGui import QFontMetricsF

    size = font.pixelSize()
    width = max(size * 1.6, QFontMetricsF(font).horizontalAdvance(text) + size)
    height = size * 1.6
    rect = QRectF(center.x() - width / 2, center.y() - height / 2, width, height)
    rounded(painter, rect, height / 2, fill or QColor("#FF3B30"))
    text_in(painter, rect, text, font, QColor("white"), Qt.AlignmentFlag.AlignCenter)


def fill_canvas(painter: QPainter, color: QColor) -> None:
    """Fill the state's canvas (the painter's clip) with a solid colour."""
    rect = painter.clipBoundingRect()
    painter.fillRect(rect if not rect.isEmpty() else QRectF(0, 0, 420, 900), color)
