"""The measured layout function on texts that break naive previews."""

from __future__ import annotations

import unicodedata

import pytest
from PySide6.QtCore import QTextBoundaryFinder

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews.layout import ELLIPSIS, Heuristic, TextBox, is_rtl, layout_text

FAMILY = "👨‍👩‍👧‍👦"
BOX = TextBox(285, 4)


def _grapheme_boundaries(text: str) -> set[int]:
    """Python indices of grapheme-cluster boundaries (from Qt's UTF-16 boundaries)."""
    finder = QTextBoundaryFinder(QTextBoundaryFinder.BoundaryType.Grapheme, text)
    utf16_to_py, units = {}, 0
    for index, char in enumerate(text):
        utf16_to_py[units] = index
        units += 2 if ord(char) > 0xFFFF else 1
    utf16_to_py[units] = len(text)
    bounds, pos = {0}, 0
    while (pos := finder.toNextBoundary()) != -1:
        bounds.add(utf16_to_py[pos])
    return bounds


@pytest.fixture
def body_font(fonts):
    return preview_font(FontRole.APPLE, 15)


def test_bundled_fonts_load(fonts) -> None:
    assert {"Inter", "Roboto", "Open Sans"} <= set(fonts)


def test_short_text_fits_on_one_line(body_font) -> None:
    result = layout_text("Your order has shipped", body_font, BOX)
    assert not result.truncated
    assert [line.text for line in result.lines] == ["Your order has shipped"]
    assert result.cut == len(result.source)


def test_long_body_is_cut_with_ellipsis_within_the_line_budget(body_font) -> None:
    text = "word " * 120
    result = layout_text(text, body_font, BOX)
    assert result.truncated
    assert len(result.lines) == 4
    assert result.needed_lines > 4
    assert result.lines[-1].text.endswith(ELLIPSIS)
    assert not any(line.text.endswith(ELLIPSIS) for line in result.lines[:-1])
    # the cut falls inside the last shown line, never past it
    assert result.lines[-1].start < result.cut <= len(text)
    assert all(line.width <= line.available + 0.5 for line in result.lines)
    assert result.lines[-1].text.removesuffix(ELLIPSIS) == text[result.lines[-1].start : result.cut]
    assert result.hidden  # something is hidden, and it is exactly the rest of the source
    assert text[: result.cut] + result.hidden == text


def test_each_line_fits_its_measured_width_with_reserve(body_font) -> None:
    box = TextBox(285, 3, (80, 40))
    result = layout_text("alpha beta gamma delta " * 20, body_font, box)
    assert [line.available for line in result.lines] == [205, 245, 285]
    assert all(line.width <= line.available + 0.5 for line in result.lines)


def test_timestamp_reserve_truncates_earlier(body_font) -> None:
    text = "Your package from the warehouse is out for delivery today"
    plain = layout_text(text, body_font, TextBox(285, 1))
    with_stamp = layout_text(text, body_font, TextBox(285, 1, (120,)))
    assert with_stamp.cut < plain.cut


def test_wide_glyphs_truncate_before_narrow_ones(body_font) -> None:
    wide = layout_text("m" * 200, body_font, TextBox(285, 2))
    narrow = layout_text("i" * 200, body_font, TextBox(285, 2))
    assert wide.cut < narrow.cut  # the same character count is not the same width


def test_wider_font_truncates_earlier_than_narrow_font(fonts) -> None:
    text = "Everything in store is 40% off until midnight, shoes, jackets, bags and more " * 4
    windows = layout_text(text, preview_font(FontRole.WINDOWS, 15), TextBox(285, 2))
    roboto = layout_text(text, preview_font(FontRole.ANDROID, 15), TextBox(285, 2))
    assert windows.cut < roboto.cut  # Open Sans is wider than Roboto at the same size


def test_emoji_zwj_sequences_are_never_split(body_font) -> None:
    text = (FAMILY + " ") * 5 + FAMILY * 60
    result = layout_text(text, body_font, TextBox(200, 3))
    assert result.truncated
    bounds = _grapheme_boundaries(text)
    for line in result.lines:
        assert line.start in bounds
        assert line.end in bounds
    assert result.cut in bounds
    assert result.lines[-1].text.removesuffix(ELLIPSIS).endswith(FAMILY)


def test_combining_marks_stay_with_their_base(body_font) -> None:
    text = "Zalgo t\u0301\u0302\u0303e\u0301\u0308xt " * 30
    result = layout_text(text, body_font, TextBox(180, 2))
    assert result.truncated
    assert result.cut in _grapheme_boundaries(text)
    assert not unicodedata.combining(text[result.cut]) if result.cut < len(text) else True


def test_rtl_text_is_detected_and_right_aligned(body_font) -> None:
    arabic = "مرحبا بك في تطبيقنا، لدينا عرض خاص لك اليوم فقط، لا تفوته أبدا " * 3
    hebrew = "שלום, ההזמנה שלך נשלחה והיא בדרך אליך"
    assert is_rtl(arabic) and is_rtl(hebrew) and not is_rtl("Hello مرحبا")
    result = layout_text(arabic, body_font, TextBox(285, 2))
    assert result.rtl
    assert result.truncated
    assert result.lines[-1].text.endswith(ELLIPSIS)  # logical end = the visual left in RTL


def test_cjk_wraps_without_spaces(body_font) -> None:
    text = "今日だけの特別セール、全品四割引きです。お見逃しなく" * 6
    result = layout_text(text, body_font, TextBox(285, 2))
    assert len(result.lines) == 2
    assert result.truncated
    assert len(result.lines[0].text) > 5  # broke between ideographs, not one char per line


def test_long_url_breaks_inside_the_word(body_font) -> None:
    url = "https://shop.example.com/" + "very-long-path-segment" * 12
    result = layout_text(url, body_font, TextBox(285, 3))
    assert len(result.lines) == 3
    assert all(line.width <= line.available + 0.5 for line in result.lines)


def test_hard_line_breaks_are_kept(body_font) -> None:
    result = layout_text("Line one\nLine two\nLine three", body_font, TextBox(285, 2))
    assert [line.text for line in result.lines] == ["Line one", "Line two" + ELLIPSIS]
    assert result.hidden.strip() == "Line three"


def test_empty_title_shows_no_lines(body_font) -> None:
    result = layout_text("", body_font, TextBox(285, 1))
    assert result.lines == ()
    assert not result.truncated


def test_heuristic_is_labelled_and_counts_characters() -> None:
    heuristic = Heuristic(35, 160, "Braze")
    assert heuristic.describe().startswith("Heuristic (Braze)")
    assert heuristic.over("x" * 36, "y" * 10) == ["title"]
