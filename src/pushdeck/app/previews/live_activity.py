"""Live Activity previews: the Lock Screen and the Dynamic Island (compact, minimal, expanded).

A Live Activity's look is the app's own SwiftUI, which Pushdeck cannot know: these states
draw the *content-state keys and values* in the regions iOS gives an activity, so a user
sees what the push changes, where. Every card says it is an approximation.

Geometry is an iPhone 15 Pro (393 pt wide; the Dynamic Island is 126 × 37 pt at rest, the
expanded island 371 pt wide), 1 logical pixel per point, Inter standing in for SF Pro.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import base
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec
from pushdeck.app.previews.layout import TextBox, layout_text
from pushdeck.core.common.errors import PushdeckError
from pushdeck.core.common.model import LiveActivityEvent
from pushdeck.core.messages.payloads.live_activity import build_live_activity_aps

#: The grid's columns (headings) in the Live Activity tab; platform_text maps both to iOS.
LOCK_GROUP, ISLAND_GROUP = "Lock Screen", "Dynamic Island"
APPROXIMATION = "Approximation: the layout is the app's own; Pushdeck shows the content-state keys"
W, CARD_X, CARD_W, PAD = 393, 16, 361, 14
ISLAND_W, ISLAND_H = 126, 37  # the island at rest, around the TrueDepth camera
EXPANDED_W = 371
LOCK_COLUMNS = 4  # key/value pairs side by side on the Lock Screen
SEMI = QFont.Weight.DemiBold


@cache  # shared, like preview_font's fonts: callers only read them
def _fonts() -> dict[str, QFont]:
    return {
        "value": preview_font(FontRole.APPLE, 20, SEMI),
        "compact": preview_font(FontRole.APPLE, 14, SEMI),
        "key": preview_font(FontRole.APPLE, 11),
        "title": preview_font(FontRole.APPLE, 15, SEMI),
        "body": preview_font(FontRole.APPLE, 14),
        "small": preview_font(FontRole.APPLE, 12),
        "label": preview_font(FontRole.APPLE, 12, SEMI),
    }


def _colors(dark: bool) -> dict[str, QColor]:
    if dark:
        return {
            "wall": QColor("#141a33"),
            "wall2": QColor("#3b1d4a"),
            "card": QColor(28, 28, 30, 225),
        }
    return {"wall": QColor("#8ec5fc"), "wall2": QColor("#e0c3fc"), "card": QColor(28, 28, 30, 200)}


WHITE = QColor("#ffffff")
SECONDARY = QColor(235, 235, 245, 160)
ACCENT = QColor("#30d158")  # the system green many activities tint with


# --- what is shown ----------------------------------------------------------------------


def value_text(value: Any) -> str:
    """A content-state value as a short label: scalars as they are, the rest as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def pairs(ctx: RenderContext) -> list[tuple[str, str]]:
    """The content-state's (key, value) pairs in the order the JSON gives them."""
    return [(str(k), value_text(v)) for k, v in ctx.message.content_state.items()]


def _heading(ctx: RenderContext) -> str:
    m = ctx.message
    return m.activity_attributes_type or ctx.app_name


def _status(ctx: RenderContext) -> str:
    """The line under the Lock Screen presentation: the event and its dates."""
    m = ctx.message
    event = m.live_activity_event
    parts = []
    if event is LiveActivityEvent.START:
        parts.append("Started by push")
    elif event is LiveActivityEvent.END:
        parts.append("Ended")
        if m.dismissal_date is not None:
            parts.append(f"leaves the Lock Screen {_when(m.dismissal_date)}")
        else:
            parts.append("stays up to 4 hours")
    else:
        parts.append("Updated now")
    if m.stale_date is not None:
        parts.append(f"stale after {_when(m.stale_date)}")
    return " · ".join(parts)


def _when(seconds: int) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%d %b %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return f"{seconds} (not a date)"


def _problem(ctx: RenderContext) -> str:
    """Why this Live Activity push would be refused, or ""."""
    try:
        build_live_activity_aps(ctx.message, 0)
    except PushdeckError as exc:
        return str(exc)
    return ""


def _measure(ctx: RenderContext, *notes: str, alert_note: bool = False) -> Measured:
    """The optional alert's title and body (1 + 2 lines), and the card's notes."""
    f = _fonts()
    m = ctx.message
    blocks = {
        "alert_title": layout_text(m.title, f["title"], TextBox(CARD_W - 2 * PAD, 1)),
        "alert_body": layout_text(m.body, f["body"], TextBox(CARD_W - 2 * PAD, 2)),
    }
    all_notes = [APPROXIMATION, *notes]
    if not m.content_state:
        all_notes.append("No content-state: the activity keeps showing its last one")
    if alert_note and (m.title or m.body):
        all_notes.append(
            "With an alert: the device lights up; on an iPhone with a Dynamic Island the "
            "activity shows expanded, on others as a Lock Screen banner"
        )
    problem = _problem(ctx)
    if problem:
        all_notes.append(f"Not sendable yet: {problem}")
    return Measured(blocks, tuple(all_notes))


