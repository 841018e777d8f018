"""Regenerate docs/screenshots/previews-light.png and previews-dark.png (the preview grid)
and live-activity.png (the composer's Live Activity mode).

    QT_QPA_PLATFORM=offscreen /work/venv/bin/python scripts/screenshots.py [--out DIR]

The message is a realistic one with an image, a badge, actions and a thread, so every state
shows something; the image is drawn here (no network, no binary in the repo).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PySide6.QtCore import QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QRadialGradient  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import pushdeck.app  # noqa: E402,F401  (PySide6/3.11 workaround)
from pushdeck.app.previews.base import RenderContext  # noqa: E402
from pushdeck.app.previews.images import ImageCache  # noqa: E402
from pushdeck.app.previews.widgets import PreviewGrid  # noqa: E402
from pushdeck.core.common.model import Action, InterruptionLevel, Message  # noqa: E402


def sample_image(path: Path) -> Path:
    """A 2:1 'product photo' drawn with QPainter: sky, sun, hills."""
    image = QImage(1200, 600, QImage.Format.Format_RGB32)
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    sky = QLinearGradient(0, 0, 0, 600)
    sky.setColorAt(0, QColor("#ff9a8b"))
    sky.setColorAt(1, QColor("#ffd3a5"))
    p.fillRect(image.rect(), sky)
    sun = QRadialGradient(QPointF(860, 230), 120)
    sun.setColorAt(0, QColor("#fff6d5"))
    sun.setColorAt(1, QColor(255, 240, 200, 0))
    p.setBrush(sun)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(QPointF(860, 230), 120, 120)
    for color, y, height in (("#6a4c93", 330, 300), ("#3d5a80", 420, 260), ("#293241", 500, 200)):
        p.setBrush(QColor(color))
        p.drawEllipse(QRectF(-200 + y / 3, y, 1700, height * 2))
    p.end()
    image.save(str(path))
    return path


def sample_message(image: Path) -> Message:
    return Message(
        title="Flash sale: 40% off everything today only",
        body="Hi Ana 👋 our biggest sale of the year starts now. Everything in store is 40% off "
        "until midnight: shoes, jackets, bags and more. Free shipping on every order, too.",
        image_url=str(image),
        web_icon=str(image),
        badge=3,
        sound="default",
        thread_id="sales",
        interruption_level=InterruptionLevel.TIME_SENSITIVE,
        actions=(Action("shop", "Shop now"), Action("later", "Remind me later")),
    )


def render_grid(dark: bool, out: Path, image: Path) -> Path:
    cache = ImageCache()
    grid = PreviewGrid()
    # The demo app is drawn as one that ships a Notification Service Extension, so the
    # image shows as it would on a phone (without one, the iOS cards say so).
    ctx = RenderContext(sample_message(image), dark=dark, images=cache, has_service_extension=True)
    grid.set_context(ctx)
    grid.adjustSize()
    grid.grab()  # painting asks the cache for the images, which load in the background
    cache.wait_idle()
    QApplication.processEvents()  # deliver the loaded images (queued signals)
    grid.set_context(ctx)
    palette = grid.palette()
    background = QColor("#1e1e1e") if dark else QColor("#f4f4f6")
    palette.setColor(palette.ColorRole.Window, background)
    palette.setColor(palette.ColorRole.WindowText, QColor("#e8e8e8") if dark else QColor("#1c1c1e"))
    grid.setPalette(palette)
    grid.setAutoFillBackground(True)
    grid.adjustSize()
    shot = grid.grab()
    if not shot.save(str(out)):
        raise OSError(f"could not write {out}")
    return out


LIVE_ACTIVITY_DRAFT = {
    "message": {
        "title": "Goal!",
        "body": "Ana Silva scores: 2-1 in the 67th minute",
        "live_activity_event": "update",
        "content_state": {"home": 2, "away": 1, "minute": "67'", "scorer": "Ana Silva"},
        "stale_date": 1767225600,
    }
}


def render_live_activity(out: Path) -> Path:
    """The Compose page in Live Activity mode: its tab and the four presentations."""
    from pushdeck.app.composer.page import ComposerPage
    from pushdeck.app.fonts import load_bundled_fonts

    load_bundled_fonts()
    page = ComposerPage()
    page.resize(1280, 900)
    page.load_document(LIVE_ACTIVITY_DRAFT)
    tabs = page.form.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Live Activity"))
    page.show()
    QApplication.processEvents()
    page.refresh_payloads()
    QApplication.processEvents()
    shot = page.grab()
    page.close()
    page.deleteLater()
    QApplication.processEvents()
    if not shot.save(str(out)):
        raise OSError(f"could not write {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([])
    args.out.mkdir(parents=True, exist_ok=True)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        image = sample_image(Path(tmp) / "sale.png")
        for dark, name in ((False, "previews-light.png"), (True, "previews-dark.png")):
            print(render_grid(dark, args.out / name, image))  # noqa: T201
    print(render_live_activity(args.out / "live-activity.png"))  # noqa: T201
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())
