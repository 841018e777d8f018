"""Preview update per keystroke, and cold start to the first window shown (issue 5).

    /work/venv/bin/python bench/bench_previews.py [--keys 300] [--rounds 3]

Keystroke: a body is typed one character at a time into the composer (model edit →
personalization for the picked recipient → every preview re-measured), then the whole
grid — every preview visible — is painted offscreen into one image. Timed per keystroke;
p50 / p95 / max over all keystrokes. The grid-only line leaves out the composer.
Cold start: wall time from spawning ``python`` to the main window shown (welcome page, no
workspace), median of ``--rounds`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TEXT = (
    'Hi {{ first_name | default: "there" }} 👋 our biggest sale of the year starts now. '
    "Everything in store is 40% off until midnight: shoes, jackets, bags and more. Free "
    "shipping on every order, and members get early access to the new collection tomorrow. "
    "今日だけ! مرحبا 👨‍👩‍👧‍👦 https://shop.example.com/sale?utm_source=push "
)

STARTUP = """
import time, sys, os
t0 = time.perf_counter()
sys.path.insert(0, {src!r})
import pushdeck.app
from PySide6.QtWidgets import QApplication
app = QApplication([])
from pushdeck.app.main import build_window
from pathlib import Path
w = build_window(None, config_dir=Path({cfg!r}), demo_path=Path({cfg!r}) / "demo.pushdeck")
w.show()
app.processEvents()
print("READY", time.perf_counter() - t0, flush=True)
w.runner.shutdown()
"""


_KEEP: list[object] = []


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def bench_keystrokes(keys: int) -> dict[str, list[float]]:
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QImage, QRegion
    from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

    import pushdeck.app  # noqa: F401

    app = QApplication.instance() or QApplication([])
    from pushdeck.app.composer.page import ComposerPage
    from pushdeck.app.previews.base import RenderContext
    from pushdeck.core.common.model import Message

    page = ComposerPage()
    page.previews.zoom_box.setCurrentIndex(page.previews.zoom_box.findData(1.0))  # full size
    grid = page.previews.grid
    page.model.set_field("body", "")
    grid.adjustSize()
    image = QImage(grid.size(), QImage.Format.Format_ARGB32_Premultiplied)
    text = (TEXT * (keys // len(TEXT) + 1))[:keys]
    # The real path: the grid on screen (offscreen platform, window as large as the grid so
    # every preview is visible); a keystroke, then Qt repaints what changed and flushes.
    # The window is sized for the tallest grid (the longest body): sized for an empty body,
    # the bottom cards scrolled out of view and the scroll bars repainted as the grid grew.
    page.model.set_field("body", text)
    app.processEvents()
    grid.adjustSize()
    window = QScrollArea()
    window.setWidget(page.previews.grid)
    window.resize(grid.width() + 30, grid.height() + 30)
    window.show()
    app.processEvents()
    onscreen, onscreen_cpu = [], []
    for i in range(1, keys + 1):
        start, cpu = time.perf_counter(), time.thread_time()
        page.model.set_field("body", text[: keys - i])  # delete backwards: every length again
        app.processEvents()  # paint events for the previews that changed, then flush
        onscreen.append((time.perf_counter() - start) * 1000)
        onscreen_cpu.append((time.thread_time() - cpu) * 1000)
    full, grid_only, full_cpu, grid_cpu = [], [], [], []
    for i in range(1, keys + 1):
        start, cpu = time.perf_counter(), time.thread_time()
        page.model.set_field("body", text[:i])  # what a keystroke in the body does
        grid.render(image, QPoint(), QRegion(), QWidget.RenderFlag.DrawChildren)
        full.append((time.perf_counter() - start) * 1000)
        full_cpu.append((time.thread_time() - cpu) * 1000)
    message = page.current_message()[0]
    for i in range(1, keys + 1):
        ctx = RenderContext(
            Message(title=message.title, body=text[:i], badge=3, actions=message.actions)
        )
        start, cpu = time.perf_counter(), time.thread_time()
        grid.set_context(ctx)
        grid.render(image, QPoint(), QRegion(), QWidget.RenderFlag.DrawChildren)
        grid_only.append((time.perf_counter() - start) * 1000)
        grid_cpu.append((time.thread_time() - cpu) * 1000)
    page.deleteLater()
    _KEEP.append(app)
    return {
        "on screen: keystroke → repaint of changed previews (wall)": onscreen,
        "  same, GUI-thread CPU time ": onscreen_cpu,
        "composer keystroke → every preview painted (wall)": full,
        "  same, GUI-thread CPU time  ": full_cpu,
        "grid only: set message + paint (wall)": grid_only,
        "  same, CPU time of the GUI thread": grid_cpu,
    }


def bench_startup(rounds: int) -> list[float]:
    import tempfile

    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as cfg:
            code = STARTUP.format(src=str(ROOT / "src"), cfg=cfg)
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdout=subprocess.PIPE,
                text=True,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            )
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("READY"):
                    times.append(time.perf_counter() - start)
                    break
            proc.wait()
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from pushdeck.app.previews import ALL_STATES

    print(f"{len(ALL_STATES)} preview states, {args.keys} keystrokes")
    for name, values in bench_keystrokes(args.keys).items():
        print(
            f"{name:52s} p50 {percentile(values, 50):6.2f} ms  p95 {percentile(values, 95):6.2f} ms"
            f"  max {max(values):6.2f} ms"
        )
    starts = bench_startup(args.rounds)
    print(
        f"cold start to first window shown: median {statistics.median(starts):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in starts)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
