"""Pages follow the workspace: a campaign created or a device imported by the CLI (another
process on the same file) or by this window shows up without reopening the workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.app.main import build_window
from pushdeck.app.reports.page import ReportsPage
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import DEMO_APP, create_demo


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("changes") / "demo.pushdeck", devices=300)


@pytest.fixture
def workspace(demo_file: Path, tmp_path: Path) -> Path:
    import shutil

    path = tmp_path / "demo.pushdeck"
    shutil.copy(demo_file, path)
    return path


def cli(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    result = subprocess.run(
        [sys.executable, "-m", "pushdeck", *args, "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def campaign_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.json"
    spec = {
        "name": name,
        "app": DEMO_APP.name,
        "audience": {"all": True},
        "message": {"title": "Hello", "body": "From the command line"},
    }
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture
def reports(qtbot, workspace: Path):
    runner = TaskRunner()
    page = ReportsPage(runner)
    page.resize(1200, 800)
    page.show()
    with qtbot.wait_signal(page.data_loaded, timeout=15_000):
        runner.open_workspace(workspace)
    yield page
    page.timer.stop()
    qtbot.wait_until(lambda: runner.pending == 0, timeout=15_000)
    runner.shutdown()
    page.close()
    page.deleteLater()


def _names(page: ReportsPage) -> list[str]:
    return [page.picker.itemText(i) for i in range(page.picker.count())]


def test_reports_picker_lists_a_campaign_the_cli_created(
    qtbot, reports: ReportsPage, workspace: Path, tmp_path: Path
) -> None:
    assert _names(reports) == [DEMO_CAMPAIGN]
    cli(workspace, "campaigns", "create", "--file", str(campaign_file(tmp_path, "From CLI")))
    qtbot.wait_until(lambda: "From CLI" in _names(reports), timeout=10_000)
    assert reports.picker.currentText() == DEMO_CAMPAIGN  # the shown report stays put
    reports.picker.setCurrentText("From CLI")
    qtbot.wait_until(lambda: reports.data is not None and reports.data.name == "From CLI")
    assert "not sent yet" in reports.headline.text()


def test_reports_picker_lists_a_campaign_created_in_this_window(
    qtbot, reports: ReportsPage
) -> None:
    def create(ctx):
        from dataclasses import replace

        from pushdeck.core.campaigns.library import create_campaign, get_campaign

        ws = ctx.require_ws()
        create_campaign(ws, replace(get_campaign(ws, DEMO_CAMPAIGN).spec, name="Here"))

    reports.tasks.run(create)
    qtbot.wait_until(lambda: "Here" in _names(reports), timeout=10_000)


def test_status_bar_device_count_follows_imports(qtbot, workspace: Path, tmp_path: Path) -> None:
    window = build_window(workspace, config_dir=tmp_path / "config", demo_path=workspace)
    qtbot.addWidget(window)
    qtbot.wait_until(lambda: "300 devices" in window.workspace_label.text(), timeout=15_000)
    devices = tmp_path / "more.csv"
    devices.write_text(
        "token,platform,locale\n" + "".join(f"{i:064x},ios,en-US\n" for i in range(25)),
        encoding="utf-8",
    )
    cli(workspace, "devices", "import", str(devices), "--app", DEMO_APP.name)
    qtbot.wait_until(lambda: "325 devices" in window.workspace_label.text(), timeout=10_000)
    # The Campaigns page follows a CLI-created campaign too.
    cli(workspace, "campaigns", "create", "--file", str(campaign_file(tmp_path, "Listed")))
    qtbot.wait_until(lambda: window.campaigns.model.row_named("Listed") >= 0, timeout=10_000)
    window.campaigns.due_timer.stop()
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=15_000)
    window.shutdown()
