"""Measured text layout for previews: which lines a state shows and where the text is cut.

Everything is measured with ``QTextLayout`` / ``QFontMetricsF`` at the state's real width
and line budget; nothing counts characters. The published character limits live in
``Heuristic`` and are only ever shown *beside* the measurement, labelled as heuristics.
No widgets here: only a QGuiApplication (for fonts) is needed.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetricsF, QTextLayout, QTextOption

ELLIPSIS = "…"
_LINE_SEPARATOR = "\u2028"


@dataclass(frozen=True)
class TextBox:
    """Where a text block is laid out in one preview state.

    Attributes:
        width: full line width in logical pixels.
        max_lines: how many lines the state shows before cutting.
        reserve: per-line pixels taken from the start of the block (line 0 first), e.g. the
            timestamp beside the first line or a thumbnail beside the first two lines.
    """

    width: float
    max_lines: int
    reserve: tuple[float, ...] = ()

    def line_width(self, index: int) -> float:
        taken = self.reserve[index] if index < len(self.reserve) else 0.0
        return max(1.0, self.width - taken)


@dataclass(frozen=True)
class ShownLine:
    """One drawn line. ``text`` ends with an ellipsis on the cut line."""

    text: str
    start: int  # index into the source text
    end: int  # one past the last source character drawn
    width: float  # natural advance of ``text``
    available: float  # width the state gives this line


@dataclass(frozen=True)
class TextLayoutResult:
    """What a state shows of one text block."""

    source: str
    lines: tuple[ShownLine, ...]
    needed_lines: int  # lines laid out: all of them, or max_lines + 1 when cut
    truncated: bool
    cut: int  # number of source characters shown; len(source) when nothing is cut
    rtl: bool
    line_height: float
    ascent: float
    #: How many leading source characters decide this result (see ``layout_text``); -1 when
    #: every character may matter.
    reach: int = field(default=-1, compare=False, repr=False)

    @property
    def hidden(self) -> str:
        """The source text the state does not show."""
        return self.source[self.cut :]

    @property
    def height(self) -> float:
        return self.line_height * len(self.lines)


def is_rtl(text: str) -> bool:
    """True when the first strong directional character is right-to-left (Unicode P2/P3)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return False
        if kind in ("R", "AL"):
            return True
    return False


def layout_text(text: str, font: QFont, box: TextBox) -> TextLayoutResult:
    """Lay ``text`` out in ``box`` with ``font`` and return the shown lines and the cut.

    Lines wrap at word boundaries, or anywhere inside a word too long for a line (long
    URLs), never inside a grapheme cluster. When the text needs more than
    ``box.max_lines`` lines, the last shown line is elided at its measured width.

    Typing past a cut re-measures nothing: lines are broken greedily, so a cut result
    depends only on the text up to the end of the first hidden line (the elided line is
    that line's start plus the next line). When the previous result for this font and box
    was cut and the new text starts with those characters and one more, the result is the
    same (``reach``; only left-to-right paragraphs, see ``_settled_reach``).
    """
    key = font_key(font)
    if key not in _FONTS:
        _FONTS[key] = QFont(font)
    slot = (key, box)
    last = _LAST.get(slot)
    if last is not None:
        if last.source == text:
            return last
        reach = last.reach
        if 0 < reach <= len(text) and text[:reach] == last.source[:reach]:
            result = replace(last, source=text)
            _LAST[slot] = result
            return result
    result = _layout_cached(text, key, box)
    if len(_LAST) > 512:
        _LAST.clear()
    _LAST[slot] = result
    return result


_FONTS: dict[str, QFont] = {}
#: The latest result per (font, box): what the next keystroke most likely extends.
_LAST: dict[tuple[str, TextBox], TextLayoutResult] = {}
_FONT_KEYS: dict[int, tuple[QFont, str]] = {}


def font_key(font: QFont) -> str:
    """``font.key()``, memoized per font object (the preview fonts are long-lived)."""
    entry = _FONT_KEYS.get(id(font))
    if entry is None or entry[0] is not font:
        if len(_FONT_KEYS) > 512:
            _FONT_KEYS.clear()
        entry = (font, font.key())
        _FONT_KEYS[id(font)] = entry
    return entry[1]


@lru_cache(maxsize=256)
def text_width(text: str, font_key: str) -> float:
    """Advance of a short label (timestamps, separators), cached."""
    return QFontMetricsF(_FONTS[font_key]).horizontalAdvance(text)


def label_width(text: str, font: QFont) -> float:
    key = font_key(font)
    if key not in _FONTS:
        _FONTS[key] = QFont(font)
    return text_width(text, key)


