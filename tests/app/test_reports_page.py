"""Reports page on the demo workspace: loads, charts have data, exports are valid files."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QMessageBox

from pushdeck.app.reports.page import ReportsPage
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import create_demo


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("demo") / "demo.pushdeck")


@pytest.fixture
def page(qtbot, demo_file: Path, tmp_path: Path):
    path = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, path)
    runner = TaskRunner()
    widget = ReportsPage(runner)  # closed below, after its last job came back
    widget.resize(1300, 900)
    widget.show()
    with qtbot.wait_signal(widget.data_loaded, timeout=15_000):
        runner.open_workspace(path)
    yield widget
    widget.timer.stop()
    qtbot.wait_until(lambda: runner.pending == 0, timeout=15_000)
    runner.shutdown()
    widget.close()
    widget.deleteLater()


def _coloured_pixels(image: QImage) -> int:
    small = image.scaled(200, 100)
    return sum(
        1
        for x in range(small.width())
        for y in range(small.height())
        if small.pixelColor(x, y).saturation() > 80
    )


def test_page_shows_the_demo_campaign(page: ReportsPage) -> None:
    data = page.data
    assert data is not None and page.picker.currentText() == DEMO_CAMPAIGN
    assert data.overall.targeted == 3000 and data.overall.accepted > 0
    assert page.funnel.has_data() and page.opens.has_data()
    assert page.platform_chart.has_data() and page.variant_chart.has_data()
    opened = page.funnel.hover_text_at(4)
    assert opened.startswith(f"Opened: {data.overall.opened:,}")
    assert f"÷ {data.overall.accepted:,}" in opened and "of accepted" in opened
    assert page.reasons.rowCount() >= 3  # rejected and dead reasons, action presses
    assert "of accepted" in page.definitions.item(4, 2).text()
    assert page.verdict.text() == data.ab.verdict  # type: ignore[union-attr]
    assert page.across.rowCount() == 1


def test_chart_exports_are_valid_png_and_svg(page: ReportsPage, tmp_path: Path) -> None:
    png, svg = tmp_path / "funnel.png", tmp_path / "funnel.svg"
    page.funnel.export_png(png)
    page.funnel.export_svg(svg)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(png))
    assert image.width() >= page.funnel.width() and _coloured_pixels(image) > 100
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert QSvgRenderer(str(svg)).isValid()
    assert "3,000" in svg.read_text(encoding="utf-8")  # the bar labels are text, not pixels


def test_send_the_winner_creates_the_follow_up(qtbot, page: ReportsPage, monkeypatch) -> None:
    ab = page.data.ab  # type: ignore[union-attr]
    assert ab is not None and ab.winner == "B"  # the demo's B opens 17 % vs A 12 %
    assert page.winner_button.isEnabled()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.wait_signal(page.follow_up_created, timeout=10_000) as blocker:
        page.winner_button.click()
    assert blocker.args == [f"{DEMO_CAMPAIGN} – winner B"]


def test_pdf_and_csv_export_from_the_page(qtbot, page: ReportsPage, tmp_path: Path) -> None:
    pdf = tmp_path / "r.pdf"
    page.export_report("pdf", pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    csv_path = tmp_path / "r.csv"
    page.export_report("csv", csv_path)
    qtbot.wait_until(csv_path.exists, timeout=10_000)
    qtbot.wait_until(lambda: "overall" in csv_path.read_text(), timeout=10_000)


def test_charts_follow_new_events_live(qtbot, page: ReportsPage) -> None:
    before = page.data.overall.opened  # type: ignore[union-attr]

    def add_open(ctx) -> None:  # type: ignore[no-untyped-def]
        ws = ctx.require_ws()
        campaign_id, device_id = ws.query(
            "SELECT campaign_id, device_id FROM journal WHERE state = 'accepted'"
            " AND opened_at IS NULL LIMIT 1"
        )[0]
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO events (event_id, campaign_id, device_id, kind, at, received_at)"
                " VALUES ('live-1', ?, ?, 'opened', ?3, ?3)",
                (campaign_id, device_id, "2026-01-01T00:00:00Z"),
            )

    page.tasks.run(add_open)
    page.timer.setInterval(50)
    qtbot.wait_until(lambda: page.data.overall.opened == before + 1, timeout=10_000)  # type: ignore[union-attr]
    assert page.funnel.hover_text_at(4).startswith(f"Opened: {before + 1:,}")


# --- reports that always render: empty and unfinished campaigns (issue 12) ------------------


@pytest.fixture
def cases_file(tmp_path: Path) -> Path:
    from pushdeck.core.common.model import App
    from pushdeck.core.store import Workspace
    from pushdeck.core.store.apps import add_app
    from tests.core.report_cases import build_cases

    path = tmp_path / "cases.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        build_cases(ws)
    return path


EMPTY_TEXT = {  # what each chart says when it has nothing to draw, by case
    "Draft": ("No device targeted yet", "Nothing accepted yet", "Nothing sent yet."),
    "Draft AB": ("No device targeted yet", "Nothing accepted yet", "Nothing sent yet."),
    "Nothing accepted": ("", "Nothing accepted yet", "Nothing accepted yet"),
    "No events": ("", "No opens reported yet.", ""),
    "Still sending": ("", "No opens reported yet.", ""),
    "Every device skipped": ("", "Nothing accepted yet", "Nothing accepted yet"),
}


@pytest.mark.parametrize("name", list(EMPTY_TEXT))
def test_every_export_works_for_empty_and_unfinished_campaigns(
    qtbot, cases_file: Path, tmp_path: Path, name: str
) -> None:
    from pushdeck.app.reports.export import build_charts, export_html, export_pdf, export_png
    from pushdeck.core.reports.dashboard import dashboard_data
    from pushdeck.core.store import Workspace

    with Workspace.open(cases_file) as ws:
        data = dashboard_data(ws, name)
    charts = list(build_charts(data).values())
    for chart, expected in zip(charts, EMPTY_TEXT[name], strict=False):
        assert chart.empty_text().startswith(expected) if expected else not chart.empty_text()
        if expected:  # the message is drawn (text in the SVG), not just kept in a widget
            assert expected.split(":")[0] in chart.svg_bytes().decode("utf-8")
    for chart in charts:
        chart.close()
    png, pdf, page = tmp_path / "r.png", tmp_path / "r.pdf", tmp_path / "r.html"
    export_png(data, png)
    export_pdf(data, pdf)
    export_html(data, page)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and not QImage(str(png)).isNull()
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert page.read_text(encoding="utf-8").count("data:image/png;base64,") >= 4


def test_dashboard_shows_every_empty_and_unfinished_campaign(qtbot, cases_file: Path) -> None:
    runner = TaskRunner()
    widget = ReportsPage(runner)
    widget.resize(1300, 900)
    widget.show()
    try:
        with qtbot.wait_signal(widget.data_loaded, timeout=15_000):
            runner.open_workspace(cases_file)
        started = [n for n in EMPTY_TEXT if not n.startswith("Draft")]
        assert widget.picker.count() == len(EMPTY_TEXT)  # drafts are listed too (issue 15)
        for name in started:
            funnel, opens, platform = EMPTY_TEXT[name]
            widget.show_campaign(name)
            qtbot.wait_until(
                lambda n=name: widget.data is not None and widget.data.name == n, timeout=15_000
            )
            assert widget.funnel.empty_text().startswith(funnel) if funnel else True
            assert widget.opens.empty_text().startswith(opens)
            assert widget.platform_chart.empty_text().startswith(platform) if platform else True
            assert widget.variant_chart.empty_text() or widget.variant_chart.has_data()
    finally:
        widget.timer.stop()
        qtbot.wait_until(lambda: runner.pending == 0, timeout=15_000)
        runner.shutdown()
        widget.close()
        widget.deleteLater()


def test_report_command_writes_a_png_for_a_draft(cases_file: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    out = tmp_path / "draft.png"
    result = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(cases_file), "report", "Draft",
         "--format", "png", "-o", str(out)],
        capture_output=True, text=True, timeout=180,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    image = QImage(str(out))
    assert image.width() > 500 and image.height() > 900  # funnel, opens and platform charts
