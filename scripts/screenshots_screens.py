"""Regenerate docs/screenshots/{compose,compose-dark,audience,segments,credentials,reports,
campaigns-review,send-confirm,send,campaigns}.png.

    QT_QPA_PLATFORM=offscreen /work/venv/bin/python scripts/screenshots_screens.py [--out DIR]

Each is the whole window on a fresh demo workspace (sandbox provider, 3,000 devices,
segments, a sent campaign), so the pictures match what a newcomer sees.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import pushdeck.app  # noqa: E402,F401  (PySide6/3.11 workaround)
from pushdeck.app.main import build_window  # noqa: E402


def wait(condition: Callable[[], bool], ms: int = 15_000) -> None:
    loop = QEventLoop()
    timer = QTimer()
    timer.timeout.connect(lambda: condition() and loop.quit())
    timer.start(20)
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    from pushdeck.app.fonts import load_bundled_fonts

    load_bundled_fonts()
    tmp = Path(tempfile.mkdtemp(prefix="pushdeck-shots-"))
    window = build_window(None, config_dir=tmp / "config", demo_path=tmp / "demo.pushdeck")
    window.resize(1440, 900)
    window.set_theme("light")  # the same pictures whatever the machine's OS theme is
    window.show()
    runner = window.runner
    idle = lambda: runner.pending == 0  # noqa: E731

    def shoot(name: str) -> None:
        wait(idle)
        wait(lambda: False, 300)  # let pages paint what arrived
        window.grab().save(str(args.out / f"{name}.png"))
        print(f"wrote {args.out / name}.png")  # noqa: T201

    window.open_demo()
    wait(lambda: window.root.currentIndex() == 1, 60_000)
    wait(idle)

    window.go_to(1)  # Compose: the draft, its app, "Review & send…"
    wait(idle)
    shoot("compose")
    window.set_theme("dark")  # the app-wide dark mode (Preferences, or the OS)
    shoot("compose-dark")
    window.set_theme("light")

    window.show_report("Spring sale (demo)")  # Reports: the demo's A/B test
    wait(lambda: window.reports.data is not None)
    shoot("reports")

    window.go_to(2)  # Audience: devices
    devices = window.audience.devices
    devices.search.setText("tag:vip")
    wait(lambda: "match" in devices.count.text())
    shoot("audience")

    window.audience.setCurrentWidget(window.audience.segments)  # Segments
    segments = window.audience.segments
    wait(lambda: segments.list.count() > 0)
    segments.name.setText("Engaged Portuguese VIPs")
    segments.builder.set_rule({"all": [
        {"field": "last_seen", "op": "within", "value": "30d"},
        {"any": [{"field": "locale", "op": "starts_with", "value": "pt"},
                 {"field": "tag", "op": "has", "value": "vip"}]},
        {"field": "attr.purchases", "op": ">=", "value": 3},
    ]})  # fmt: skip
    wait(lambda: segments.count.text() not in ("—", "counting…"))
    shoot("segments")

    window.go_to(4)  # Apps & credentials
    credentials = window.credentials
    wait(lambda: credentials.records.rowCount() > 0)
    credentials.records.selectRow(0)
    credentials.check_selected()
    wait(
        lambda: (
            "Works" in credentials.check_result.text() or "not" in credentials.check_result.text()
        )
    )
    shoot("credentials")

    window.go_to(0)  # Campaigns: a new campaign under review, test send done
    page = window.campaigns
    window.composer.model.set_field("title", "Weekend deal: 2 for 1")
    window.composer.model.set_field("body", "Hi {{ first_name }}, this weekend only, for you.")
    dialog = page.new_campaign()
    wait(lambda: dialog.audience.findText("Segment: VIP customers") >= 0)
    dialog.name.setText("Weekend deal")
    dialog.audience.setCurrentIndex(dialog.audience.findText("Segment: VIP customers"))
    dialog.create_campaign()
    from pushdeck.app.campaigns.review import ReviewDialog

    wait(lambda: bool(page.findChildren(ReviewDialog)))
    review = page.findChildren(ReviewDialog)[-1]
    wait(lambda: review.review is not None)
    review.send_test()
    wait(lambda: bool(review.test_results))
    review.tabs.setCurrentIndex(0)
    wait(idle)
    review.grab().save(str(args.out / "campaigns-review.png"))
    review.throttle.setValue(6000)
    review._on_send_button_clicked()
    wait(lambda: review.confirmation is not None)
    confirmation = review.confirmation
    assert confirmation is not None
    wait(lambda: False, 200)
    confirmation.grab().save(str(args.out / "send-confirm.png"))
    print(f"wrote {args.out / 'send-confirm'}.png")  # noqa: T201
    confirmation.send_button.click()
    wait(lambda: page.controller.last is not None and page.controller.last.done > 150, 30_000)
    page.controller.pause()
    wait(lambda: page.controller.last is not None and page.controller.last.status == "paused")
    shoot("send")
    page.controller.cancel()
    wait(lambda: not page.controller.active, 30_000)
    page.reload()
    shoot("campaigns")
    window.loop.shutdown()
    runner.shutdown()
    window.close()
    app.processEvents()


if __name__ == "__main__":
    main()