def _wallpaper(p: QPainter, ctx: RenderContext, height: float) -> None:
    c = _colors(ctx.dark)
    base.gradient_fill(p, QRectF(0, 0, W, max(height, 400)), c["wall"], c["wall2"])


def _elide(text: str, font: QFont, width: float) -> str:
    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


def _cell(p: QPainter, rect: QRectF, key: str, value: str, align: Qt.AlignmentFlag) -> None:
    """A value (large) over its key (small), elided to the cell."""
    f = _fonts()
    value_rect = QRectF(rect.x(), rect.y(), rect.width(), 26)
    key_rect = QRectF(rect.x(), rect.y() + 26, rect.width(), 16)
    base.draw_single(
        p, _elide(value, f["value"], rect.width()), f["value"], WHITE, value_rect, align
    )
    base.draw_single(p, _elide(key, f["key"], rect.width()), f["key"], SECONDARY, key_rect, align)


# --- Lock Screen --------------------------------------------------------------------------


def _lock_measure(ctx: RenderContext) -> Measured:
    extra = len(pairs(ctx)) - LOCK_COLUMNS
    notes = [f"+{extra} more content-state keys not drawn"] if extra > 0 else []
    return _measure(ctx, *notes, alert_note=True)


def _alert_height(meas: Measured) -> float:
    lines = len(meas.blocks["alert_title"].lines) + len(meas.blocks["alert_body"].lines)
    return lines * 19 + (8 if lines else 0)


def _lock_card_height(meas: Measured) -> float:
    return PAD + 24 + 10 + 44 + 10 + 18 + _alert_height(meas) + PAD


def _lock_height(ctx: RenderContext, meas: Measured) -> float:
    return 40 + _lock_card_height(meas) + 20


def _lock_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    f = _fonts()
    _wallpaper(p, ctx, _lock_height(ctx, meas))
    base.draw_single(
        p,
        "Tuesday 9 June  ·  9:41",
        f["label"],
        WHITE,
        QRectF(0, 8, W, 18),
        Qt.AlignmentFlag.AlignCenter,
    )
    card = QRectF(CARD_X, 40, CARD_W, _lock_card_height(meas))
    base.rounded(p, card, 22, _colors(ctx.dark)["card"])
    x, y, inner = card.x() + PAD, card.y() + PAD, CARD_W - 2 * PAD
    base.app_icon(p, QRectF(x, y, 24, 24))
    base.draw_single(p, _heading(ctx), f["label"], WHITE, QRectF(x + 32, y, inner - 32, 24))
    y += 24 + 10
    shown = pairs(ctx)[:LOCK_COLUMNS]
    if shown:
        width = inner / len(shown)
        for i, (key, value) in enumerate(shown):
            _cell(
                p, QRectF(x + i * width, y, width - 8, 44), key, value, Qt.AlignmentFlag.AlignLeft
            )
    else:
        base.draw_single(
            p, "(content-state unchanged)", f["body"], SECONDARY, QRectF(x, y, inner, 44)
        )
    y += 44 + 10
    status_color = (
        ACCENT if ctx.message.live_activity_event is not LiveActivityEvent.END else SECONDARY
    )
    base.draw_single(p, _status(ctx), f["small"], status_color, QRectF(x, y, inner, 18))
    y += 18
    if _alert_height(meas):
        y += 8
        y = base.draw_block(p, meas.blocks["alert_title"], f["title"], WHITE, x, y, line_height=19)
        base.draw_block(p, meas.blocks["alert_body"], f["body"], WHITE, x, y, line_height=19)


# --- Dynamic Island -----------------------------------------------------------------------


def _island_backdrop(p: QPainter, ctx: RenderContext, height: float) -> None:
    f = _fonts()
    _wallpaper(p, ctx, height)
    base.draw_single(p, "9:41", f["label"], WHITE, QRectF(28, 16, 60, 20))
    base.draw_single(
        p, "100%", f["small"], WHITE, QRectF(W - 100, 16, 72, 20), Qt.AlignmentFlag.AlignRight
    )


def _compact_measure(ctx: RenderContext) -> Measured:
    return _measure(ctx, "Compact: the first key leads, the second trails the camera")


def _compact_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    f = _fonts()
    _island_backdrop(p, ctx, 90)
    shown = pairs(ctx)
    leading = shown[0][1] if shown else ""
    trailing = shown[1][1] if len(shown) > 1 else ""
    side = 64.0  # room each side of the camera
    pill = QRectF((W - ISLAND_W) / 2 - side, 8, ISLAND_W + 2 * side, ISLAND_H)
    base.rounded(p, pill, ISLAND_H / 2, QColor("black"))
    lead = QRectF(pill.x() + 12, pill.y(), side - 4, ISLAND_H)
    trail = QRectF(pill.right() - 12 - (side - 4), pill.y(), side - 4, ISLAND_H)
    base.draw_single(p, _elide(leading, f["compact"], lead.width()), f["compact"], WHITE, lead)
    base.draw_single(
        p,
        _elide(trailing, f["compact"], trail.width()),
        f["compact"],
        ACCENT,
        trail,
        Qt.AlignmentFlag.AlignRight,
    )
    _camera(p, pill)