@lru_cache(maxsize=2048)
def _layout_cached(text: str, font_key: str, box: TextBox) -> TextLayoutResult:
    font = _FONTS[font_key]
    metrics = QFontMetricsF(font)
    clean = text.replace("\r", " ").replace("\n", _LINE_SEPARATOR)
    rtl = is_rtl(clean)
    # Lines past the first hidden one change nothing shown: stop there (keeps long bodies cheap).
    raw, widths = _break_lines(clean, font, box, rtl, limit=box.max_lines + 1)
    common: dict[str, Any] = {
        "source": text,
        "rtl": rtl,
        "line_height": metrics.lineSpacing(),
        "ascent": metrics.ascent(),
    }
    if not clean.strip() or box.max_lines <= 0:
        return TextLayoutResult(
            lines=(),
            needed_lines=len(raw),
            truncated=bool(clean.strip()),
            cut=0 if clean.strip() else len(text),
            **common,
        )
    shown: list[ShownLine] = []
    for index, (start, end) in enumerate(raw[: box.max_lines]):
        piece = clean[start:end].rstrip(" " + _LINE_SEPARATOR)
        # QTextLine already measured the line: no second shaping pass per keystroke
        shown.append(ShownLine(piece, start, end, widths[index], box.line_width(index)))
    if len(raw) <= box.max_lines:
        return TextLayoutResult(
            lines=tuple(shown), needed_lines=len(raw), truncated=False, cut=len(text), **common
        )
    # The cut line plus the next one is more than fits: no need to elide the whole rest.
    last = _elide(
        clean[: raw[box.max_lines][1]],
        raw[box.max_lines - 1][0],
        metrics,
        box.line_width(box.max_lines - 1),
    )
    shown[-1] = last
    return TextLayoutResult(
        lines=tuple(shown),
        needed_lines=len(raw),
        truncated=True,
        cut=last.end,
        reach=_settled_reach(clean, raw[box.max_lines][1]),
        **common,
    )


# Characters whose bidi class is R, AL or AN, or an explicit embedding, override or isolate
# (every such code point lies in these ranges; tests check it against unicodedata).
_RTL_OR_EXPLICIT = re.compile(
    "[\u0590-\u08ff\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufeff"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _settled_reach(clean: str, end: int) -> int:
    """How many leading characters decide a cut layout whose first hidden line ends at
    ``end``: through that line and one character more (the break after it and any
    shaping across it), or -1 when later text could still change the earlier lines.

    That is when the paragraph's direction or bidi levels are not settled by the prefix:
    it must start (first strong character) left-to-right and hold nothing right-to-left or
    explicit, so its levels are all 0 whatever follows. Right-to-left text always re-lays.
    """
    reach = end + 1
    if reach > len(clean):
        return -1
    prefix = clean[:reach]
    if _RTL_OR_EXPLICIT.search(prefix):
        return -1
    for char in prefix:
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return reach
    return -1  # no strong character yet: the direction comes from later text


def _break_lines(
    text: str, font: QFont, box: TextBox, rtl: bool, limit: int
) -> tuple[list[tuple[int, int]], list[float]]:
    """(start, end) source ranges of every line ``text`` needs in ``box``, and their widths."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    option.setTextDirection(
        Qt.LayoutDirection.RightToLeft if rtl else Qt.LayoutDirection.LeftToRight
    )
    layout.setTextOption(option)
    layout.setCacheEnabled(False)
    ranges: list[tuple[int, int]] = []
    widths: list[float] = []
    layout.beginLayout()
    while len(ranges) < max(1, limit):
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(box.line_width(len(ranges)))
        ranges.append((line.textStart(), line.textStart() + line.textLength()))
        widths.append(line.naturalTextWidth())
    layout.endLayout()
    return _to_python_indices(text, ranges), widths


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _to_python_indices(text: str, ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Map Qt's UTF-16 offsets to Python string indices (they differ past U+FFFF, e.g. emoji)."""
    astral = [m.start() for m in _ASTRAL.finditer(text)]
    if not astral:
        return ranges
    # UTF-16 offset where each astral character starts: its index plus the astral chars before it
    starts = [index + n for n, index in enumerate(astral)]

    def convert(unit: int) -> int:
        return unit - bisect.bisect_left(starts, unit)

    return [(convert(start), convert(end)) for start, end in ranges]


def _elide(text: str, start: int, metrics: QFontMetricsF, width: float) -> ShownLine:
    """The cut line: everything from ``start`` elided to ``width`` with a trailing ellipsis."""
    segment = text[start:]
    hard_break = segment.find(_LINE_SEPARATOR)
    if hard_break != -1:  # the paragraph ends on this line; the cut is at the hard break
        segment = segment[:hard_break]
    if metrics.horizontalAdvance(segment + ELLIPSIS) <= width:
        prefix = segment
    else:
        elided = metrics.elidedText(segment, Qt.TextElideMode.ElideRight, width)
        prefix = elided[:-1] if elided.endswith(ELLIPSIS) else elided
    prefix = prefix.rstrip()
    drawn = prefix + ELLIPSIS
    return ShownLine(drawn, start, start + len(prefix), metrics.horizontalAdvance(drawn), width)


@dataclass(frozen=True)
class Heuristic:
    """A published character limit: a rule of thumb, never the measurement itself."""

    title_chars: int | None
    body_chars: int | None
    source: str

    def describe(self) -> str:
        parts = []
        if self.title_chars:
            parts.append(f"title ≈{self.title_chars}")
        if self.body_chars:
            parts.append(f"body ≈{self.body_chars}")
        return f"Heuristic ({self.source}): " + ", ".join(parts) + " chars" if parts else ""

    def over(self, title: str, body: str) -> list[str]:
        """Which fields are longer than the heuristic (for a warning beside the preview)."""
        found = []
        if self.title_chars and len(title) > self.title_chars:
            found.append("title")
        if self.body_chars and len(body) > self.body_chars:
            found.append("body")
        return found
