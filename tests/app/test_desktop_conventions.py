"""Desktop conventions (issue 15): Edit and Help menus that act, Ctrl+N for a new campaign,
buttons that need a selection, an error dialog that cannot storm, word-wise undo."""

from __future__ import annotations

import sqlite3

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QMessageBox

from pushdeck.app import errors
from pushdeck.app.campaigns.new_campaign import NewCampaignDialog
from pushdeck.app.composer.model import TYPING_PAUSE_S, ComposerModel
from pushdeck.app.errors import CrashDialog, show_error
from pushdeck.app.help import AboutDialog, DocsDialog, ShortcutsDialog
from pushdeck.app.main import build_window
from pushdeck.core.common.errors import WorkspaceError


@pytest.fixture
def window(qtbot, tmp_path):
    window = build_window(None, config_dir=tmp_path / "c", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.show()
    window.open_workspace(tmp_path / "w.pushdeck")
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=10_000)
    yield window
    window.shutdown()


def _menu(window, title: str):
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            return action.menu()
    raise AssertionError(f"no {title} menu")


def _texts(menu) -> list[str]:
    return [a.text().replace("&&", "&").replace("&", "") for a in menu.actions() if a.text()]


def test_edit_menu_cut_copy_paste_select_all_act_on_the_focused_field(qtbot, window) -> None:
    assert {"Cut", "Copy", "Paste", "Select All"} <= set(_texts(_menu(window, "Edit")))
    window.go_to(2)  # the device search field
    field = window.audience.findChild(QLineEdit)
    field.setText("hello world")
    window.activateWindow()
    field.setFocus()
    qtbot.wait_until(lambda: QApplication.focusWidget() is field)
    window.clipboard_actions["select_all"].trigger()
    assert field.selectedText() == "hello world"
    window.clipboard_actions["copy"].trigger()
    assert QApplication.clipboard().text() == "hello world"
    window.clipboard_actions["cut"].trigger()
    assert field.text() == ""
    window.clipboard_actions["paste"].trigger()
    window.clipboard_actions["paste"].trigger()
    assert field.text() == "hello worldhello world"


def test_ctrl_n_is_new_campaign_and_new_workspace_moved(qtbot, window, monkeypatch) -> None:
    assert window.new_campaign_action.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert window.new_action.shortcut() == QKeySequence("Ctrl+Shift+N")
    window.new_campaign_action.trigger()
    dialog = window.campaigns.findChild(NewCampaignDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.reject()


def test_go_menu_shows_the_ampersand_of_apps_and_credentials(window) -> None:
    go = _menu(window, "Go")
    assert any(a.text() == "Apps && credentials" for a in go.actions())


def test_help_menu_has_docs_shortcuts_and_about(qtbot, window) -> None:
    help_menu = _menu(window, "Help")
    assert _texts(help_menu) == [
        "Pushdeck documentation",
        "Keyboard shortcuts",
        "About Pushdeck",
    ]
    window.show_docs()
    assert isinstance(window.last_dialog, DocsDialog)
    assert "Pushdeck" in window.last_dialog.browser.toPlainText()
    window.last_dialog.close()
    window.show_shortcuts()
    dialog = window.last_dialog
    assert isinstance(dialog, ShortcutsDialog)
    rows = {
        dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text()
        for r in range(dialog.table.rowCount())
    }
    assert rows["New campaign"] == QKeySequence("Ctrl+N").toString(
        QKeySequence.SequenceFormat.NativeText
    )
    assert rows["New workspace"] == "Ctrl+Shift+N"
    assert "Copy" in rows and "Apps & credentials" in rows
    dialog.close()
    window._show_about()
    about = window.last_dialog
    assert isinstance(about, AboutDialog)
    from pushdeck import __version__

    assert __version__ in about.text.text() and "MIT" in about.text.text()
    about.close()


def test_campaign_buttons_need_a_selected_campaign(qtbot, window, tmp_path) -> None:
    page = window.campaigns
    b = page.buttons
    assert not b["open"].isEnabled() and not b["duplicate"].isEnabled()
    assert not b["delete"].isEnabled()
    assert b["new"].isEnabled() and b["compose"].isEnabled()


def test_campaign_buttons_follow_the_selection_on_the_demo(qtbot, tmp_path) -> None:
    from pushdeck.app.async_loop import AsyncLoop
    from pushdeck.app.campaigns.page import CampaignsPage
    from pushdeck.app.tasks import TaskRunner
    from pushdeck.core.demo.workspace import create_demo

    path = create_demo(tmp_path / "demo.pushdeck", devices=50)
    runner, loop = TaskRunner(), AsyncLoop()
    try:
        runner.open_workspace(path)
        page = CampaignsPage(runner, loop, lambda: None)
        qtbot.addWidget(page)
        with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
            page.reload()
        assert page.model.rowCount() > 0
        assert not page.buttons["delete"].isEnabled()
        page.table.selectRow(0)
        assert page.buttons["delete"].isEnabled() and page.buttons["open"].isEnabled()
        page.table.clearSelection()
        assert not page.buttons["duplicate"].isEnabled()
    finally:
        loop.shutdown()
        runner.shutdown()


def test_credentials_and_segment_buttons_need_a_selection(qtbot, window) -> None:
    creds = window.credentials
    assert not creds.check_button.isEnabled() and not creds.remove_button.isEnabled()
    segments = window.audience.segments
    for key in ("rename", "duplicate", "delete"):
        assert not segments.buttons[key].isEnabled()


def test_composer_remove_buttons_need_a_row_or_locale(window) -> None:
    from PySide6.QtWidgets import QPushButton, QTabWidget

    buttons = window.composer.findChildren(QPushButton)
    rows = [b for b in buttons if b.accessibleName().startswith("Remove from")]
    assert len(rows) >= 3 and not any(b.isEnabled() for b in rows)
    locale = next(b for b in buttons if b.text() == "Remove locale")
    tabs = next(t for t in window.composer.findChildren(QTabWidget)
                if t.accessibleName() == "Localizations")  # fmt: skip
    while tabs.count():
        locale.click()
    assert not locale.isEnabled()
    window.composer.model.edit(lambda d: d.with_locale("de"))
    assert tabs.count() == 1 and locale.isEnabled()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _boxes(qtbot) -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.isVisible()
    ]  # fmt: skip


