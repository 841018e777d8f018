"""The grid on screen repaints only what changed (opaque, static contents, per-card
updates): what the window shows must always equal painting it afresh."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QScrollArea

from pushdeck.app.composer.page import ComposerPage

BODY = (
    "Hi Ana 👋 our biggest sale of the year starts now. Everything in store is 40% off until "
    "midnight: shoes, jackets, bags and more. Free shipping on every order, and members get "
    "early access to the new collection tomorrow. مرحبا 👨‍👩‍👧‍👦 https://shop.example.com/sale"
)


def test_window_shows_what_a_fresh_paint_shows_while_typing(qtbot, fonts) -> None:
    page = ComposerPage()
    qtbot.addWidget(page)
    page.previews.zoom_box.setCurrentIndex(page.previews.zoom_box.findData(1.0))
    grid = page.previews.grid
    page.model.set_field("body", "")
    window = QScrollArea()
    qtbot.addWidget(window)
    window.setWidget(grid)
    window.resize(grid.width() + 30, grid.height() + 400)  # room for the grid to grow
    window.show()
    qtbot.waitExposed(window)
    sizes, checked = set(), 0
    typed = [BODY[:end] for end in range(1, len(BODY) + 1, 3)]
    for body in typed + typed[::-1] + [BODY[:40] + "…edited in the middle…" + BODY[40:]]:
        page.model.set_field("body", body)
        QApplication.processEvents()
        sizes.add(grid.height())
        shot = window.screen().grabWindow(window.winId()).toImage()  # the backing store
        fresh = window.grab().toImage()  # the same window painted afresh
        assert fresh.convertToFormat(shot.format()) == shot, body
        checked += 1
    assert len(sizes) > 3  # cards grew and shrank: the grid moved cards and resized
    assert checked > 100


def test_gap_rectangles_tile_exactly_what_no_card_covers(qtbot, fonts, rich_message) -> None:
    from dataclasses import replace

    from PySide6.QtGui import QRegion

    from pushdeck.app.previews.base import RenderContext
    from pushdeck.app.previews.widgets import PreviewGrid

    grid = PreviewGrid()
    qtbot.addWidget(grid)
    contexts = [None] + [
        RenderContext(replace(rich_message, body=rich_message.body[:end])) for end in (0, 9, 90)
    ]
    for zoom in (1.0, 0.75, 0.5):
        grid.set_zoom(zoom)
        for ctx in contexts:
            if ctx is not None:
                grid.set_context(ctx)
            uncovered = QRegion(grid.rect())
            for key, card in grid.cards.items():
                if card.has_context:
                    uncovered -= grid.card_rect(key)
            tiled = QRegion()
            for gap in grid._gaps:
                assert not tiled.intersects(gap)  # no pixel filled twice
                tiled += gap
            assert tiled == uncovered
