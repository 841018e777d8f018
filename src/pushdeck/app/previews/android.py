"""Android 14/15 preview states: heads-up, shade collapsed, expanded BigText / BigPicture,
lock screen (sensitive content shown / hidden) and the launcher dot with its count.

Geometry is a Pixel (412 dp wide, shade cards 380 dp with 16 dp margins), 1 px per dp,
in Roboto. The Android 12+ template: a 40 dp icon circle at the left, text from 72 dp,
the expand button in the right column, "Title · now" on the first line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import base
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec
from pushdeck.app.previews.layout import Heuristic, TextBox, label_width, layout_text
from pushdeck.core.common.model import AndroidVisibility

W, CARD_X, CARD_W, ICON, TEXT_X, PAD_R, EXPAND_W = 412, 16, 380, 40, 72, 16, 40
LINE, LARGE_ICON = 20.0, 44
TEXT_W = CARD_W - TEXT_X - PAD_R - EXPAND_W
#: BigText line budget. Assumption: the AOSP big-text template's maxLines; not documented.
BIG_TEXT_LINES = 9
SEP = " · "


@dataclass(frozen=True)
class Card:
    """What one Android card variant shows."""

    header: bool = False  # "App · now" header line (expanded, web)
    body_lines: int = 1
    picture: bool = False
    actions: bool = False
    app: str = ""  # "" = ctx.app_name
    large_icon: str = "image"  # "image" (message image) | "web" (web icon) | ""


@cache  # shared, like preview_font's fonts: callers only read it
def _fonts() -> dict[str, QFont]:
    return {
        "title": preview_font(FontRole.ANDROID, 14, QFont.Weight.Medium),
        "body": preview_font(FontRole.ANDROID, 14),
        "meta": preview_font(FontRole.ANDROID, 12),
        "action": preview_font(FontRole.ANDROID, 14, QFont.Weight.Medium),
        "small": preview_font(FontRole.ANDROID, 11),
    }


def _colors(ctx: RenderContext) -> dict[str, QColor]:
    accent = (
        QColor(ctx.message.android_color)
        if QColor.isValidColorName(ctx.message.android_color)
        else None
    )
    if ctx.dark:
        return {
            "shade": QColor("#141218"),
            "card": QColor("#2b2930"),
            "title": QColor("#e6e0e9"),
            "body": QColor("#cac4d0"),
            "accent": accent or QColor("#d0bcff"),
            "app": QColor("#1d1b20"),
            "wall": QColor("#1f2a44"),
            "wall2": QColor("#3d2a4f"),
        }
    return {
        "shade": QColor("#e8e2ec"),
        "card": QColor("#fdf8fd"),
        "title": QColor("#1d1b20"),
        "body": QColor("#49454f"),
        "accent": accent or QColor("#6750a4"),
        "app": QColor("#ffffff"),
        "wall": QColor("#a7c7e7"),
        "wall2": QColor("#d7bde2"),
    }


def _large_icon_ref(ctx: RenderContext, card: Card) -> str:
    if card.picture:
        return ""
    return (
        ctx.message.image_url
        if card.large_icon == "image"
        else (ctx.message.web_icon if card.large_icon == "web" else "")
    )


def _meta_text(ctx: RenderContext, card: Card) -> str:
    parts = [card.app or ctx.app_name]
    if card.large_icon == "web":
        parts.append(ctx.site)
    parts.append(ctx.time_label)
    return SEP.join(parts)


def _title(ctx: RenderContext) -> str:
    m = ctx.message
    return m.title or (f"⟨{m.title_loc_key}⟩" if m.title_loc_key else "")


def _body(ctx: RenderContext) -> str:
    m = ctx.message
    return m.body or (f"⟨{m.body_loc_key}⟩" if m.body_loc_key else "")


def measure_card(ctx: RenderContext, card: Card) -> Measured:
    f = _fonts()
    right = LARGE_ICON + 8.0 if _large_icon_ref(ctx, card) else 0.0
    title_reserve = right
    if not card.header:  # "Title · now": the time follows the title on its line
        title_reserve += label_width(SEP + ctx.time_label, f["meta"])
    title, body = _title(ctx), _body(ctx)
    body_reserve: tuple[float, ...] = (right, right)
    if not title and not card.header:  # the text moves up to the "· now" row
        body_reserve = (title_reserve, right)
    blocks = {
        "title": layout_text(title, f["title"], TextBox(TEXT_W, 1, (title_reserve,))),
        "body": layout_text(body, f["body"], TextBox(TEXT_W, card.body_lines, body_reserve)),
    }
    notes = []
    if ctx.message.data:
        notes.append(
            "With the app in the foreground, the app receives this as data and "
            "decides what is shown"
        )
    return Measured(blocks, tuple(notes))


def card_height(ctx: RenderContext, meas: Measured, card: Card) -> float:
    b = meas.blocks
    lines = max(1, int(card.header) + len(b["title"].lines) + len(b["body"].lines))
    height = max(16 + lines * LINE + 16, 16 + ICON + 16)
    if card.picture and ctx.message.image_url:
        height += (CARD_W - TEXT_X - PAD_R) / 2 + 10
    if card.actions and ctx.message.actions:
        height += 40
    return height


def paint_card(
    p: QPainter, ctx: RenderContext, meas: Measured, card: Card, y: float, *, elevated: bool = False
) -> float:
    """Draw one card at ``y``; return its bottom."""
    c, f = _colors(ctx), _fonts()
    rect = QRectF(CARD_X, y, CARD_W, card_height(ctx, meas, card))
    if elevated:
        base.shadow(p, rect, 24, 60)
    base.rounded(p, rect, 24, c["card"])
    icon = QRectF(rect.x() + 16, y + 16, ICON, ICON)
    base.app_icon(
        p,
        icon,
        letter="C" if card.app == "Chrome" else "P",
        circle=True,
        colors=(c["accent"].name(), c["accent"].darker(130).name()),
    )
    _expand_button(p, QRectF(rect.right() - PAD_R - 32, y + 16, 32, 22), c, expanded=card.header)
    x, ty = rect.x() + TEXT_X, y + 16
    if card.header:
        base.draw_single(
            p, _meta_text(ctx, card), f["meta"], c["body"], QRectF(x, ty, TEXT_W, LINE)
        )
        ty += LINE
    title, body = meas.blocks["title"], meas.blocks["body"]
    if card.header:
        ty = base.draw_block(p, title, f["title"], c["title"], x, ty, line_height=LINE)
    else:  # "Title · now": the title view wraps its text, so even RTL titles sit at the start
        first = title if title.lines else body  # no title: the text takes the first row
        used = first.lines[0].width if first.lines else 0
        if title.lines:
            base.text_in(
                p,
                QRectF(x, ty, used + 1, LINE),
                title.lines[0].text,
                f["title"],
                c["title"],
                rtl=title.rtl,
            )
        meta = (SEP if first.lines else "") + ctx.time_label
        base.draw_single(p, meta, f["meta"], c["body"], QRectF(x + used, ty, 120, LINE))
        if title.lines:
            ty += LINE
    ty = base.draw_block(p, body, f["body"], c["body"], x, ty, line_height=LINE)
    ref = _large_icon_ref(ctx, card)
    if ref:
        base.image_box(
            p,
            QRectF(
                rect.right() - PAD_R - EXPAND_W - LARGE_ICON,
                y + 16 + LINE * card.header,
                LARGE_ICON,
                LARGE_ICON,
            ),
            8,
            ctx,
            ref,
            ctx.dark,
            f["small"],
        )
    if card.picture and ctx.message.image_url:
        pic_w = CARD_W - TEXT_X - PAD_R
        base.image_box(
            p,
            QRectF(x, ty + 10, pic_w, pic_w / 2),
            12,
            ctx,
            ctx.message.image_url,
            ctx.dark,
            f["meta"],
        )
        ty += pic_w / 2 + 10
    if card.actions and ctx.message.actions:
        ax, right_edge = x, rect.right() - PAD_R
        actions = ctx.message.actions[:3]  # Android shows at most three actions
        share = (right_edge - x - 24 * (len(actions) - 1)) / len(actions)
        metrics = QFontMetricsF(f["action"])
        for action in actions:
            label = metrics.elidedText(action.title, Qt.TextElideMode.ElideRight, share)
            base.draw_single(p, label, f["action"], c["accent"], QRectF(ax, ty + 10, share, 24))
            ax += metrics.horizontalAdvance(label) + 24
    return rect.bottom()


def _expand_button(p: QPainter, rect: QRectF, c: dict[str, QColor], expanded: bool) -> None:
    fill = QColor(c["body"])
    fill.setAlpha(40)
    base.rounded(p, rect, rect.height() / 2, fill)
    p.setPen(QPen(c["title"], 1.6))
    cx, cy = rect.center().x(), rect.center().y()
    d = -3 if expanded else 3
    p.drawLine(QPointF(cx - 5, cy - d / 1.5), QPointF(cx, cy + d / 1.5))
    p.drawLine(QPointF(cx, cy + d / 1.5), QPointF(cx + 5, cy - d / 1.5))


def _shade(p: QPainter, ctx: RenderContext) -> None:
    base.fill_canvas(p, _colors(ctx)["shade"])


def _wallpaper(p: QPainter, ctx: RenderContext) -> None:
    c = _colors(ctx)
    base.gradient_fill(p, QRectF(0, 0, W, 800), c["wall"], c["wall2"])


def _state(
    key: str, label: str, card: Card, heuristic: Heuristic | None, background: str, top: float = 16
) -> StateSpec:
    def measure(ctx: RenderContext) -> Measured:
        return measure_card(ctx, card)

    def paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
        if background == "app":
            c = _colors(ctx)
            base.fill_canvas(p, c["app"])
            for i in range(4):
                base.rounded(
                    p,
                    QRectF(16, top + 40 + i * 56, W - 32, 44),
                    12,
                    QColor(c["body"].red(), c["body"].green(), c["body"].blue(), 28),
                )
        else:
            _shade(p, ctx)
        paint_card(p, ctx, meas, card, top, elevated=background == "app")

    def height(ctx: RenderContext, meas: Measured) -> float:
        return top + card_height(ctx, meas, card) + 16

    return StateSpec(key, "Android", label, W, 200, heuristic, measure, paint, height_fn=height)


# --- lock screen and launcher ----------------------------------------------------------------

_LOCK_CARD = Card(body_lines=1)


def _lock_measure(ctx: RenderContext) -> Measured:
    meas = measure_card(ctx, _LOCK_CARD)
    vis = ctx.message.android_visibility or AndroidVisibility.PRIVATE
    notes = {
        AndroidVisibility.PRIVATE: "visibility private: with sensitive content hidden, "
        "the lock screen shows only the app and “Contents hidden”",
        AndroidVisibility.PUBLIC: "visibility public: full content even when sensitive "
        "content is hidden",
        AndroidVisibility.SECRET: "visibility secret: nothing on a lock screen that hides "
        "sensitive content",
    }
    return Measured(meas.blocks, (*meas.notes, notes[vis]))


def _lock_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    f = _fonts()
    _wallpaper(p, ctx)
    white = QColor("white")
    base.draw_single(p, "Sensitive content shown", f["meta"], white, QRectF(CARD_X + 8, 6, 300, 18))
    bottom = paint_card(p, ctx, meas, _LOCK_CARD, 26)
    y = bottom + 12
    base.draw_single(
        p, "Sensitive content hidden", f["meta"], white, QRectF(CARD_X + 8, y, 300, 18)
    )
    vis = ctx.message.android_visibility or AndroidVisibility.PRIVATE
    if vis is AndroidVisibility.PUBLIC:
        paint_card(p, ctx, meas, _LOCK_CARD, y + 20)
    elif vis is AndroidVisibility.SECRET:
        base.notice(
            p,
            QRectF(CARD_X, y + 20, CARD_W, 56),
            "Not shown on this lock screen (secret)",
            ctx.dark,
            f["body"],
        )
    else:
        public = Measured(
            {
                "title": layout_text(ctx.app_name, f["title"], TextBox(TEXT_W, 1, (60,))),
                "body": layout_text("Contents hidden", f["body"], TextBox(TEXT_W, 1)),
            }
        )
        paint_card(p, ctx, public, Card(body_lines=1, large_icon=""), y + 20)


def _lock_height(ctx: RenderContext, meas: Measured) -> float:
    return 26 + 2 * card_height(ctx, meas, _LOCK_CARD) + 12 + 20 + 16


def _launcher_measure(ctx: RenderContext) -> Measured:
    f = _fonts()
    count = ctx.message.badge if ctx.message.badge else 1
    blocks = {
        "title": layout_text(_title(ctx), f["title"], TextBox(220, 1)),
        "body": layout_text(_body(ctx), f["body"], TextBox(220, 1)),
    }
    return Measured(
        blocks,
        (
            f"Dot on the launcher icon; long-press shows {count} notification"
            f"{'s' if count != 1 else ''} (count from the badge number); numeric "
            "badges on the icon are launcher-specific",
        ),
    )


def _launcher_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    c, f = _colors(ctx), _fonts()
    _wallpaper(p, ctx)
    for i in range(4):
        icon = QRectF(34 + i * 94, 18, 56, 56)
        if i == 0:
            base.app_icon(
                p, icon, circle=True, colors=(c["accent"].name(), c["accent"].darker(130).name())
            )
            base.rounded(
                p,
                QRectF(icon.right() - 14, icon.top(), 14, 14),
                7,
                c["accent"].lighter(120),
                QColor("white"),
            )
        else:
            base.rounded(p, icon, 28, QColor(255, 255, 255, 90))
    menu = QRectF(24, 86, 300, 112)
    base.shadow(p, menu, 20, 40)
    base.rounded(p, menu, 20, c["card"])
    count = ctx.message.badge if ctx.message.badge else 1
    base.draw_single(
        p, "Notifications", f["meta"], c["body"], QRectF(menu.x() + 16, menu.y() + 10, 200, 20)
    )
    base.draw_single(
        p,
        str(count),
        f["meta"],
        c["body"],
        QRectF(menu.right() - 56, menu.y() + 10, 40, 20),
        Qt.AlignmentFlag.AlignRight,
    )
    icon = QRectF(menu.x() + 16, menu.y() + 44, 32, 32)
    base.app_icon(p, icon, circle=True, colors=(c["accent"].name(), c["accent"].darker(130).name()))
    x = menu.x() + 60
    base.draw_block(
        p, meas.blocks["title"], f["title"], c["title"], x, menu.y() + 40, line_height=LINE
    )
    base.draw_block(
        p, meas.blocks["body"], f["body"], c["body"], x, menu.y() + 40 + LINE, line_height=LINE
    )


_COLLAPSED = Heuristic(None, 49, "Braze, lock screen")
STATES: tuple[StateSpec, ...] = (
    _state("android.headsup", "Heads-up", Card(actions=True), _COLLAPSED, "app", top=12),
    _state("android.collapsed", "Shade, collapsed", Card(), _COLLAPSED, "shade"),
    _state(
        "android.bigtext",
        "Shade, expanded (BigText)",
        Card(header=True, body_lines=BIG_TEXT_LINES, actions=True),
        Heuristic(None, 597, "Braze, drawer"),
        "shade",
    ),
    _state(
        "android.bigpicture",
        "Shade, expanded (BigPicture)",
        Card(header=True, picture=True, actions=True),
        None,
        "shade",
    ),
    StateSpec(
        "android.lock",
        "Android",
        "Lock screen (public vs private)",
        W,
        220,
        _COLLAPSED,
        _lock_measure,
        _lock_paint,
        height_fn=_lock_height,
    ),
    StateSpec(
        "android.launcher",
        "Android",
        "Launcher dot and count",
        W,
        214,
        None,
        _launcher_measure,
        _launcher_paint,
    ),
)
