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
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QMessageBox

from pushdeck.app import errors
from pushdeck.app.composer.draft import DRAFT_NAME
from pushdeck.app.composer.page import AUTOSAVE_DELAY_MS
from pushdeck.app.credentials.page import AppDialog
from pushdeck.app.main import build_window
from pushdeck.app.main_window import PAGES, MainWindow
from pushdeck.core.campaigns.library import create_campaign, list_campaigns
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials.secrets import store_credential
from pushdeck.core.reports.dashboard import DashboardData
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.drafts import load_draft
from tests.core.campaign_helpers import add_devices


def _workspace(path: Path, campaign: str, devices: int) -> Path:
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        # A credential with its secret on this machine: without one no device is sendable,
        # and without the secret Send is off here.
        store_credential(ws, "shop", ProviderKind.APNS, "token", {"p8": "test"}, {})
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, devices + 1)])
        doc = {"name": campaign, "app": "shop", "audience": {"all": True},
               "message": {"title": f"Hello from {campaign}"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
    return path


@pytest.fixture
def window(qtbot, tmp_path: Path, memory_keyring: object) -> Iterator[MainWindow]:
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


# --- dialogs opened for one workspace, left open while another opens ----------------------------
#
# A dialog's jobs belong to the workspace it was opened for: once another one opens, those
# still queued are dropped (their answers never come) and any new one would run on the other
# workspace with this one's names (the review's campaign, the device's id). Such a dialog
# must neither wait forever nor act on the workspace opened after it.


def _show(qtbot, window: MainWindow, path: Path) -> None:
    """Open ``path`` in the window and wait until every load for it came back."""
    window.open_workspace(path)
    qtbot.wait_until(lambda: window.runner.workspace_path == path, timeout=20_000)
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)


def _switch(qtbot, window: MainWindow, path: Path) -> None:
    window.open_workspace(path)
    qtbot.wait_until(lambda: window.runner.workspace_path == path, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)


#: How long a dialog may take to notice the switch (events only: no job to wait for).
NOTICE_MS = 3000


def test_a_review_asked_for_while_another_workspace_opens_does_not_wait_forever(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """Its audience count was queued for A after B's opening: the runner drops it, so the
    dialog must say what happened instead of "Counting the audience…" for good."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    _show(qtbot, window, a)
    window.go_to(PAGES.index("Campaigns"))
    release = _hold(window)
    window.open_workspace(b)  # File › Open, queued behind the held job
    dialog = window.campaigns.open_campaign("W")
    assert dialog is not None
    release.set()
    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)

    qtbot.wait_until(  # the bounded wait that timed out before the fix
        lambda: not dialog.isVisible() or "Counting" not in dialog.summary.text(),
        timeout=NOTICE_MS,
    )
    assert dialog.isVisible()  # it says so rather than vanishing
    assert dialog.workspace_gone.isVisible()
    assert "a.pushdeck" in dialog.workspace_gone.text()
    assert "b.pushdeck" in dialog.workspace_gone.text()
    assert not dialog.send_button.isVisible() and not dialog.send_button.isEnabled()
    assert not dialog.test_button.isEnabled()
    assert dialog.close_button.isVisible()
    shot = tmp_path / "review-workspace-gone-early.png"
    assert dialog.grab().save(str(shot))
    dialog.close_button.click()
    assert not dialog.isVisible()
    assert errors.GATE.box is None


def test_a_review_left_open_across_a_switch_never_sends_in_the_new_workspace(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """A reviewed "W" of A, Send on: B has a campaign "W" too. After the switch the dialog
    offers only Close, and a click on Send (or its confirmation) sends nothing anywhere."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "W", devices=5)
    _show(qtbot, window, a)
    window.go_to(PAGES.index("Campaigns"))
    dialog = window.campaigns.open_campaign("W")
    assert dialog is not None
    qtbot.wait_until(lambda: dialog.review is not None, timeout=20_000)
    assert dialog.send_button.isEnabled()
    assert dialog.review is not None and dialog.review.eligible == 3
    asked: list[str] = []
    dialog.send_requested.connect(asked.append)
    dialog.send_button.click()  # "Send now?" open when the switch comes
    box = dialog.confirmation
    assert box is not None and box.isVisible()

    _switch(qtbot, window, b)  # the recent list, File › Open, a test: whoever switches
    qtbot.wait_until(  # the bounded wait that timed out before the fix
        lambda: not dialog.isVisible() or not dialog.send_button.isEnabled(), timeout=NOTICE_MS
    )
    assert dialog.workspace_gone.isVisible()
    assert not dialog.send_button.isVisible()
    assert not dialog.approve_button.isVisible()
    assert dialog.close_button.isVisible()
    shot = tmp_path / "review-workspace-gone.png"
    assert dialog.grab().save(str(shot))

    assert not box.isVisible()  # the question was about A's "W"
    assert dialog.confirmation is None

    # Whatever gets through (a click queued before the switch), nothing is sent.
    box.send_button.click()
    dialog.send_button.click()
    dialog._on_send_button_clicked()
    if dialog.confirmation is not None:
        dialog.confirmation.send_button.click()
    dialog.send_test()
    dialog.approve()
    qtbot.wait(200)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    assert asked == []
    assert not window.campaigns.controller.active
    with Workspace.open(b) as ws:
        from pushdeck.core.campaigns.library import get_campaign

        assert get_campaign(ws, "W").status == "draft"
    assert errors.GATE.box is None, errors.GATE.box.text()


def _device_dialog(window: MainWindow) -> QDialog:
    return window.audience.devices.open_device(1)


def _new_campaign_dialog(window: MainWindow) -> QDialog:
    return window.campaigns.new_campaign()


def _add_app_dialog(window: MainWindow) -> QDialog:
    window.credentials._on_add_app_clicked()
    return window.credentials.findChildren(AppDialog)[-1]


def _import_wizard(window: MainWindow) -> QDialog:
    return window.audience.devices.open_import()


@pytest.mark.parametrize(
    "open_dialog", [_device_dialog, _new_campaign_dialog, _add_app_dialog, _import_wizard],
    ids=["device details", "new campaign", "add app", "import devices"],
)  # fmt: skip
def test_other_dialogs_of_the_last_workspace_close_when_another_opens(
    qtbot, tmp_path: Path, window: MainWindow, open_dialog: Callable[[MainWindow], QDialog]
) -> None:
    """Device details (Save would write device 1 of B), New campaign (A's apps and
    segments, created in B), Add an app and Import devices (A's apps): each closes with
    its workspace."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    _show(qtbot, window, a)
    dialog = open_dialog(window)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    assert dialog.isVisible()
    _switch(qtbot, window, b)
    qtbot.wait_until(lambda: not dialog.isVisible(), timeout=NOTICE_MS)
    assert errors.GATE.box is None


def test_a_send_confirmation_of_the_last_workspace_closes_when_another_opens(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """The "Send now?" of a missed schedule of A (the Campaigns page's banner): once B
    is open its Send must not send B's campaign of the same name."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "W", devices=5)
    _show(qtbot, window, a)
    page = window.campaigns
    page.confirm_and_send("W")
    qtbot.wait_until(lambda: page.confirmation is not None, timeout=20_000)
    box = page.confirmation
    assert box is not None and box.isVisible()
    _switch(qtbot, window, b)
    qtbot.wait_until(lambda: not box.isVisible(), timeout=NOTICE_MS)
    assert page.confirmation is None
    assert not page.controller.active


def test_an_import_asked_for_while_another_workspace_opens_does_not_wait_forever(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """Import pressed while B opens: the job is for A, so it never runs; the wizard must
    not stay on its progress step (Close off) for good, and neither workspace changes."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "Only in B", devices=5)
    source = tmp_path / "devices.csv"
    source.write_text("token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(100, 110)))
    _show(qtbot, window, a)
    wizard = window.audience.devices.open_import()
    qtbot.wait_until(lambda: wizard.app_box.count() == 1, timeout=20_000)
    with qtbot.wait_signal(wizard.previewed, timeout=20_000):
        wizard.load_file(source)
    release = _hold(window)
    window.open_workspace(b)
    wizard.start_import()
    release.set()
    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=20_000)
    qtbot.wait_until(lambda: not wizard.isVisible(), timeout=NOTICE_MS)
    for path, devices in ((a, 3), (b, 5)):
        with Workspace.open(path) as ws:
            assert ws.scalar("SELECT count(*) FROM devices") == devices
    assert errors.GATE.box is None


def test_a_workspace_that_cannot_open_leaves_the_last_one_working(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """Opening a file that is not a workspace (or a shared one with a wrong password) said
    so, but had closed the one the window still showed: every page then failed with "No
    workspace is open". The last workspace stays open until the next one has opened."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    _show(qtbot, window, a)
    not_one = tmp_path / "notes.pushdeck"
    not_one.write_text("shopping list\n")
    window.open_workspace(not_one)
    qtbot.wait_until(lambda: errors.GATE.box is not None, timeout=20_000)
    box = errors.GATE.box
    assert isinstance(box, QMessageBox) and "notes.pushdeck" in box.text()
    box.close()
    assert window.runner.workspace_path == a
    assert window.main_area.isEnabled()  # back to A's pages, which take edits again

    names: list[object] = []
    failures: list[BaseException] = []
    window.runner.run(
        lambda ctx: [c.name for c in list_campaigns(ctx.require_ws())],
        names.append,
        failures.append,
    )
    qtbot.wait_until(lambda: bool(names or failures), timeout=20_000)
    assert failures == []
    assert names == [["W"]]
    assert not_one.read_text() == "shopping list\n"  # and the file is left as it was


def test_the_pages_take_no_edits_while_another_workspace_opens(
    qtbot, tmp_path: Path, window: MainWindow
) -> None:
    """A save asked for while B opens is for A, and is dropped once B is open: the pages
    are disabled meanwhile, so nothing typed then is lost without a word."""
    a = _workspace(tmp_path / "a.pushdeck", "W", devices=3)
    b = _workspace(tmp_path / "b.pushdeck", "W", devices=5)
    _show(qtbot, window, a)
    window.go_to(PAGES.index("Apps & credentials"))
    release = _hold(window)
    window.open_workspace(b)
    assert not window.credentials.isEnabled()
    qtbot.mouseClick(window.credentials.add_app, Qt.MouseButton.LeftButton)
    assert window.credentials.findChildren(AppDialog) == []  # the click did nothing
    release.set()
    qtbot.wait_until(lambda: window.runner.workspace_path == b, timeout=20_000)
    assert window.credentials.isEnabled()
    qtbot.mouseClick(window.credentials.add_app, Qt.MouseButton.LeftButton)
    dialog = window.credentials.findChildren(AppDialog)[-1]
    assert dialog.isVisible()
    dialog.reject()
