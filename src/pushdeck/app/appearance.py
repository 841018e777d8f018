"""App-wide light and dark: follows the OS (Qt 6.5+ ``QStyleHints.colorScheme``) unless the
user picked Light or Dark in Preferences (kept in QSettings under ``appearance/theme``).

The look is the application palette (Fusion, Qt's default style on Linux, draws with it
entirely): a dark palette is the dark mode. ``QStyleHints.setColorScheme`` is not used: it
would overwrite what the OS says, and "System" has to keep listening to the OS.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication

THEMES = ("system", "light", "dark")
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
THEME_KEY = "appearance/theme"


def stored_theme(qsettings: QSettings, fallback: str = "system") -> str:
    value = qsettings.value(THEME_KEY, fallback)
    return value if value in THEMES else "system"


def store_theme(qsettings: QSettings, theme: str) -> None:
    qsettings.setValue(THEME_KEY, theme if theme in THEMES else "system")
    qsettings.sync()


def os_is_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def is_dark(theme: str) -> bool:
    return theme == "dark" or (theme == "system" and os_is_dark())


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for text, links and disabled widgets."""
    p = QPalette()
    window, base, text = QColor("#232629"), QColor("#1b1d20"), QColor("#e8eaed")
    disabled = QColor("#80868b")
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: QColor("#2a2d31"),
        QPalette.ColorRole.ToolTipBase: QColor("#2f3236"),
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor("#9aa0a6"),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: QColor("#2f3236"),
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor("#ff6b6b"),
        QPalette.ColorRole.Light: QColor("#3c4043"),
        QPalette.ColorRole.Midlight: QColor("#34373b"),
        QPalette.ColorRole.Mid: QColor("#2a2d31"),
        QPalette.ColorRole.Dark: QColor("#151719"),
        QPalette.ColorRole.Shadow: QColor("#000000"),
        QPalette.ColorRole.Highlight: QColor("#3568d4"),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"),
        QPalette.ColorRole.Link: QColor("#8ab4f8"),
        QPalette.ColorRole.LinkVisited: QColor("#c58af9"),
    }
    for role, color in roles.items():
        p.setColor(role, color)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def apply_theme(theme: str, app: QApplication | None = None) -> bool:
    """Give the whole app the light or dark palette ``theme`` means now; True for dark."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    if not isinstance(app, QApplication):
        return False
    dark = is_dark(theme)
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    app.setProperty("pushdeck_dark", dark)
    return dark


def nav_icon(page: str, color: QColor, size: int = 36) -> QIcon:
    """A small line drawing for a sidebar page, in ``color`` (redrawn when the theme
    changes; no icon theme is needed, which Windows, macOS and minimal Linux lack)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, size / 12)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    u = size / 12  # drawing unit
    if page == "Campaigns":  # a list
        for y in (3, 6, 9):
            p.drawPoint(QPointF(2 * u, y * u))
            p.drawLine(QPointF(4 * u, y * u), QPointF(10.5 * u, y * u))
    elif page == "Compose":  # a pencil
        p.drawLine(QPointF(3 * u, 9 * u), QPointF(9 * u, 3 * u))
        p.drawLine(QPointF(2 * u, 10 * u), QPointF(3 * u, 9 * u))
        p.drawLine(QPointF(8 * u, 2 * u), QPointF(10 * u, 4 * u))
    elif page == "Audience":  # two people
        p.drawEllipse(QPointF(4.5 * u, 4 * u), 1.6 * u, 1.6 * u)
        p.drawEllipse(QPointF(8.5 * u, 4.5 * u), 1.3 * u, 1.3 * u)
        p.drawArc(QRectF(1.5 * u, 7 * u, 6 * u, 6 * u), 0, 180 * 16)
        p.drawArc(QRectF(6.5 * u, 7.5 * u, 4.5 * u, 4.5 * u), 0, 180 * 16)
    elif page == "Reports":  # bars
        for x, top in ((3, 6), (6, 3), (9, 5)):
            p.drawLine(QPointF(x * u, 10 * u), QPointF(x * u, top * u))
    elif page == "Audit":  # a clipboard with lines: the log
        p.drawRoundedRect(QRectF(2.5 * u, 2 * u, 7 * u, 9 * u), u, u)
        for y in (5, 7, 9):
            p.drawLine(QPointF(4.5 * u, y * u), QPointF(7.5 * u, y * u))
    else:  # a key: credentials
        p.drawEllipse(QPointF(4 * u, 6 * u), 2 * u, 2 * u)
        p.drawLine(QPointF(6 * u, 6 * u), QPointF(10.5 * u, 6 * u))
        p.drawLine(QPointF(9 * u, 6 * u), QPointF(9 * u, 8 * u))
    p.end()
    return QIcon(pixmap)
