"""The Focused preview tab shows the message the first time it is opened in a session (and
follows edits made while it was hidden), grabbed as pixels, not asserted on state."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from pushdeck.app.composer.page import ComposerPage


def _ink(image: QImage, background: QColor) -> int:
    """Pixels that differ clearly from the background (text, artwork)."""
    small = image.scaled(image.width() // 2, image.height() // 2)
    count = 0
    for x in range(small.width()):
        for y in range(small.height()):
            c = small.pixelColor(x, y)
            if (
                abs(c.red() - background.red())
                + abs(c.green() - background.green())
                + abs(c.blue() - background.blue())
                > 60
            ):
                count += 1
    return count


def _focused_card_image(qtbot, page: ComposerPage) -> QImage:
    panel = page.previews
    panel.tabs.setCurrentWidget(panel.focus)  # the user clicks the "Focused" tab
    qtbot.wait(50)
    card = panel.focus.card
    assert card.isVisible() and card.width() > 100 and card.height() > 50
    return card.grab().toImage()


def test_focused_tab_is_drawn_the_first_time_it_is_opened(qtbot, fonts) -> None:
    page = ComposerPage()
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.wait_exposed(page)
    image = _focused_card_image(qtbot, page)
    background = page.previews.focus.palette().window().color()
    assert _ink(image, background) > 500, "the focused preview is blank"
    assert "Flash sale" in page.previews.focus.details.text()  # measured lines shown too


def test_focused_tab_follows_edits_made_while_hidden(qtbot, fonts) -> None:
    page = ComposerPage()
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.wait_exposed(page)
    _focused_card_image(qtbot, page)
    page.previews.tabs.setCurrentIndex(0)
    page.model.set_field("title", "Completely different words")
    _focused_card_image(qtbot, page)
    assert "Completely different words" in page.previews.focus.details.text()
