"""Render one state to an image, and the silent-message notice; used by widgets and export."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import base
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec

SILENT_TEXT = {
    "iOS": "Silent / background message: iOS shows nothing. The app is woken in the "
    "background (content-available) and may post its own notification.",
    "Android": "Data-only message: Android shows nothing. The app receives the data and "
    "decides what, if anything, to show.",
    "Web": "No title or body: nothing to show. Browsers expect every push to show a "
    "notification; the service worker decides what appears.",
}


def measure(state: StateSpec, ctx: RenderContext) -> Measured:
    if state.shows_nothing(ctx):
        return Measured({}, ())
    return state.measure(ctx)


def paint(painter: QPainter, state: StateSpec, ctx: RenderContext, meas: Measured) -> None:
    """Paint ``state`` into the (0, 0, width, height) rectangle of ``painter``."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    painter.save()
    try:
        painter.setClipRect(QRectF(0, 0, state.width, state.canvas_height(ctx, meas)))
        if state.shows_nothing(ctx):
            paint_silent(painter, state, ctx)
        else:
            state.paint(painter, ctx, meas)
    finally:
        painter.restore()


def paint_silent(painter: QPainter, state: StateSpec, ctx: RenderContext) -> None:
    bg = QColor("#1c1c1e") if ctx.dark else QColor("#eceff3")
    base.fill_canvas(painter, bg)
    font = preview_font(FontRole.APPLE if state.group != "Android" else FontRole.ANDROID, 13)
    height = min(state.height - 24, 110)
    base.notice(
        painter,
        QRectF(16, (state.height - height) / 2, state.width - 32, height),
        SILENT_TEXT[state.group],
        ctx.dark,
        font,
    )


def render_image(state: StateSpec, ctx: RenderContext, scale: float = 1.0) -> QImage:
    """The state as an image at ``scale`` (2.0 for a crisp PNG to share)."""
    from pushdeck.app.previews.platform_text import for_state

    ctx = for_state(state, ctx)
    meas = measure(state, ctx)
    height = state.canvas_height(ctx, meas)
    image = QImage(
        round(state.width * scale), round(height * scale), QImage.Format.Format_ARGB32_Premultiplied
    )
    image.setDevicePixelRatio(scale)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        paint(painter, state, ctx, meas)
    finally:
        painter.end()
    return image
