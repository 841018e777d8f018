"""Web push preview states: Chrome and Firefox toasts on Windows 11, Chrome and Safari
banners on macOS, Chrome on Android.

Windows toasts are 364 px wide in Open Sans (standing in for Segoe UI); macOS banners are
344 pt wide in Inter (standing in for SF Pro). Line budgets: Windows toasts wrap the title
to 2 lines and the body to 4; macOS banners show 1 title line and 2 body lines.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QConicalGradient, QFont, QFontMetricsF, QPainter, QPen

from pushdeck.app.fonts import FontRole, preview_font
from pushdeck.app.previews import android, base
from pushdeck.app.previews.base import Measured, RenderContext, StateSpec
from pushdeck.app.previews.layout import Heuristic, TextBox, label_width, layout_text

MAX_ACTIONS = 2  # Notification.maxActions in Chrome
WIN_W, TOAST_W, TOAST_X = 400, 364, 18
MAC_W, BANNER_W, BANNER_X = 380, 344, 18


def _notes(ctx: RenderContext, *, actions: bool = True, image: str = "") -> tuple[str, ...]:
    m = ctx.message
    notes = []
    if m.web_require_interaction:
        notes.append("requireInteraction: stays until the user acts (where the browser honours it)")
    if actions and len(m.actions) > MAX_ACTIONS:
        notes.append(f"Only the first {MAX_ACTIONS} of {len(m.actions)} actions are shown")
    if image and m.image_url:
        notes.append(image)
    return tuple(notes)


# --- Windows toast -------------------------------------------------------------------------


@cache  # shared, like preview_font's fonts: callers only read it
def _win_fonts() -> dict[str, QFont]:
    return {
        "title": preview_font(FontRole.WINDOWS, 14, QFont.Weight.DemiBold),
        "body": preview_font(FontRole.WINDOWS, 14),
        "meta": preview_font(FontRole.WINDOWS, 12),
        "button": preview_font(FontRole.WINDOWS, 13),
    }


def _win_colors(dark: bool) -> dict[str, QColor]:
    if dark:
        return {
            "bg": QColor("#0a1a33"),
            "bg2": QColor("#27446f"),
            "toast": QColor("#2c2c2c"),
            "border": QColor("#404040"),
            "text": QColor("#ffffff"),
            "secondary": QColor("#c5c5c5"),
            "button": QColor("#3a3a3a"),
        }
    return {
        "bg": QColor("#3f7fd0"),
        "bg2": QColor("#a9d1f5"),
        "toast": QColor("#f3f3f3"),
        "border": QColor("#dcdcdc"),
        "text": QColor("#1b1b1b"),
        "secondary": QColor("#5d5d5d"),
        "button": QColor("#fbfbfb"),
    }


TOAST_TEXT_X = 16 + 48 + 12
TOAST_TEXT_W = TOAST_W - TOAST_TEXT_X - 16


def _toast_measure(ctx: RenderContext, show_image: bool) -> Measured:
    f = _win_fonts()
    blocks = {
        "title": layout_text(ctx.message.title, f["title"], TextBox(TOAST_TEXT_W, 2)),
        "body": layout_text(ctx.message.body, f["body"], TextBox(TOAST_TEXT_W, 4)),
    }
    note = "" if show_image else "Image not shown here (support varies by version)"
    return Measured(blocks, _notes(ctx, image=note))


def _toast_height(ctx: RenderContext, meas: Measured, show_image: bool) -> float:
    b = meas.blocks
    text = (len(b["title"].lines) + len(b["body"].lines)) * 20 + 18
    height = 44.0 + max(48, text) + 14
    if show_image and ctx.message.image_url:
        height += (TOAST_W - 32) / 2 + 12
    if ctx.message.actions:
        height += 44
    return height


def _toast_paint(
    p: QPainter, ctx: RenderContext, meas: Measured, browser: str, via: str, show_image: bool
) -> None:
    c, f = _win_colors(ctx.dark), _win_fonts()
    base.gradient_fill(p, QRectF(0, 0, WIN_W, 900), c["bg"], c["bg2"])
    rect = QRectF(TOAST_X, 16, TOAST_W, _toast_height(ctx, meas, show_image))
    base.shadow(p, rect, 8, 50)
    base.rounded(p, rect, 8, c["toast"], c["border"])
    x0, y = rect.x(), rect.y()
    _browser_icon(p, QRectF(x0 + 16, y + 14, 16, 16), browser)
    base.draw_single(p, browser, f["meta"], c["text"], QRectF(x0 + 40, y + 12, 200, 20))
    base.draw_single(
        p,
        "···     ✕",
        f["meta"],
        c["secondary"],
        QRectF(rect.right() - 80, y + 12, 64, 20),
        Qt.AlignmentFlag.AlignRight,
    )
    icon = QRectF(x0 + 16, y + 46, 48, 48)
    if ctx.message.web_icon:
        base.image_box(p, icon, 4, ctx, ctx.message.web_icon, ctx.dark, f["meta"])
    else:
        base.app_icon(p, icon, radius_ratio=0.1)
    tx, ty = x0 + TOAST_TEXT_X, y + 44
    ty = base.draw_block(p, meas.blocks["title"], f["title"], c["text"], tx, ty, line_height=20)
    ty = base.draw_block(p, meas.blocks["body"], f["body"], c["secondary"], tx, ty, line_height=20)
    base.draw_single(p, via + ctx.site, f["meta"], c["secondary"], QRectF(tx, ty, TOAST_TEXT_W, 18))
    ty = max(ty + 18, y + 44 + 48) + 14
    if show_image and ctx.message.image_url:
        img = QRectF(x0 + 16, ty, TOAST_W - 32, (TOAST_W - 32) / 2)
        base.image_box(p, img, 4, ctx, ctx.message.image_url, ctx.dark, f["meta"])
        ty += img.height() + 12
    actions = ctx.message.actions[:MAX_ACTIONS]
    if actions:
        width = (TOAST_W - 32 - 8 * (len(actions) - 1)) / len(actions)
        for i, action in enumerate(actions):
            button = QRectF(x0 + 16 + i * (width + 8), ty, width, 32)
            base.rounded(p, button, 4, c["button"], c["border"])
            title = QFontMetricsF(f["button"]).elidedText(
                action.title, Qt.TextElideMode.ElideRight, width - 16
            )
            base.draw_single(p, title, f["button"], c["text"], button, Qt.AlignmentFlag.AlignCenter)


def _browser_icon(p: QPainter, rect: QRectF, browser: str) -> None:
    if "Chrome" in browser:
        grad = QConicalGradient(rect.center(), 90)
        for stop, color in ((0, "#db4437"), (0.33, "#0f9d58"), (0.66, "#f4b400"), (1, "#db4437")):
            grad.setColorAt(stop, QColor(color))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(grad)
        p.drawEllipse(rect)
        p.setBrush(QColor("white"))
        p.drawEllipse(rect.center(), rect.width() * 0.26, rect.width() * 0.26)
        p.setBrush(QColor("#4285f4"))
        p.drawEllipse(rect.center(), rect.width() * 0.19, rect.width() * 0.19)
    elif "Firefox" in browser:
        base.app_icon(p, rect, circle=True, letter="", colors=("#ff9500", "#e31587"))
        p.setPen(QPen(QColor("#6e2fd4"), rect.width() * 0.12))
        p.drawArc(rect.adjusted(3, 3, -3, -3), 30 * 16, 200 * 16)
    else:  # Safari
        base.app_icon(p, rect, circle=True, letter="", colors=("#1fb4ff", "#1462e0"))
        p.setPen(QPen(QColor("white"), 1.2))
        p.drawLine(
            QPointF(rect.center().x() - rect.width() * 0.2, rect.center().y() + rect.width() * 0.2),
            QPointF(rect.center().x() + rect.width() * 0.2, rect.center().y() - rect.width() * 0.2),
        )


def _toast_state(
    key: str, label: str, browser: str, via: str, show_image: bool, heuristic: Heuristic
) -> StateSpec:
    return StateSpec(
        key,
        "Web",
        label,
        WIN_W,
        300,
        heuristic,
        lambda ctx: _toast_measure(ctx, show_image),
        lambda p, ctx, meas: _toast_paint(p, ctx, meas, browser, via, show_image),
        height_fn=lambda ctx, meas: 16 + _toast_height(ctx, meas, show_image) + 20,
    )


# --- macOS banner ---------------------------------------------------------------------------


@cache  # shared, like preview_font's fonts: callers only read it
def _mac_fonts() -> dict[str, QFont]:
    return {
        "title": preview_font(FontRole.APPLE, 13, QFont.Weight.DemiBold),
        "body": preview_font(FontRole.APPLE, 13),
        "meta": preview_font(FontRole.APPLE, 11),
    }


def _mac_colors(dark: bool) -> dict[str, QColor]:
    if dark:
        return {
            "bg": QColor("#232526"),
            "bg2": QColor("#4a3f5c"),
            "card": QColor(50, 50, 52, 235),
            "text": QColor("#ffffff"),
            "secondary": QColor(235, 235, 245, 150),
            "border": QColor(255, 255, 255, 30),
        }
    return {
        "bg": QColor("#a1c4fd"),
        "bg2": QColor("#f6d1c1"),
        "card": QColor(246, 246, 246, 235),
        "text": QColor("#000000"),
        "secondary": QColor(60, 60, 67, 160),
        "border": QColor(0, 0, 0, 25),
    }


MAC_TEXT_X = 12 + 32 + 10
THUMB = 40


def _banner_measure(ctx: RenderContext, chrome: bool) -> Measured:
    f = _mac_fonts()
    width = BANNER_W - MAC_TEXT_X - 12
    thumb = (THUMB + 8,) if chrome and ctx.message.web_icon else ()

    stamp = label_width(ctx.time_label, f["meta"]) + 8
    body_reserve = thumb * 2
    if not ctx.message.title and not chrome:  # the text moves up beside the timestamp
        body_reserve = (stamp + (thumb[0] if thumb else 0), *thumb)
    blocks = {
        "title": layout_text(
            ctx.message.title, f["title"], TextBox(width, 1, (stamp + (thumb[0] if thumb else 0),))
        ),
        "body": layout_text(ctx.message.body, f["body"], TextBox(width, 2, body_reserve)),
    }
    image = "macOS banners do not show the image" if ctx.message.image_url else ""
    notes = _notes(ctx, actions=chrome, image=image)
    if not chrome and ctx.message.actions:
        notes = (*notes, "Safari shows no action buttons")
    return Measured(blocks, notes)


def _banner_height(ctx: RenderContext, meas: Measured, chrome: bool) -> float:
    lines = len(meas.blocks["title"].lines) + len(meas.blocks["body"].lines) + int(chrome)
    return max(60, 12 + lines * 17 + 12)


def _banner_paint(p: QPainter, ctx: RenderContext, meas: Measured, chrome: bool) -> None:
    c, f = _mac_colors(ctx.dark), _mac_fonts()
    base.gradient_fill(p, QRectF(0, 0, MAC_W, 400), c["bg"], c["bg2"])
    rect = QRectF(BANNER_X, 14, BANNER_W, _banner_height(ctx, meas, chrome))
    base.shadow(p, rect, 16, 40)
    base.rounded(p, rect, 16, c["card"], c["border"])
    icon = QRectF(rect.x() + 12, rect.center().y() - 16, 32, 32)
    if chrome:
        _browser_icon(p, icon, "Chrome")
    elif ctx.message.web_icon:
        base.image_box(p, icon, 7, ctx, ctx.message.web_icon, ctx.dark, f["meta"])
    else:
        base.app_icon(p, icon)
    x, y = rect.x() + MAC_TEXT_X, rect.y() + 12
    base.draw_single(
        p,
        ctx.time_label,
        f["meta"],
        c["secondary"],
        QRectF(rect.right() - 72, y, 60, 17),
        Qt.AlignmentFlag.AlignRight,
    )
    y = base.draw_block(p, meas.blocks["title"], f["title"], c["text"], x, y, line_height=17)
    if chrome:
        base.draw_single(p, ctx.site, f["body"], c["text"], QRectF(x, y, 200, 17))
        y += 17
    base.draw_block(p, meas.blocks["body"], f["body"], c["text"], x, y, line_height=17)
    if chrome and ctx.message.web_icon:
        base.image_box(
            p,
            QRectF(rect.right() - 12 - THUMB, rect.center().y() - THUMB / 2 + 6, THUMB, THUMB),
            6,
            ctx,
            ctx.message.web_icon,
            ctx.dark,
            f["meta"],
        )


def _banner_state(key: str, label: str, chrome: bool, heuristic: Heuristic) -> StateSpec:
    return StateSpec(
        key,
        "Web",
        label,
        MAC_W,
        120,
        heuristic,
        lambda ctx: _banner_measure(ctx, chrome),
        lambda p, ctx, meas: _banner_paint(p, ctx, meas, chrome),
        height_fn=lambda ctx, meas: 14 + _banner_height(ctx, meas, chrome) + 20,
    )


# --- Chrome on Android -------------------------------------------------------------------

_CHROME_ANDROID = android.Card(
    header=True, body_lines=1, actions=True, app="Chrome", large_icon="web"
)


def _ca_measure(ctx: RenderContext) -> Measured:
    meas = android.measure_card(ctx, _CHROME_ANDROID)
    return Measured(meas.blocks, _notes(ctx, image="Expanding shows the image"))


def _ca_paint(p: QPainter, ctx: RenderContext, meas: Measured) -> None:
    base.fill_canvas(p, android._colors(ctx)["shade"])
    limited = ctx.message
    if len(limited.actions) > MAX_ACTIONS:
        from dataclasses import replace

        ctx = replace(ctx, message=replace(limited, actions=limited.actions[:MAX_ACTIONS]))
    android.paint_card(p, ctx, meas, _CHROME_ANDROID, 16)


STATES: tuple[StateSpec, ...] = (
    _toast_state(
        "web.chrome_windows",
        "Chrome on Windows",
        "Google Chrome",
        "",
        True,
        Heuristic(50, 120, "Braze"),
    ),
    _toast_state(
        "web.firefox_windows",
        "Firefox on Windows",
        "Firefox",
        "via ",
        False,
        Heuristic(54, 200, "Braze"),
    ),
    _banner_state("web.chrome_macos", "Chrome on macOS", True, Heuristic(35, 50, "Braze")),
    _banner_state("web.safari_macos", "Safari on macOS", False, Heuristic(38, 84, "Braze")),
    StateSpec(
        "web.chrome_android",
        "Web",
        "Chrome on Android",
        android.W,
        160,
        Heuristic(35, 50, "Braze"),
        _ca_measure,
        _ca_paint,
        height_fn=lambda ctx, meas: 16 + android.card_height(ctx, meas, _CHROME_ANDROID) + 16,
    ),
)
