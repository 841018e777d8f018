"""iOS 17/18 preview states: lock screen, banner, Notification Center, expanded, badge,
grouped stack, Time Sensitive / Critical and category actions.

Geometry is an iPhone 15 (393 pt wide, notification cards 361 pt with 16 pt margins),
at 1 logical pixel per point. Inter stands in for SF Pro.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import base
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec
from pushdeck.app.previews.layout import Heuristic, TextBox, label_width, layout_text
from pushdeck.core.common.model import InterruptionLevel
from pushdeck.core.messages.payloads import needs_service_extension

W, CARD_X, CARD_W, PAD, ICON, LINE = 393, 16, 361, 14, 38, 20.0
TEXT_X = PAD + ICON + 10
TEXT_W = CARD_W - TEXT_X - PAD
THUMB = 38
SEMI = QFont.Weight.DemiBold


@cache  # shared, like preview_font's fonts: callers only read it
def _fonts() -> dict[str, QFont]:
    return {
        "title": preview_font(FontRole.APPLE, 15, SEMI),
        "body": preview_font(FontRole.APPLE, 15),
        "time": preview_font(FontRole.APPLE, 13),
        "label": preview_font(FontRole.APPLE, 12, SEMI),
        "action": preview_font(FontRole.APPLE, 16),
        "small": preview_font(FontRole.APPLE, 11),
    }


def _colors(dark: bool) -> dict[str, QColor]:
    if dark:
        return {
            "card": QColor(38, 38, 42, 215),
            "text": QColor("#ffffff"),
            "secondary": QColor(235, 235, 245, 150),
            "menu": QColor(44, 44, 46, 240),
            "sep": QColor(84, 84, 88, 160),
            "wall": QColor("#141a33"),
            "wall2": QColor("#3b1d4a"),
        }
    return {
        "card": QColor(250, 250, 252, 205),
        "text": QColor("#000000"),
        "secondary": QColor(60, 60, 67, 160),
        "menu": QColor(242, 242, 247, 245),
        "sep": QColor(60, 60, 67, 70),
        "wall": QColor("#8ec5fc"),
        "wall2": QColor("#e0c3fc"),
    }


def _title_text(ctx: RenderContext) -> str:
    m = ctx.message
    return m.title or (f"⟨{m.title_loc_key}⟩" if m.title_loc_key else "")


def _body_text(ctx: RenderContext) -> str:
    m = ctx.message
    return m.body or (f"⟨{m.body_loc_key}⟩" if m.body_loc_key else "")


#: Shown on the iOS cards when the image depends on an extension the app has not declared.
NSE_NOTE = (
    "Image: iOS shows it only through the app's Notification Service Extension, which "
    "this app has not declared (pushdeck apps update --has-nse)"
)


def _notes(ctx: RenderContext) -> tuple[str, ...]:
    m = ctx.message
    notes = []
    if not ctx.has_service_extension and needs_service_extension(m):
        notes.append(NSE_NOTE)
    if m.mutable_content:
        notes.append("mutable-content: the app's service extension may rewrite what is shown")
    if m.title_loc_key or m.body_loc_key:
        notes.append("⟨key⟩ = localized on the device from the app's strings")
    return tuple(notes)


def level_header(ctx: RenderContext, force: bool = False) -> str:
    """iOS 15+ labels Time Sensitive and Critical notifications above the title."""
    level = ctx.message.interruption_level
    if level is InterruptionLevel.CRITICAL:
        return "CRITICAL"
    if level is InterruptionLevel.TIME_SENSITIVE or force:
        return "TIME SENSITIVE"
    return ""


def measure_card(
    ctx: RenderContext,
    body_lines: int,
    *,
    width: float = TEXT_W,
    thumb: bool = True,
    header_line: bool | None = None,
) -> Measured:
    """Title (1 line), subtitle (1 line) and body (``body_lines``) of a standard iOS card.

    The timestamp takes room from the first line (the header line when Time Sensitive);
    an image attachment's thumbnail takes room from every body line.
    """
    f = _fonts()
    header = level_header(ctx, force=bool(header_line)) if header_line is not False else ""
    header_line = bool(header)
    stamp = base_time_width(ctx, f["time"]) + 8
    title = _title_text(ctx)
    has_thumb = thumb and bool(ctx.message.image_url)
    thumb_room: tuple[float, ...] = (THUMB + 10.0,) * body_lines if has_thumb else ()
    # With a header line the timestamp sits on it, but a thumbnail still narrows the title.
    title_reserve = ((THUMB + 10,) if has_thumb else ()) if header_line else (stamp,)
    blocks = {"title": layout_text(title, f["title"], TextBox(width, 1, title_reserve))}
    blocks["subtitle"] = layout_text(ctx.message.subtitle, f["title"], TextBox(width, 1))
    body_reserve = thumb_room
    if not title and not ctx.message.subtitle and not header_line:
        first = stamp + (thumb_room[0] if thumb_room else 0)
        body_reserve = (first, *thumb_room[1:])
    blocks["body"] = layout_text(
        _body_text(ctx), f["body"], TextBox(width, body_lines, body_reserve)
    )
    return Measured(blocks, _notes(ctx), header)


def base_time_width(ctx: RenderContext, font: QFont) -> float:
    return label_width(ctx.time_label, font)


def _card_height(meas: Measured) -> float:
    b = meas.blocks
    lines = len(b["title"].lines) + len(b["subtitle"].lines) + len(b["body"].lines)
    lines += int(bool(meas.header))
    return max(ICON + 2 * 12, lines * LINE + 2 * 12)


def paint_card(
    p: QPainter,
    ctx: RenderContext,
    meas: Measured,
    y: float,
    *,
    opaque: bool = False,
) -> float:
    """Draw a standard card at ``y``; return its bottom."""
    c, f = _colors(ctx.dark), _fonts()
    header = meas.header
    header_color = QColor("#FF453A") if header == "CRITICAL" else None
    height = _card_height(meas)
    rect = QRectF(CARD_X, y, CARD_W, height)
    fill = QColor(c["card"])
    if opaque:
        fill.setAlpha(245)
    base.rounded(p, rect, 22, fill)
    icon = QRectF(rect.x() + PAD, rect.center().y() - ICON / 2, ICON, ICON)
    base.app_icon(p, icon)
    if ctx.message.interruption_level is InterruptionLevel.CRITICAL and header:
        _critical_mark(p, icon)
    x, ty = rect.x() + TEXT_X, y + 12
    stamp = QRectF(rect.right() - PAD - 80, ty, 80, LINE)
    base.draw_single(
        p, ctx.time_label, f["time"], c["secondary"], stamp, Qt.AlignmentFlag.AlignRight
    )
    if header:
        base.draw_single(
            p, header, f["label"], header_color or c["secondary"], QRectF(x, ty, TEXT_W, LINE)
        )
        ty += LINE
    ty = base.draw_block(p, meas.blocks["title"], f["title"], c["text"], x, ty, line_height=LINE)
    ty = base.draw_block(p, meas.blocks["subtitle"], f["title"], c["text"], x, ty, line_height=LINE)
    base.draw_block(p, meas.blocks["body"], f["body"], c["text"], x, ty, line_height=LINE)
    if ctx.message.image_url:
        thumb = QRectF(
            rect.right() - PAD - THUMB,
            max(rect.center().y() - THUMB / 2 + 6, y + 12 + LINE),
            THUMB,
            THUMB,
        )
        base.image_box(p, thumb, 7, ctx, ctx.message.image_url, ctx.dark, f["small"])
    return rect.bottom()


def _critical_mark(p: QPainter, icon: QRectF) -> None:
    mark = QRectF(icon.right() - 12, icon.bottom() - 12, 16, 16)
    base.rounded(p, mark, 8, QColor("#FF3B30"))
    base.draw_single(
        p,
        "!",
        preview_font(FontRole.APPLE, 12, SEMI),
        QColor("white"),
        mark,
        Qt.AlignmentFlag.AlignCenter,
    )


def _wallpaper(p: QPainter, ctx: RenderContext, h: int, dim: int = 0) -> None:
    c = _colors(ctx.dark)
    rect = QRectF(0, 0, W, max(h, 700))
    base.gradient_fill(p, rect, c["wall"], c["wall2"])
    if dim:
        p.fillRect(rect, QColor(0, 0, 0, dim))


# --- states ---------------------------------------------------------------------------


def _lock_measure(ctx: RenderContext) -> Measured:
    return measure_card(ctx, 4)


def _lock_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 190)
    f = preview_font(FontRole.APPLE, 12, SEMI)
    base.draw_single(
        p,
        "Tuesday 9 June  ·  9:41",
        f,
        QColor("white"),
        QRectF(0, 4, W, 18),
        Qt.AlignmentFlag.AlignCenter,
    )
    paint_card(p, ctx, meas, 28)


def _banner_measure(ctx: RenderContext) -> Measured:
    return measure_card(ctx, 2)


def _banner_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 140)
    for i in range(4):  # the home screen under the banner
        base.rounded(p, QRectF(27 + i * 93, 96, 60, 60), 13, QColor(255, 255, 255, 60))
    paint_card(p, ctx, meas, 12, opaque=True)


def _nc_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 210, dim=70)
    f = preview_font(FontRole.APPLE, 20, QFont.Weight.Bold)
    base.draw_single(p, "Notification Center", f, QColor("white"), QRectF(CARD_X + 4, 8, 300, 28))
    paint_card(p, ctx, meas, 46)


def _expanded_measure(ctx: RenderContext) -> Measured:
    return measure_card(ctx, 7, width=CARD_W - 2 * PAD, thumb=False, header_line=False)


def _expanded_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    c, f = _colors(ctx.dark), _fonts()
    _wallpaper(p, ctx, 600, dim=110)
    b = meas.blocks
    img_h = CARD_W / 2 if ctx.message.image_url else 0
    lines = len(b["title"].lines) + len(b["subtitle"].lines) + len(b["body"].lines)
    rect = QRectF(CARD_X, 16, CARD_W, img_h + lines * LINE + 2 * PAD)
    base.rounded(p, rect, 22, QColor(c["card"].red(), c["card"].green(), c["card"].blue(), 245))
    if img_h:
        path = QPainterPath()
        path.addRoundedRect(rect, 22, 22)
        p.save()
        p.setClipPath(path)
        base.image_box(
            p,
            QRectF(rect.x(), rect.y(), CARD_W, img_h),
            0,
            ctx,
            ctx.message.image_url,
            ctx.dark,
            f["small"],
        )
        p.restore()
    x, y = rect.x() + PAD, rect.y() + img_h + PAD
    base.draw_single(
        p,
        ctx.time_label,
        f["time"],
        c["secondary"],
        QRectF(rect.right() - PAD - 80, y, 80, LINE),
        Qt.AlignmentFlag.AlignRight,
    )
    y = base.draw_block(p, b["title"], f["title"], c["text"], x, y, line_height=LINE)
    y = base.draw_block(p, b["subtitle"], f["title"], c["text"], x, y, line_height=LINE)
    base.draw_block(p, b["body"], f["body"], c["text"], x, y, line_height=LINE)
    _action_menu(p, ctx, rect.bottom() + 10)


def _action_menu(p: QPainter, ctx: RenderContext, y: float) -> float:
    c, f = _colors(ctx.dark), _fonts()
    actions = ctx.message.actions
    if not actions:
        return y
    row = 44
    rect = QRectF(CARD_X, y, 250, row * len(actions))
    base.rounded(p, rect, 13, c["menu"])
    for i, action in enumerate(actions):
        r = QRectF(rect.x() + 16, y + i * row, rect.width() - 32, row)
        color = QColor("#FF3B30") if action.destructive else c["text"]
        base.draw_single(p, _elide(action.title, f["action"], r.width()), f["action"], color, r)
        if i:
            p.setPen(c["sep"])
            p.drawLine(QPointF(rect.x(), y + i * row), QPointF(rect.right(), y + i * row))
    return rect.bottom()


def _actions_measure(ctx: RenderContext) -> Measured:
    return measure_card(ctx, 4)


def _actions_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 420, dim=110)
    bottom = paint_card(p, ctx, meas, 16, opaque=True)
    if not ctx.message.actions:
        base.notice(
            p,
            QRectF(CARD_X, bottom + 12, CARD_W, 70),
            "No actions: long-press shows only the notification. Add actions (iOS category).",
            ctx.dark,
            _fonts()["time"],
        )
    else:
        _action_menu(p, ctx, bottom + 10)


def _badge_measure(ctx: RenderContext) -> Measured:
    notes = {
        None: "badge not set: iOS leaves the icon's badge as it is",
        0: "badge 0 clears the icon's badge",
    }
    return Measured({}, (notes.get(ctx.message.badge, f"badge {ctx.message.badge}"),))


def _badge_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 120)
    names = [ctx.app_name, "Photos", "Mail", "Weather"]
    label_font = preview_font(FontRole.APPLE, 12)
    for i, name in enumerate(names):
        icon = QRectF(27 + i * 93, 20, 60, 60)
        if i == 0:
            base.app_icon(p, icon)
        else:
            base.rounded(p, icon, 13.5, QColor(255, 255, 255, 90))
        elided = _elide(name, label_font, 84)
        base.draw_single(
            p,
            elided,
            label_font,
            QColor("white"),
            QRectF(icon.x() - 12, 84, 84, 16),
            Qt.AlignmentFlag.AlignCenter,
        )
    badge = ctx.message.badge
    if badge:
        base.badge_circle(
            p, QPointF(27 + 60 - 4, 22), str(badge), preview_font(FontRole.APPLE, 14, SEMI)
        )


def _elide(text: str, font: QFont, width: float) -> str:
    from PySide6.QtGui import QFontMetricsF

    return QFontMetricsF(font).elidedText(text, Qt.TextElideMode.ElideRight, width)


def _stack_measure(ctx: RenderContext) -> Measured:
    meas = measure_card(ctx, 4)
    tid = ctx.message.thread_id
    note = (
        f"thread-id “{tid}”: grouped with earlier notifications of the same thread"
        if tid
        else "no thread-id: iOS groups this with all of the app's notifications"
    )
    return Measured(meas.blocks, (*meas.notes, note), meas.header)


def _stack_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    c = _colors(ctx.dark)
    _wallpaper(p, ctx, 200)
    height = _card_height(meas)
    for inset, dy, alpha in ((24, 16, 110), (12, 8, 160)):
        behind = QColor(c["card"])
        behind.setAlpha(alpha)
        base.rounded(
            p, QRectF(CARD_X + inset, 16 + height - 40 + dy, CARD_W - 2 * inset, 40), 18, behind
        )
    paint_card(p, ctx, meas, 16, opaque=True)


def _ts_measure(ctx: RenderContext) -> Measured:
    meas = measure_card(ctx, 4, header_line=True)
    level = ctx.message.interruption_level
    notes = list(meas.notes)
    if level not in (InterruptionLevel.TIME_SENSITIVE, InterruptionLevel.CRITICAL):
        notes.append(f"How it would look as Time Sensitive (this message: {level or 'active'})")
    return Measured(meas.blocks, tuple(notes), meas.header)


def _ts_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    _wallpaper(p, ctx, 190)
    paint_card(p, ctx, meas, 16)


def _expanded_height(ctx: RenderContext, meas: Measured) -> float:
    b = meas.blocks
    img_h = CARD_W / 2 if ctx.message.image_url else 0
    lines = len(b["title"].lines) + len(b["subtitle"].lines) + len(b["body"].lines)
    return 16 + img_h + lines * LINE + 2 * PAD + _menu_height(ctx) + 16


def _menu_height(ctx: RenderContext) -> float:
    return 10 + 44 * len(ctx.message.actions) if ctx.message.actions else 0


def _actions_height(ctx: RenderContext, meas: Measured) -> float:
    return 16 + _card_height(meas) + (_menu_height(ctx) if ctx.message.actions else 82) + 16


def _card_canvas(top: float) -> Callable[[RenderContext, Measured], float]:
    return lambda ctx, meas: top + _card_height(meas) + 16


def _ts_height(ctx: RenderContext, meas: Measured) -> float:
    return 16 + _card_height(meas) + 16


_LOCK = Heuristic(35, 160, "Braze, text only; 130 with an image")
STATES: tuple[StateSpec, ...] = (
    StateSpec(
        "ios.lock",
        "iOS",
        "Lock screen",
        W,
        190,
        _LOCK,
        _lock_measure,
        _lock_paint,
        height_fn=_card_canvas(28),
    ),
    StateSpec(
        "ios.banner",
        "iOS",
        "Banner (unlocked)",
        W,
        140,
        Heuristic(35, 80, "Braze"),
        _banner_measure,
        _banner_paint,
    ),
    StateSpec(
        "ios.nc",
        "iOS",
        "Notification Center",
        W,
        210,
        _LOCK,
        _lock_measure,
        _nc_paint,
        height_fn=_card_canvas(46),
    ),
    StateSpec(
        "ios.expanded",
        "iOS",
        "Expanded (long-press, image)",
        W,
        600,
        Heuristic(35, None, "Braze: 7 body lines"),
        _expanded_measure,
        _expanded_paint,
        height_fn=_expanded_height,
    ),
    StateSpec(
        "ios.stack",
        "iOS",
        "Grouped stack",
        W,
        200,
        _LOCK,
        _stack_measure,
        _stack_paint,
        height_fn=_card_canvas(32),
    ),
    StateSpec(
        "ios.timesensitive",
        "iOS",
        "Time Sensitive / Critical",
        W,
        190,
        Heuristic(39, 160, "Braze: title on its own line"),
        _ts_measure,
        _ts_paint,
        height_fn=_ts_height,
    ),
    StateSpec(
        "ios.actions",
        "iOS",
        "Category actions",
        W,
        420,
        None,
        _actions_measure,
        _actions_paint,
        height_fn=_actions_height,
    ),
    StateSpec("ios.badge", "iOS", "App icon badge", W, 120, None, _badge_measure, _badge_paint),
)