def test_the_same_error_every_4_s_opens_one_dialog_and_counts(qtbot, window, monkeypatch):
    clock = _Clock()
    gate = errors.ErrorGate(clock)
    monkeypatch.setattr(errors, "GATE", gate)
    for _ in range(5):  # a failing poll every 4 s
        show_error(window, WorkspaceError("The workspace is locked."))
        clock.now += 4
    assert gate.dialogs_opened == 1
    box = gate.box
    assert isinstance(box, QMessageBox)
    assert "5 times" in box.informativeText()
    box.done(0)
    show_error(window, WorkspaceError("The workspace is locked."))  # 20 s later: still quiet
    assert gate.dialogs_opened == 1
    assert "again" in window.statusBar().currentMessage()
    clock.now += 31
    show_error(window, WorkspaceError("The workspace is locked."))
    assert gate.dialogs_opened == 2
    gate.box.done(0)


def test_a_different_error_while_one_is_open_joins_it(qtbot, window, monkeypatch) -> None:
    gate = errors.ErrorGate(_Clock())
    monkeypatch.setattr(errors, "GATE", gate)
    show_error(window, WorkspaceError("First problem."))
    show_error(window, OSError("Second problem."))
    assert gate.dialogs_opened == 1
    assert "Second problem." in gate.box.detailedText()
    gate.box.done(0)


def test_a_storage_error_never_claims_nothing_was_sent_or_deleted(qtbot, window) -> None:
    show_error(window, sqlite3.OperationalError("disk I/O error"))
    box = errors.GATE.box
    assert isinstance(box, QMessageBox)
    assert "nothing was sent" not in box.text().lower()
    assert "may not have been saved" in box.text()
    box.done(0)
    try:
        try:
            raise sqlite3.DatabaseError("database disk image is malformed")
        except sqlite3.DatabaseError as inner:
            raise RuntimeError("saving the draft failed") from inner
    except RuntimeError as exc:
        crash = CrashDialog.for_exception(type(exc), exc, exc.__traceback__)
    qtbot.addWidget(crash)
    shown = " ".join(label.text() for label in crash.findChildren(type(crash.repeat)))
    assert "Nothing was sent or deleted" not in shown
    assert "may not have been saved" in shown


def test_typing_makes_an_undo_step_per_word_and_per_pause(qtbot) -> None:
    model = ComposerModel()
    clock = _Clock()
    model.clock = clock
    body = ""
    for char in "Hello world":
        body += char
        model.set_field("body", body)
        clock.now += 0.1
    clock.now += TYPING_PAUSE_S + 0.5
    for char in "!":
        body += char
        model.set_field("body", body)
    stack = model.undo_stack
    stack.undo()
    assert model.draft.message.body == "Hello world"
    stack.undo()
    assert model.draft.message.body == "Hello"
    stack.undo()
    assert model.draft.message.body != "Hello" and "Hello" not in model.draft.message.body


