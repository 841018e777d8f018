"""The screenshot script renders the grid (the committed PNGs come from it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtGui import QImage

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "screenshots.py"


def _load():
    spec = importlib.util.spec_from_file_location("pushdeck_screenshots", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_screenshot_script_renders_light_and_dark_grids(qapp, tmp_path) -> None:
    shots = _load()
    image = shots.sample_image(tmp_path / "sale.png")
    light = QImage(str(shots.render_grid(False, tmp_path / "light.png", image)))
    dark = QImage(str(shots.render_grid(True, tmp_path / "dark.png", image)))
    assert light.width() > 1000 and light.height() > 1500  # three columns of every state
    assert light.size() == dark.size()
    # the sample image really loaded (no grey placeholder): the sun's colours are present
    peach = [
        light.pixelColor(x, y)
        for x in range(0, light.width(), 9)
        for y in range(0, light.height(), 9)
    ]
    assert any(c.red() > 240 and 140 < c.green() < 200 and c.blue() < 170 for c in peach)
    assert light.pixelColor(5, 5) != dark.pixelColor(5, 5)


def test_screenshot_script_renders_the_live_activity_mode(qapp, tmp_path) -> None:
    shots = _load()
    shot = QImage(str(shots.render_live_activity(tmp_path / "la.png")))
    assert shot.width() >= 1200 and shot.height() >= 800
    # the expanded Dynamic Island is drawn: a large black area on the right half
    black = sum(
        1
        for x in range(shot.width() // 2, shot.width(), 4)
        for y in range(0, shot.height(), 4)
        if shot.pixelColor(x, y).value() < 10
    )
    assert black > 1000
