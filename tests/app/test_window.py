"""Window smoke test, the TaskRunner's threading contract, errors and settings."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from pushdeck.app.errors import CrashDialog, install_excepthook
from pushdeck.app.main import build_window
from pushdeck.app.settings import AppSettings
from pushdeck.app.tasks import TaskRunner
from pushdeck.app.threads import WrongThreadError, assert_gui_thread


@pytest.fixture
def runner(qtbot):
    runner = TaskRunner()
    yield runner
    runner.shutdown()


def _wait_result(qtbot, runner, fn):
    box: dict[str, object] = {}
    runner.run(fn, lambda r: box.setdefault("result", r), lambda e: box.setdefault("error", e))
    qtbot.wait_until(lambda: bool(box), timeout=10_000)
    return box


def test_jobs_run_on_the_worker_thread_and_results_come_back_on_the_gui_thread(
    qtbot, runner
) -> None:
    gui = threading.get_ident()
    seen: dict[str, int] = {}

    def job(_ctx) -> int:
        seen["job"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["done"] = threading.get_ident()
        seen["value"] = value

    runner.run(job, done)
    qtbot.wait_until(lambda: "value" in seen, timeout=5000)
    assert seen["job"] != gui
    assert seen["done"] == gui and seen["value"] == 42


def test_touching_a_widget_off_the_gui_thread_fails(qtbot, runner) -> None:
    label = QLabel()
    qtbot.addWidget(label)

    def job(_ctx) -> None:
        assert_gui_thread("QLabel")
        label.setText("from the worker")  # never reached

    box = _wait_result(qtbot, runner, job)
    assert isinstance(box.get("error"), WrongThreadError)
    assert label.text() == ""


def test_workspace_opens_on_the_worker(qtbot, runner, tmp_path) -> None:
    with qtbot.wait_signal(runner.workspace_opened, timeout=10_000):
        runner.open_workspace(tmp_path / "w.pushdeck")
    box = _wait_result(qtbot, runner, lambda ctx: ctx.require_ws().path.name)
    assert box["result"] == "w.pushdeck"


def test_no_workspace_is_a_clear_error(qtbot, runner) -> None:
    box = _wait_result(qtbot, runner, lambda ctx: ctx.require_ws())
    assert "No workspace is open" in str(box["error"])


def test_crash_dialog_has_copyable_details(qtbot) -> None:
    previous = sys.excepthook
    try:
        hook = install_excepthook(lambda: None)
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            hook(type(exc), exc, exc.__traceback__)
        dialog: CrashDialog = hook.last_dialog  # type: ignore[attr-defined]
        qtbot.addWidget(dialog)
        assert "RuntimeError: boom" in dialog.details.toPlainText()
        assert "Traceback" in dialog.details.toPlainText()
        dialog.copy_details()
        from PySide6.QtWidgets import QApplication

        assert "boom" in QApplication.clipboard().text()
    finally:
        sys.excepthook = previous


def test_settings_round_trip_and_recent_list(tmp_path) -> None:
    settings = AppSettings.load(tmp_path / "s.json")
    assert settings.recent_workspaces == []
    for name in ("a", "b", "a"):
        settings.remember(tmp_path / name)
    again = AppSettings.load(tmp_path / "s.json")
    assert again.recent_workspaces == [str(tmp_path / "a"), str(tmp_path / "b")]
    (tmp_path / "bad.json").write_text("{not json")
    assert AppSettings.load(tmp_path / "bad.json").recent_workspaces == []


def test_window_smoke_first_run_then_demo(qtbot, tmp_path) -> None:
    window = build_window(
        None, config_dir=tmp_path / "config", demo_path=tmp_path / "demo.pushdeck"
    )
    qtbot.addWidget(window)
    window.show()
    assert window.root.currentWidget() is window.welcome  # first run: no workspace
    assert window.welcome.demo_button.accessibleName() == "Open the demo workspace"
    window.welcome.demo_button.click()
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=60_000)
    assert "3,000 devices" in window.workspace_label.text()
    assert window.pages.currentWidget() is window.campaigns  # not a nameless draft
    assert window.composer.recipient.count() > 10  # real devices to preview as
    assert "first_name" in window.composer._attributes
    # undo is wired to the composer
    window.composer.model.set_field("title", "Changed")
    assert window.undo_action.isEnabled()
    window.undo_action.trigger()
    assert window.composer.model.draft.message.title != "Changed"
    # the draft is saved to the workspace and comes back when it is reopened (another
    # workspace in between shows its own draft)
    window.composer.model.set_field("body", "Saved body")
    window.save_draft()
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=10_000)

    def reopen_demo_via_another() -> None:
        window.open_workspace(tmp_path / "other.pushdeck")
        qtbot.wait_until(
            lambda: window.workspace_label.text().startswith("other.pushdeck"), timeout=10_000
        )
        assert window.composer.model.draft.message.body not in ("Saved body", "Typed last")
        window.open_workspace(tmp_path / "demo.pushdeck")

    reopen_demo_via_another()
    qtbot.wait_until(
        lambda: window.composer.model.draft.message.body == "Saved body", timeout=10_000
    )
    # an edit still waiting for its autosave when another workspace opens is saved where
    # it was typed
    window.composer.model.set_field("body", "Typed last")
    reopen_demo_via_another()
    qtbot.wait_until(
        lambda: window.composer.model.draft.message.body == "Typed last", timeout=10_000
    )
    # navigation and recent workspaces
    window.go_to(0)
    assert window.pages.currentWidget() is window.campaigns
    assert window.recent_menu.actions()[0].text() == str(tmp_path / "demo.pushdeck")
    window.close()
    assert (tmp_path / "config" / "window.ini").exists()
    window.runner.shutdown()


def test_window_reopens_last_workspace(qtbot, tmp_path) -> None:
    config = tmp_path / "config"
    AppSettings(
        last_workspace=str(tmp_path / "w.pushdeck"), path=config / "app-settings.json"
    ).save()
    Path(tmp_path / "w.pushdeck").touch()
    window = build_window(None, config_dir=config, demo_path=tmp_path / "demo.pushdeck")
    qtbot.addWidget(window)
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    assert window.workspace_label.text().startswith("w.pushdeck · 0 devices")
    window.runner.shutdown()


def test_bad_workspace_file_shows_an_error_and_stays_on_welcome(qtbot, tmp_path) -> None:
    bad = tmp_path / "bad.pushdeck"
    bad.write_bytes(b"this is not sqlite at all, definitely not" * 10)
    window = build_window(None, config_dir=tmp_path / "c", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.open_workspace(bad)
    qtbot.wait_until(lambda: "Could not open" in window.welcome.status.text(), timeout=10_000)
    assert window.root.currentWidget() is window.welcome
    window.runner.shutdown()


def test_pyside_refcount_workaround_is_active() -> None:
    import pushdeck.app._compat as compat

    if sys.version_info >= (3, 12):
        pytest.skip("None, True and False are immortal on 3.12+")
    assert sys.getrefcount(None) > 1 << 59
    assert sys.getrefcount(True) > 1 << 59
    assert not compat.make_none_immortal()  # applied once, at import


def test_audience_page_is_in_the_navigation(qtbot, tmp_path) -> None:
    window = build_window(None, config_dir=tmp_path / "c", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.open_workspace(tmp_path / "w.pushdeck")
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    window.go_to(2)
    assert window.pages.currentWidget() is window.audience
    assert window.audience.accessibleName() == "Audience"
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=10_000)
    window.runner.shutdown()


def test_audience_columns_are_remembered_across_runs(qtbot, tmp_path) -> None:
    from pushdeck.app.audience.page import COLUMNS

    config = tmp_path / "c"
    first = build_window(None, config_dir=config, demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(first)
    table, actions = first.audience.devices.table, first.audience.devices._column_actions
    token = [key for key, _h, _s in COLUMNS].index("token")
    shown = [c for c in range(len(COLUMNS)) if not table.isColumnHidden(c)]
    hide = next(c for c in shown if c != token)
    actions[hide].setChecked(False)  # what the Columns menu does
    table.setColumnWidth(token, 417)
    first.close()
    first.runner.shutdown()

    second = build_window(None, config_dir=config, demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(second)
    table, actions = second.audience.devices.table, second.audience.devices._column_actions
    assert table.isColumnHidden(hide) and not actions[hide].isChecked()
    assert table.columnWidth(token) == 417
    assert all(actions[c].isChecked() for c in shown if c != hide)
    second.runner.shutdown()
