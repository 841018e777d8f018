"""A card typed in the body paints its lines over a cached background: the same pixels as
painting the whole state again, for every state, zoom and hard text."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QTransform

from pushdeck.app.previews import ALL_STATES, render
from pushdeck.app.previews.base import DeferredBlock, LayerError, RenderContext, draw_block
from pushdeck.app.previews.card import CardView
from pushdeck.core.common.model import Action, Message

TEXTS = (
    "Hi Ana 👋 our biggest sale of the year starts now. Everything in store is 40% off until "
    "midnight: shoes, jackets, bags and more. Free shipping on every order, too.",
    "مرحبا بكم في أكبر تخفيضات السنة، كل شيء بخصم أربعين بالمئة حتى منتصف الليل. שלום עולם!",
    "Family 👨‍👩‍👧‍👦 flags 🇵🇹🇧🇷 e\u0301 a\u0308 Z\u0335\u0321a\u0336lgo "
    "今日だけの特別セール！全商品40%オフ "
    "https://shop.example.com/sale/very/long/path/that/never/ends?utm_source=push",
)


def _whole(state, ctx: RenderContext, zoom: float, dpr: float = 1.0) -> QImage:
    """The state painted whole, as a card did before layering."""
    meas = render.measure(state, ctx)
    height = state.canvas_height(ctx, meas)
    scale = zoom * dpr
    image = QImage(round(state.width * scale), round(height * scale), QImage.Format.Format_RGB32)
    image.setDevicePixelRatio(dpr)
    image.fill(Qt.GlobalColor.white)
    painter = QPainter(image)
    painter.scale(zoom, zoom)
    render.paint(painter, state, ctx, meas)
    painter.end()
    return image


def _messages(rich: Message) -> list[Message]:
    return [
        rich,  # title, badge, three actions
        replace(rich, title="", actions=()),  # no title: Android puts "· now" after the body
        replace(rich, image_url="missing.png", subtitle="Members first"),  # thumbnails
    ]


@pytest.fixture
def composed(monkeypatch):
    """Counts canvases drawn as background + body lines."""
    counts = {"layered": 0}
    real = CardView._compose

    def counting(self, background, draws):
        counts["layered"] += 1
        return real(self, background, draws)

    monkeypatch.setattr(CardView, "_compose", counting)
    return counts


@pytest.mark.parametrize(("zoom", "dpr"), [(1.0, 1.0), (0.75, 1.0), (0.5, 1.0), (1.5, 2.0)])
def test_typing_in_the_body_paints_what_a_whole_repaint_paints(
    fonts, rich_message, composed, zoom, dpr
) -> None:
    checked = 0
    for dark in (False, True) if zoom == 1.0 else (False,):  # dark: once is enough
        for message in _messages(rich_message):
            for text in TEXTS:
                views = {state.key: CardView(state, zoom=zoom) for state in ALL_STATES}
                for end in (*range(1, 40, 9), *range(40, len(text) + 1, 13), len(text)):
                    ctx = RenderContext(replace(message, body=text[:end]), dark=dark)
                    for state in ALL_STATES:
                        view = views[state.key]
                        view.set_context(ctx)
                        got = view._canvas_image(dpr)
                        want = _whole(state, ctx, zoom, dpr)
                        assert got == want, (state.key, zoom, dpr, end, text)
                        assert got.devicePixelRatio() == dpr
                        checked += 1
    assert checked > 500
    assert composed["layered"] > checked // 3  # the layered path did most of the work


def test_background_pass_cannot_read_the_body(fonts) -> None:
    canvas = QImage(100, 100, QImage.Format.Format_RGB32)
    block = DeferredBlock(2, 80, canvas, QTransform(), QRectF(0, 0, 100, 100))
    assert len(block.lines) == 2
    for read in (
        lambda: block.lines[0].text,
        lambda: block.lines[1].width,
        lambda: block.rtl,
        lambda: block.source,
        lambda: str(block.lines[0]),
    ):
        with pytest.raises(LayerError):
            read()


def test_deferred_draw_needs_the_canvas_painter_state(fonts) -> None:
    canvas = QImage(100, 100, QImage.Format.Format_RGB32)
    canvas.fill(Qt.GlobalColor.white)
    font, color = QFont(), QColor("black")
    block = DeferredBlock(2, 80, canvas, QTransform(), QRectF(0, 0, 100, 100))
    painter = QPainter(canvas)
    try:
        painter.setClipRect(QRectF(0, 0, 100, 100))
        assert draw_block(painter, block, font, color, 4, 10, line_height=20) == 50
        assert len(block.draws) == 1 and block.draws[0].band.top() == 0
        with pytest.raises(LayerError):  # the line height would come from the text block
            draw_block(painter, block, font, color, 4, 10)
        painter.save()
        painter.translate(3, 0)
        with pytest.raises(LayerError):
            draw_block(painter, block, font, color, 4, 10, line_height=20)
        painter.restore()
        painter.setClipRect(QRectF(0, 0, 50, 50))
        with pytest.raises(LayerError):
            draw_block(painter, block, font, color, 4, 10, line_height=20)
    finally:
        painter.end()


def test_a_state_that_reads_the_body_to_paint_is_painted_whole(fonts, rich_message) -> None:
    # Android without a title puts "· now" after the first body line: it reads its width.
    from pushdeck.app.previews import STATES_BY_KEY

    state = STATES_BY_KEY["android.collapsed"]
    view = CardView(state)
    message = replace(rich_message, title="", actions=(Action("a", "A"),))
    for end in (30, 31, 32):
        ctx = RenderContext(replace(message, body=TEXTS[0][:end]))
        view.set_context(ctx)
        assert view._canvas_image(1.0) == _whole(state, ctx, 1.0)
        assert view._layers is None