def test_typing_into_the_composer_body_undoes_word_by_word(qtbot, window) -> None:
    composer = window.composer
    body = composer.form.bindings["body"].widget
    body.setPlainText("")
    body.setFocus()
    qtbot.keyClicks(body, "Sale today")
    assert composer.model.draft.message.body == "Sale today"
    window.undo_action.trigger()
    assert composer.model.draft.message.body == "Sale"
    assert body.toPlainText() == "Sale"
    window.redo_action.trigger()
    assert body.toPlainText() == "Sale today"


# --- appearance, sidebar, sizes ---------------------------------------------------------


@pytest.fixture
def restore_palette(qapp):
    palette = qapp.palette()
    yield
    qapp.setPalette(palette)


def test_dark_mode_is_app_wide_and_remembered(qtbot, window, tmp_path, restore_palette) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QComboBox

    from pushdeck.app.appearance import THEME_KEY
    from pushdeck.app.preferences import PreferencesDialog

    dialog = window.show_preferences()
    assert isinstance(dialog, PreferencesDialog)
    box: QComboBox = dialog.theme_box
    box.setCurrentIndex(box.findData("dark"))
    dialog.accept()
    window_color = QApplication.palette().color(QPalette.ColorRole.Window)
    assert window_color.lightness() < 80  # the whole app, not only the previews
    table = window.campaigns.table
    qtbot.wait_until(lambda: table.palette().color(QPalette.ColorRole.Base).lightness() < 80)
    assert window.composer.previews.dark_box.isChecked()
    assert window.qsettings.value(THEME_KEY) == "dark"
    window.set_theme("light")
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180
    assert not window.composer.previews.dark_box.isChecked()


def test_system_theme_follows_the_os(qtbot, window, monkeypatch, restore_palette) -> None:
    from PySide6.QtGui import QPalette

    from pushdeck.app import appearance

    window.set_theme("system")
    monkeypatch.setattr(appearance, "os_is_dark", lambda: True)
    window._apply_appearance()  # what colorSchemeChanged triggers
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 80
    monkeypatch.setattr(appearance, "os_is_dark", lambda: False)
    window._apply_appearance()
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 180


def test_the_sidebar_has_sections_and_icons_and_keeps_ctrl_numbers(window) -> None:
    from pushdeck.app.main_window import PAGE_ROLE, PAGES

    nav = window.nav
    headers = [
        nav.item(r).text() for r in range(nav.count()) if nav.item(r).data(PAGE_ROLE) is None
    ]
    assert headers == ["MESSAGES", "PEOPLE", "RESULTS", "SETUP"]
    for row in range(nav.count()):
        item = nav.item(row)
        if item.data(PAGE_ROLE) is None:
            assert not item.flags() & Qt.ItemFlag.ItemIsSelectable
        else:
            assert not item.icon().isNull()
    for index, _name in enumerate(PAGES):
        window.go_to(index)
        assert window.pages.currentIndex() == index
        assert nav.currentItem().text() == PAGES[index]


def test_compose_shows_every_tab_at_1440_by_900(qtbot, window) -> None:
    window.resize(1440, 900)
    window.go_to(1)
    qtbot.wait(50)
    tabs = window.composer.form.tabs
    bar = tabs.tabBar()
    assert not tabs.usesScrollButtons()
    assert all(bar.tabRect(i).right() <= bar.width() for i in range(bar.count()))
    assert tabs.width() >= bar.sizeHint().width()


def test_nothing_is_clipped_at_the_minimum_window_size(qtbot, window) -> None:
    from PySide6.QtWidgets import QAbstractButton, QCheckBox

    window.resize(window.minimumSizeHint())
    for index in range(5):
        window.go_to(index)
        qtbot.wait(30)
        page = window.pages.currentWidget()
        for button in page.findChildren(QAbstractButton):
            if not button.isVisible() or (isinstance(button, QCheckBox) and not button.text()):
                continue
            if button.window() is not window or not button.isVisibleTo(page):
                continue
            hint = (
                button.sizeHint() if not isinstance(button, QCheckBox) else button.minimumSizeHint()
            )
            assert button.width() >= hint.width() - 2, (index, button.text(), button.width(), hint)