def _camera(p: QPainter, pill: QRectF) -> None:
    lens = QRectF(pill.center().x() + 30, pill.center().y() - 6, 12, 12)
    base.rounded(p, lens, 6, QColor("#1c1c2e"))


def _minimal_measure(ctx: RenderContext) -> Measured:
    return _measure(ctx, "Minimal: shown when another activity takes the island; the first value")


def _minimal_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    f = _fonts()
    _island_backdrop(p, ctx, 90)
    shown = pairs(ctx)
    other = QRectF((W - ISLAND_W) / 2 - 30, 8, ISLAND_W + 30, ISLAND_H)
    base.rounded(p, other, ISLAND_H / 2, QColor("black"))
    _camera(p, other)
    dot = QRectF(other.right() + 6, 8, ISLAND_H, ISLAND_H)
    base.rounded(p, dot, ISLAND_H / 2, QColor("black"))
    value = shown[0][1] if shown else ""
    base.draw_single(
        p,
        _elide(value, f["key"], ISLAND_H - 6),
        f["key"],
        ACCENT,
        dot.adjusted(3, 0, -3, 0),
        Qt.AlignmentFlag.AlignCenter,
    )
    base.draw_single(
        p,
        "another app's activity",
        f["small"],
        QColor(255, 255, 255, 220),
        QRectF(other.x(), other.bottom() + 6, other.width(), 16),
        Qt.AlignmentFlag.AlignCenter,
    )


def _expanded_measure(ctx: RenderContext) -> Measured:
    extra = len(pairs(ctx)) - 5
    notes = [f"+{extra} more content-state keys not drawn"] if extra > 0 else []
    return _measure(ctx, "Expanded: on a long press or with an alert", *notes)


def _expanded_box_height(meas: Measured) -> float:
    return 12 + 44 + 8 + 44 + _alert_height(meas) + 14


def _expanded_height(ctx: RenderContext, meas: Measured) -> float:
    return 8 + _expanded_box_height(meas) + 16


def _expanded_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    f = _fonts()
    _island_backdrop(p, ctx, _expanded_height(ctx, meas))
    box = QRectF((W - EXPANDED_W) / 2, 8, EXPANDED_W, _expanded_box_height(meas))
    base.rounded(p, box, 44, QColor("black"))
    shown = pairs(ctx)
    x, y, inner = box.x() + 22, box.y() + 12, EXPANDED_W - 44
    side = 110.0
    if shown:
        _cell(p, QRectF(x, y, side, 44), *shown[0], Qt.AlignmentFlag.AlignLeft)
    if len(shown) > 1:
        _cell(p, QRectF(x + inner - side, y, side, 44), *shown[1], Qt.AlignmentFlag.AlignRight)
    center = QRectF(x + side, y, inner - 2 * side, 24)
    base.draw_single(
        p,
        _elide(_heading(ctx), f["label"], center.width()),
        f["label"],
        SECONDARY,
        center,
        Qt.AlignmentFlag.AlignCenter,
    )
    y += 44 + 8
    bottom = shown[2:5]
    if bottom:
        width = inner / len(bottom)
        for i, (key, value) in enumerate(bottom):
            _cell(
                p, QRectF(x + i * width, y, width - 8, 44), key, value, Qt.AlignmentFlag.AlignLeft
            )
    else:
        base.draw_single(p, _status(ctx), f["small"], SECONDARY, QRectF(x, y, inner, 44))
    y += 44
    if _alert_height(meas):
        y += 8
        y = base.draw_block(p, meas.blocks["alert_title"], f["title"], WHITE, x, y, line_height=19)
        base.draw_block(p, meas.blocks["alert_body"], f["body"], WHITE, x, y, line_height=19)


STATES: tuple[StateSpec, ...] = (
    StateSpec(
        "la.lock",
        LOCK_GROUP,
        "Live Activity",
        W,
        200,
        None,
        _lock_measure,
        _lock_paint,
        height_fn=_lock_height,
        draws_silent=True,
    ),
    StateSpec(
        "la.compact",
        ISLAND_GROUP,
        "compact",
        W,
        64,
        None,
        _compact_measure,
        _compact_paint,
        draws_silent=True,
    ),
    StateSpec(
        "la.minimal",
        ISLAND_GROUP,
        "minimal",
        W,
        76,
        None,
        _minimal_measure,
        _minimal_paint,
        draws_silent=True,
    ),
    StateSpec(
        "la.expanded",
        ISLAND_GROUP,
        "expanded",
        W,
        160,
        None,
        _expanded_measure,
        _expanded_paint,
        height_fn=_expanded_height,
        draws_silent=True,
    ),
)
