"""Incremental layout: a result reused past the cut equals laying the new text out afresh.

``layout_text`` reuses its previous result for a font and box when that result was cut and
the new text keeps the characters that decided it (``reach``). These tests edit hard texts
at random places, many times, and compare every answer with a from-scratch layout.
"""

from __future__ import annotations

import random
import sys
import unicodedata

import pytest

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import layout
from pushdeck.app.previews.layout import TextBox, font_key, layout_text

HARD = {
    "latin": "Hi Ana 👋 our biggest sale of the year starts now. Everything in store is 40% "
    "off until midnight: shoes, jackets, bags and more. Free shipping on every order. ",
    "arabic": "مرحبا بكم في أكبر تخفيضات السنة، كل شيء بخصم أربعين بالمئة حتى منتصف الليل. ",
    "hebrew": "שלום עולם, מבצע גדול היום בלבד! כל החנות בהנחה של ארבעים אחוז עד חצות. ",
    "mixed_rtl_late": "Order 1234 is on its way to you today, track it in the app (here) "
    "and then: مرحبا بكم (٣٤٥) — שלום! ",
    "zwj": "Family 👨‍👩‍👧‍👦 and flags 🇵🇹🇧🇷 and skin 👋🏽 tones 👩🏾‍💻 at work 🧑‍🤝‍🧑 ",
    "combining": "e\u0301 combining a\u0308 marks Z\u0335\u0321a\u0336lgo n\u0303o\u0302 "
    "q\u0323\u0307 ",
    "cjk": "今日だけの特別セール！全商品40%オフ、送料無料。新しいコレクションは明日から。",
    "url": "Open https://shop.example.com/sale/very/long/path/that/never/ends?utm_source="
    "push&utm_medium=notification&x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa ",
    "neutral_start": "... 40% 👋 — (1234) !!! then words that finally settle it ",
    "hard_breaks": "Line one\nline two\n\nline four after a blank\r\nwindows line ",
}
# A few characters of each kind to insert: latin, space, emoji + ZWJ pieces, combining
# marks, RTL letters and marks, CJK, punctuation, a hard break.
ALPHABET = [*"abcxyz  ,.-/()", "👋", "\u200d", "👩", "\u0301", "\u0308", "م", "ש", "\u200f"]
ALPHABET += ["今", "日", "\n", "1", "٣"]
BOXES = (TextBox(285, 2), TextBox(251, 4, (46.0,)), TextBox(330, 1), TextBox(300, 7))


def _fonts(fonts):
    return (
        preview_font(FontRole.APPLE, 15),
        preview_font(FontRole.ANDROID, 14),
        preview_font(FontRole.WINDOWS, 14),
    )


#: The layout itself, under its lru_cache: from scratch every call.
_SCRATCH = layout._layout_cached.__wrapped__


def _fresh(text, font, box):
    """From scratch: no reuse and no cache."""
    return _SCRATCH(text, font_key(font), box)


def _same(a, b) -> bool:
    return (a.source, a.lines, a.needed_lines, a.truncated, a.cut, a.rtl) == (
        b.source,
        b.lines,
        b.needed_lines,
        b.truncated,
        b.cut,
        b.rtl,
    ) and (a.line_height, a.ascent) == (b.line_height, b.ascent)


@pytest.fixture
def reuse_counter(monkeypatch):
    """Counts the calls ``layout_text`` answered without laying out (reused results)."""
    counts = {"calls": 0, "laid_out": 0}

    def counting(text, key, box):
        counts["laid_out"] += 1
        return _SCRATCH(text, key, box)  # no cache: every miss is a real layout

    monkeypatch.setattr(layout, "_layout_cached", counting)
    monkeypatch.setattr(layout, "_LAST", {})
    return counts


def _check(text, font, box, counts) -> None:
    counts["calls"] += 1
    got = layout_text(text, font, box)
    want = _fresh(text, font, box)
    assert _same(got, want), (text, box)


@pytest.mark.parametrize("name", sorted(HARD))
def test_typing_forward_and_back_matches_fresh_layout(fonts, reuse_counter, name) -> None:
    text = HARD[name] * 3
    for font in _fonts(fonts):
        for box in BOXES:
            for end in range(1, len(text) + 1):
                _check(text[:end], font, box, reuse_counter)
            for end in range(len(text) - 1, -1, -1):
                _check(text[:end], font, box, reuse_counter)
    if name in ("latin", "url", "cjk"):  # long left-to-right texts: most keystrokes reuse
        assert reuse_counter["laid_out"] < reuse_counter["calls"] * 0.7
    elif name not in ("arabic", "hebrew", "mixed_rtl_late"):
        assert reuse_counter["laid_out"] < reuse_counter["calls"]
    if name in ("arabic", "hebrew"):  # right-to-left paragraphs are always laid out afresh
        assert reuse_counter["laid_out"] == reuse_counter["calls"]


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_anywhere_match_fresh_layout(fonts, reuse_counter, seed) -> None:
    rnd = random.Random(seed)
    for name in sorted(HARD):
        text = HARD[name] * 3
        font = rnd.choice(_fonts(fonts))
        box = rnd.choice(BOXES)
        for _ in range(120):
            pos = rnd.randrange(0, len(text) + 1)
            if rnd.random() < 0.6:  # most edits at the end: typing
                pos = len(text) - rnd.randrange(0, 4) if rnd.random() < 0.6 else pos
                pos = max(0, pos)
            if rnd.random() < 0.45 and text:
                count = rnd.choice((1, 1, 1, 2, 5))
                text = text[:pos] + text[pos + count :]
            else:
                text = (
                    text[:pos]
                    + "".join(rnd.choices(ALPHABET, k=rnd.choice((1, 1, 3))))
                    + text[pos:]
                )
            _check(text, font, box, reuse_counter)
    assert reuse_counter["laid_out"] < reuse_counter["calls"]  # reuse did happen


def test_rtl_late_in_the_text_keeps_reuse_only_before_it(fonts, reuse_counter) -> None:
    font = preview_font(FontRole.APPLE, 15)
    box = TextBox(285, 2)
    prefix = HARD["latin"] * 2
    _check(prefix, font, box, reuse_counter)
    laid_out = reuse_counter["laid_out"]
    _check(prefix + "مرحبا", font, box, reuse_counter)  # after the cut: still reused
    assert reuse_counter["laid_out"] == laid_out
    _check("مرحبا " + prefix, font, box, reuse_counter)  # before it: laid out again
    assert reuse_counter["laid_out"] == laid_out + 1


def test_rtl_ranges_cover_every_rtl_or_explicit_code_point() -> None:
    kinds = {"R", "AL", "AN", "RLE", "RLO", "LRE", "LRO", "PDF", "RLI", "LRI", "FSI", "PDI"}
    missing = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if unicodedata.bidirectional(chr(code)) in kinds
        and not layout._RTL_OR_EXPLICIT.match(chr(code))
    ]
    assert missing == []
