"""Opening another workspace while jobs for the last one still wait on the runner.

A page's load asked for while the next workspace opens (a campaign picked in Reports, a
refresh of its timer) is for the workspace the window still shows: once the other one is
open on the worker it must not run there ("There is no campaign named 'W'"), and its
answer never comes; the pages start over on the new workspace.

The real window, offscreen; the worker is held by a job that waits on an event, so the
order on the worker is certain: [held] [open B] [load of A's campaign].
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushdeck.app import errors
from pushdeck.app.composer.draft import DRAFT_NAME
from pushdeck.app.composer.page import AUTOSAVE_DELAY_MS
from pushdeck.app.main import build_window
from pushdeck.app.main_window import PAGES, MainWindow
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App
from pushdeck.core.reports.dashboard import DashboardData
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.drafts import load_draft
from tests.core.campaign_helpers import add_devices


def _workspace(path: Path, campaign: str, devices: int) -> Path:
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, devices + 1)])
        doc = {"name": campaign, "app": "shop", "audience": {"all": True},
               "message": {"title": f"Hello from {campaign}"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
    return path


@pytest.fixture
def window(qtbot, tmp_path: Path) -> Iterator[MainWindow]:
    window = build_window(None, config_dir=tmp_path / "cfg", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()


def _hold(window: MainWindow) -> threading.Event:
    """Hold the worker until the event is set (a long query of the last workspace)."""
    release = threading.Event()
    window.runner.run(lambda _ctx: release.wait(30))
    return release


def test_a_report_load_asked_for_while_another_workspace_opens_is_dropped(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    reports = window.reports
    with qtbot.wait_signal(reports.data_loaded, timeout=20_000):
        window.open_workspace(a)
        qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
        window.go_to(PAGES.index("Reports"))
    assert reports.picker.currentText() == "W"
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)

    release = _hold(window)
    window.open_workspace(b)  # queued behind the held job
    window.show_report("W")  # A's campaign, asked for while B opens: queued after it
    reports._on_timer_timeout()  # and the page's own refresh of what it shows
    loaded: list[DashboardData] = []
    reports.data_loaded.connect(loaded.append)
    release.set()

    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    qtbot.wait_until(lambda: bool(loaded), timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    box = errors.GATE.box
    assert box is None, box.text()  # not "There is no campaign named 'W'"
    assert [d.name for d in loaded] == ["Only in B"]  # B's data, and nothing of A's
    assert reports.picker.currentText() == "Only in B"
    assert [reports.picker.itemText(i) for i in range(reports.picker.count())] == ["Only in B"]
    assert "Only in B" in reports.headline.text()
    qtbot.wait_until(lambda: window.workspace_label.text().endswith("· 5 devices"), timeout=10_000)

    # The page still follows B: a refresh now reads B again (no load left stuck).
    with qtbot.wait_signal(reports.data_loaded, timeout=10_000) as again:
        reports.refresh()
    assert again.args[0].name == "Only in B"
    shot = tmp_path / "reports-after-switch.png"
    assert window.grab().save(str(shot))


def test_jobs_queued_before_the_switch_still_run_on_the_last_workspace(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """Only jobs asked for after the switch are dropped: one queued before it (the worker
    runs in order) still reads the workspace it was for, and its answer comes back."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    window.open_workspace(a)
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    release = _hold(window)
    seen: list[str] = []
    window.runner.run(lambda ctx: ctx.require_ws().location, seen.append)  # before: runs on A
    window.open_workspace(b)
    window.runner.run(lambda ctx: ctx.require_ws().location, seen.append)  # after: dropped
    release.set()
    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    window.runner.run(lambda ctx: ctx.require_ws().location, seen.append)  # for B now
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    assert [Path(s).name for s in seen] == ["a.pushdeck", "b.pushdeck"]
    assert errors.GATE.box is None


def test_edits_typed_just_before_the_switch_are_saved_where_they_were_typed(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """The composer's autosave waits for a pause in typing; another workspace opened in
    that pause gets none of it, and the workspace it was typed in keeps it."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    window.open_workspace(a)
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    window.go_to(PAGES.index("Compose"))
    title = window.composer.form.bindings["title"].widget
    title.clear()
    qtbot.keyClicks(title, "Typed in A")
    window.open_workspace(b)  # within the autosave's delay
    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    qtbot.wait(AUTOSAVE_DELAY_MS * 2)  # a save still waiting would have gone by now
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    with Workspace.open(a) as ws:
        saved_a = load_draft(ws, DRAFT_NAME)
    with Workspace.open(b) as ws:
        saved_b = load_draft(ws, DRAFT_NAME)
    assert saved_a is not None and saved_a["message"]["title"] == "Typed in A"
    assert saved_b is None or "Typed in A" not in str(saved_b)
    assert errors.GATE.box is None
