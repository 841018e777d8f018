"""The first minutes: the window opens on Campaigns (then on the page last used), Compose
says what is being edited and for which app and leads to "Review & send…", and a sent
campaign's double-click opens its report."""

from __future__ import annotations

from pathlib import Path

import pytest

from pushdeck.app.campaigns.new_campaign import NewCampaignDialog
from pushdeck.app.main import build_window
from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import create_demo


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("first") / "demo.pushdeck", devices=300)


def _window(qtbot, workspace: Path, config: Path):
    window = build_window(workspace, config_dir=config, demo_path=workspace)
    window.resize(1440, 900)
    window.show()
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    return window


def _close(qtbot, window) -> None:
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    window.close()
    window.shutdown()
    # Nothing scheduled may reach the stopped network loop later (a closed-loop error).
    assert not window.campaigns.due_timer.isActive() and not window.reports.timer.isActive()


def test_opens_on_campaigns_then_on_the_last_page(qtbot, demo_file: Path, tmp_path: Path) -> None:
    import shutil

    workspace = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, workspace)
    window = _window(qtbot, workspace, tmp_path / "config")
    assert window.pages.currentWidget() is window.campaigns
    window.go_to(3)  # Reports
    _close(qtbot, window)
    again = _window(qtbot, workspace, tmp_path / "config")
    assert again.pages.currentWidget() is again.reports
    _close(qtbot, again)


def test_compose_has_a_header_and_review_and_send(qtbot, demo_file: Path, tmp_path: Path) -> None:
    import shutil

    workspace = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, workspace)
    window = _window(qtbot, workspace, tmp_path / "config")
    composer = window.composer
    window.go_to(1)
    assert "Draft message" in composer.heading.text()
    assert composer.app_box.currentText() == "Pushdeck Demo"
    assert [composer.app_box.itemText(i) for i in range(composer.app_box.count())] == [
        "Pushdeck Demo"
    ]
    composer.model.set_field("title", "Edited")
    qtbot.wait_until(lambda: composer.saved.text().startswith("Saved"), timeout=10_000)
    composer.review_button.click()
    dialogs = window.campaigns.findChildren(NewCampaignDialog)
    assert dialogs and dialogs[-1].isVisible()  # name and audience, then the review
    qtbot.wait_until(lambda: dialogs[-1].app.currentText() == "Pushdeck Demo", timeout=10_000)
    dialogs[-1].reject()
    _close(qtbot, window)


def test_double_click_on_a_sent_campaign_opens_its_report(
    qtbot, demo_file: Path, tmp_path: Path
) -> None:
    import shutil

    from PySide6.QtCore import QPoint, Qt

    from pushdeck.app.campaigns.review import ReviewDialog

    workspace = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, workspace)
    window = _window(qtbot, workspace, tmp_path / "config")
    table = window.campaigns.table
    row = window.campaigns.model.row_named(DEMO_CAMPAIGN)
    assert row >= 0
    rect = table.visualRect(window.campaigns.model.index(row, 0))
    # An item view needs the press of the first click before it takes a double click.
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center()))
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(rect.center()))
    qtbot.wait_until(lambda: window.pages.currentWidget() is window.reports, timeout=10_000)
    qtbot.wait_until(
        lambda: window.reports.data is not None and window.reports.data.name == DEMO_CAMPAIGN,
        timeout=15_000,
    )
    assert not window.campaigns.findChildren(ReviewDialog)  # not the send review
    _close(qtbot, window)
