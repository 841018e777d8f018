"""Bundled preview fonts: loaded once, then asked for by role (Apple, Android, Windows).

Previews must measure text the same way on every host, so they never use system fonts
for Latin text. CJK and colour emoji are too large to ship; those fall back to the host
(see ``resources/fonts/LICENSES.md``).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase


class FontRole(StrEnum):
    APPLE = "Inter"  # stands in for SF Pro
    ANDROID = "Roboto"
    WINDOWS = "Open Sans"  # stands in for Segoe UI


#: The PDF report's text face (bundled: NotoSans-Regular/Bold/Italic.ttf), so a report lays
#: out and wraps the same on a machine that has no Noto Sans installed.
REPORT_FAMILY = "Noto Sans"

#: Families tried after the role's own face, for scripts the bundled faces lack.
FALLBACKS = (
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Color Emoji",
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
)


def fonts_dir() -> Path:
    """The folder holding the bundled font files (repository or installed package)."""
    return Path(__file__).resolve().parents[1] / "resources" / "fonts"


@cache
def load_bundled_fonts() -> tuple[str, ...]:
    """Register every bundled font with Qt once; return the families that loaded.

    Needs a QGuiApplication. Missing files are skipped: previews then fall back to the
    host's fonts, which changes measurements but never crashes.
    """
    families: list[str] = []
    folder = fonts_dir()
    for path in sorted(folder.glob("*.[ot]tf")):
        font_id = QFontDatabase.addApplicationFont(str(path))
        if font_id >= 0:
            families.extend(QFontDatabase.applicationFontFamilies(font_id))
    return tuple(dict.fromkeys(families))


def preview_font(
    role: FontRole, pixel_size: float, weight: QFont.Weight = QFont.Weight.Normal
) -> QFont:
    """A preview font of ``role`` at ``pixel_size`` logical pixels, with script fallbacks.

    Cached: the returned font is shared, so callers copy it before changing it.
    """
    return _preview_font(role, round(pixel_size), weight)


@cache
def _preview_font(role: FontRole, pixel_size: int, weight: QFont.Weight) -> QFont:
    load_bundled_fonts()
    font = QFont()
    font.setFamilies([role.value, *FALLBACKS])
    font.setPixelSize(max(1, pixel_size))
    font.setWeight(weight)
    font.setHintingPreference(QFont.HintingPreference.PreferNoHinting)
    font.setKerning(True)
    return font


def report_font(point_size: float) -> QFont:
    """The report's bundled text face at ``point_size`` points (registers the fonts first)."""
    if REPORT_FAMILY not in load_bundled_fonts():
        raise OSError(
            f"The report font {REPORT_FAMILY!r} is missing from {fonts_dir()}; reinstall Pushdeck."
        )
    font = QFont(REPORT_FAMILY)
    font.setPointSizeF(point_size)
    return font
