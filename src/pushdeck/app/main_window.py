"""The main window: assembles pages, navigation, menus and the workspace lifecycle.

Feature logic lives in the pages (composer, previews); this file only wires them together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QWidget,
)

from pushdeck.app import jobs
from pushdeck.app.appearance import apply_theme, nav_icon, store_theme, stored_theme
from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.audience.section import AudienceSection
from pushdeck.app.audit.page import AuditPage
from pushdeck.app.campaigns.page import CampaignsPage
from pushdeck.app.composer.page import ComposerPage
from pushdeck.app.credentials.page import CredentialsPage
from pushdeck.app.errors import describe, show_error
from pushdeck.app.help import AboutDialog, DocsDialog, ShortcutsDialog
from pushdeck.app.pages import WelcomePage
from pushdeck.app.preferences import PreferencesDialog
from pushdeck.app.reports.page import ReportsPage
from pushdeck.app.settings import AppSettings
from pushdeck.app.shared_workspace import SharedWorkspaceDialog
from pushdeck.app.tasks import TaskRunner
from pushdeck.app.threads import assert_gui_thread
from pushdeck.app.workspace_target import (
    SharedWorkspace,
    WorkspaceTarget,
    target_from_text,
    target_label,
    target_title,
)

WORKSPACE_FILTER = "Pushdeck workspace (*.pushdeck);;All files (*)"
PAGES = ("Campaigns", "Compose", "Audience", "Reports", "Apps & credentials", "Audit")
#: The sidebar: sections of pages (in PAGES order, so Ctrl+1…6 keep their pages).
NAV_SECTIONS = (
    ("Messages", ("Campaigns", "Compose")),
    ("People", ("Audience",)),
    ("Results", ("Reports",)),
    ("Setup", ("Apps & credentials", "Audit")),
)
PAGE_ROLE = Qt.ItemDataRole.UserRole  # a sidebar row's page index (headers have none)
#: What the focused widget is asked to do for Edit › Cut/Copy/Paste/Select All.
CLIPBOARD_SLOTS = {"cut": "cut", "copy": "copy", "paste": "paste", "select_all": "selectAll"}
AUDIENCE_COLUMNS = "audience/columns"  # the device table's shown columns, widths and order


class MainWindow(QMainWindow):
    """Pushdeck's window. Core objects come in through the constructor (no globals)."""

    def __init__(
        self, runner: TaskRunner, settings: AppSettings, qsettings: QSettings, demo_path: Path
    ) -> None:
        super().__init__()
        self.runner, self.settings, self.qsettings, self.demo_path = (
            runner,
            settings,
            qsettings,
            demo_path,
        )
        self.setWindowTitle("Pushdeck")
        self.setAccessibleName("Pushdeck")
        self.welcome = WelcomePage()
        self.composer = ComposerPage()
        self.loop = AsyncLoop(self)  # network: sends and credential checks
        self.campaigns = CampaignsPage(
            runner, self.loop, lambda: self.composer.model.draft.to_spec()
        )
        self.nav = self._build_nav()
        self.pages = QStackedWidget()
        self.audience = AudienceSection(self.runner)  # devices and segments tabs
        self.credentials = self._credentials_page()
        self.reports = ReportsPage(runner)
        pages = (self.campaigns, self.composer, self.audience, self.reports)
        self.audit = AuditPage(runner)  # a shared workspace's audit log
        for widget in (*pages, self.credentials, self.audit):
            self.pages.addWidget(widget)
        self.nav.currentRowChanged.connect(self._on_nav_row_changed)
        main = self.main_area = QWidget()  # the pages and their list
        self._opening = 0  # opens asked for and not yet done or failed
        row = QHBoxLayout(main)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.nav)
        row.addWidget(self.pages, 1)
        self.root = QStackedWidget()
        self.root.addWidget(self.welcome)
        self.root.addWidget(main)
        self.setCentralWidget(self.root)
        self.workspace_label = QLabel("No workspace")
        self.workspace_name = ""  # the status bar's name of the open workspace
        self.statusBar().addPermanentWidget(self.workspace_label)
        self.statusBar().addPermanentWidget(self.keyring_label)
        self._build_menus()
        self._connect()
        self._apply_appearance()
        self.show_welcome()
        self.restore_geometry()

    # --- assembly ------------------------------------------------------------------------------

    def _build_nav(self) -> QListWidget:
        nav = QListWidget()
        nav.setAccessibleName("Navigation")
        nav.setIconSize(QSize(18, 18))
        for section, names in NAV_SECTIONS:
            header = QListWidgetItem(section.upper())
            header.setFlags(Qt.ItemFlag.NoItemFlags)  # a heading: not selectable
            font = header.font()
            font.setPointSizeF(max(font.pointSizeF() * 0.8, 7.0))
            font.setBold(True)
            header.setFont(font)
            nav.addItem(header)
            for name in names:
                item = QListWidgetItem(name)
                item.setData(PAGE_ROLE, PAGES.index(name))
                item.setSizeHint(QSize(0, 30))
                nav.addItem(item)
        nav.setFixedWidth(190)
        return nav

    def _paint_nav_icons(self) -> None:
        color = QApplication.palette().color(QPalette.ColorRole.WindowText)
        for row in range(self.nav.count()):
            item = self.nav.item(row)
            page = item.data(PAGE_ROLE)
            if page is not None:
                item.setIcon(nav_icon(PAGES[page], color))

    def nav_row(self, page: int) -> int:
        """The sidebar row of page ``page`` (an index into PAGES)."""
        for row in range(self.nav.count()):
            if self.nav.item(row).data(PAGE_ROLE) == page:
                return row
        return -1

    def _on_nav_row_changed(self, row: int) -> None:
        item = self.nav.item(row) if row >= 0 else None
        page = item.data(PAGE_ROLE) if item is not None else None
        if page is not None:
            self.pages.setCurrentIndex(page)
            self._remember_page(page)

    def _credentials_page(self) -> CredentialsPage:
        page = CredentialsPage(self.runner, self.loop)
        self.keyring_label = QLabel()
        page.keyring_changed.connect(self.keyring_label.setText)
        return page

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self.new_campaign_action = self._action(
            file, "New &campaign…", QKeySequence.StandardKey.New, self.new_campaign
        )
        self.new_action = self._action(
            file, "&New workspace…", QKeySequence("Ctrl+Shift+N"), self.new_workspace
        )
        self.open_action = self._action(
            file, "&Open workspace…", QKeySequence.StandardKey.Open, self.open_workspace_dialog
        )
        self.open_shared_action = self._action(
            file, "Open s&hared workspace…", QKeySequence("Ctrl+Shift+O"), self.open_shared_dialog
        )
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.setAccessibleName("Recent workspaces")
        file.addMenu(self.recent_menu)
        self._action(file, "Open the &demo workspace", None, self.open_demo)
        file.addSeparator()
        self.save_action = self._action(
            file, "&Save draft", QKeySequence.StandardKey.Save, self.save_draft
        )
        self._action(
            file,
            "&Export focused preview as PNG…",
            QKeySequence("Ctrl+E"),
            self.composer.previews.focus._on_export_clicked,
        )
        file.addSeparator()
        self._action(file, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        edit = bar.addMenu("&Edit")
        stack = self.composer.model.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        self.clipboard_actions = {
            slot: self._action(edit, text, keys, partial(self.edit_focused, slot))
            for slot, text, keys in [
                ("cut", "Cu&t", QKeySequence.StandardKey.Cut),
                ("copy", "&Copy", QKeySequence.StandardKey.Copy),
                ("paste", "&Paste", QKeySequence.StandardKey.Paste),
                ("select_all", "Select &All", QKeySequence.StandardKey.SelectAll),
            ]
        }
        edit.addSeparator()
        self.prefs_action = self._action(
            edit, "&Preferences…", QKeySequence.StandardKey.Preferences, self.show_preferences
        )
        if self.prefs_action.shortcut().isEmpty():
            self.prefs_action.setShortcut(QKeySequence("Ctrl+,"))
        go = bar.addMenu("&Go")
        for index, name in enumerate(PAGES):
            label = name.replace("&", "&&")  # "Apps & credentials" shows its "&"
            self._action(go, label, QKeySequence(f"Ctrl+{index + 1}"), partial(self.go_to, index))
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "Pushdeck &documentation", QKeySequence.StandardKey.HelpContents,
                     self.show_docs)  # fmt: skip
        self._action(help_menu, "&Keyboard shortcuts", QKeySequence("Ctrl+/"), self.show_shortcuts)
        help_menu.addSeparator()
        self._action(help_menu, "&About Pushdeck", None, self._show_about)
        self._fill_recent()

    def _action(
        self,
        menu: QMenu,
        text: str,
        shortcut: QKeySequence | QKeySequence.StandardKey | None,
        slot: Callable[[], object],
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _=False: slot())
        menu.addAction(action)
        return action

    def _connect(self) -> None:
        self.welcome.demo_requested.connect(self.open_demo)
        self.welcome.new_requested.connect(self.new_workspace)
        self.welcome.open_requested.connect(self.open_workspace_dialog)
        self.welcome.shared_requested.connect(self.open_shared_dialog)
        self.campaigns.compose_requested.connect(lambda: self.go_to(1))
        self.campaigns.report_requested.connect(self.show_report)
        self.campaigns.controller.started.connect(lambda _name: self.go_to(0))  # progress
        self.composer.review_requested.connect(self.campaigns.new_campaign)
        self.campaigns.decision_needed.connect(self._on_campaigns_decision_needed)
        self.composer.autosave_requested.connect(self._on_composer_autosave_requested)
        self.runner.workspace_changed.connect(self._on_workspace_changed)
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(lambda _scheme: self._apply_appearance())

    # --- navigation and appearance ---------------------------------------------------------------

    def go_to(self, index: int) -> None:
        if self.root.currentIndex() == 1:
            self.nav.setCurrentRow(self.nav_row(index))

    def show_report(self, campaign: str) -> None:
        """The Reports page, showing ``campaign``."""
        self.go_to(PAGES.index("Reports"))
        self.reports.show_campaign(campaign)

    def _remember_page(self, page: int) -> None:
        # Only the user's choice on an open workspace (not the list's own first row).
        if self.root.currentIndex() == 1 and 0 <= page < len(PAGES):
            self.settings.last_page = PAGES[page]  # saved with the window state on close

    def _on_campaigns_decision_needed(self, text: str) -> None:
        self.go_to(0)  # the banner with its buttons is on the Campaigns page
        self.statusBar().showMessage(text, 15_000)

    def show_welcome(self, status: str = "") -> None:
        self.root.setCurrentIndex(0)
        self.welcome.status.setText(status)

    @property
    def theme(self) -> str:
        """ "system", "light" or "dark" (earlier versions kept only the previews' choice)."""
        return stored_theme(self.qsettings, self.settings.preview_appearance)

    def _apply_appearance(self) -> None:
        """The app, and the previews with it, light or dark: as the OS says, unless the
        user chose one in Preferences."""
        self.dark = apply_theme(self.theme)
        self._paint_nav_icons()
        self.composer.previews.dark_box.setChecked(self.dark)

    def show_preferences(self) -> PreferencesDialog:
        dialog = PreferencesDialog(self.theme, self)
        dialog.theme_chosen.connect(self.set_theme)
        self._open_dialog(dialog)
        return dialog

    def set_theme(self, theme: str) -> None:
        store_theme(self.qsettings, theme)
        self._apply_appearance()

    def _show_about(self) -> None:
        self._open_dialog(AboutDialog(self))

    def show_docs(self) -> None:
        self._open_dialog(DocsDialog(self))

    def show_shortcuts(self) -> None:
        self._open_dialog(ShortcutsDialog(self.findChildren(QAction), self))

    def _open_dialog(self, dialog: QDialog) -> None:
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_dialog = dialog  # tests look at it
        dialog.open()

    def edit_focused(self, slot: str) -> None:
        """Cut/Copy/Paste/Select All on the focused widget (a text field, a combo box's
        text, a spin box; Copy and Select All on a table copy or select its rows)."""
        widget = QApplication.focusWidget()
        if isinstance(widget, QComboBox) and widget.lineEdit() is not None:
            widget = widget.lineEdit()
        elif isinstance(widget, QAbstractSpinBox):
            widget = widget.findChild(QLineEdit)
        method = CLIPBOARD_SLOTS[slot]
        if isinstance(widget, QAbstractItemView) and slot == "copy":
            copy_selected_cells(widget)
        elif widget is not None and callable(getattr(widget, method, None)):
            getattr(widget, method)()

    def new_campaign(self) -> None:
        if self.root.currentIndex() != 1:
            self.statusBar().showMessage("Open a workspace to make a campaign.", 4000)
            return
        self.go_to(0)
        self.campaigns.new_campaign()

    # --- workspaces ------------------------------------------------------------------------------

    def open_workspace(self, path: WorkspaceTarget) -> None:
        """Open ``path`` (a file or a shared workspace) on the worker thread, then load its
        overview; never blocks."""
        target = path if isinstance(path, SharedWorkspace) else Path(path)
        self.statusBar().showMessage(f"Opening {target}…")
        self.composer.flush_autosave()  # queued before the open: saved where it was typed
        # Until it is open, the pages show the last workspace but take no edits: a save
        # asked for now would be dropped once the other one opens (its jobs never run
        # there), so a credential typed or a segment saved meanwhile would be lost unsaid.
        self._set_opening(+1)
        self.runner.open_workspace(
            target, self._on_workspace_opened, lambda exc: self._on_workspace_failed(target, exc)
        )

    def _set_opening(self, change: int) -> None:
        self._opening += change
        self.main_area.setEnabled(self._opening == 0)

    def open_shared_dialog(self, target: SharedWorkspace | None = None, message: str = "") -> None:
        """The connection form (filled in with ``target`` when it needs a password again)."""
        dialog = SharedWorkspaceDialog(self.loop, self)
        if target is not None:
            dialog.fill(target, message)
        dialog.open_requested.connect(self.open_workspace)
        self._open_dialog(dialog)

    def open_demo(self) -> None:
        self.statusBar().showMessage("Preparing the demo workspace…")
        self.welcome.status.setText("Preparing the demo workspace (a few seconds the first time)…")
        self.runner.run(
            jobs.create_demo(self.demo_path),
            self.open_workspace,
            lambda exc: self._on_workspace_failed(self.demo_path, exc),
        )

    def new_workspace(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Create an empty workspace", "workspace.pushdeck", WORKSPACE_FILTER
        )
        if path:
            self.open_workspace(Path(path))

    def open_workspace_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open workspace", "", WORKSPACE_FILTER)
        if path:
            self.open_workspace(Path(path))

    def save_draft(self) -> None:
        if self.runner.workspace_path is None:
            self.statusBar().showMessage("Open a workspace to save drafts.", 4000)
            return
        self._on_composer_autosave_requested(self.composer.model.draft.to_document())

    def _on_workspace_opened(self, path: WorkspaceTarget) -> None:
        assert_gui_thread("MainWindow")
        self._set_opening(-1)
        if isinstance(path, SharedWorkspace):  # the URI without its password, and where
            self.settings.remember(path.uri, path.keyring_reference)  # the password is
        else:
            self.settings.remember(path)
        self._fill_recent()
        if self.runner.open_note:
            self.statusBar().showMessage(self.runner.open_note, 15_000)
        self.runner.run(
            jobs.load_overview, self._on_overview_loaded, lambda exc: show_error(self, exc)
        )

    def _on_overview_loaded(self, overview: jobs.Overview) -> None:
        assert_gui_thread("MainWindow")
        self.audience.reload()
        last = self.settings.last_page
        self.root.setCurrentIndex(1)
        self.go_to(PAGES.index(last) if last in PAGES else 0)  # Campaigns at first
        target = self.runner.workspace_path
        self.workspace_name = target_label(target) if target is not None else overview.location
        self._show_device_count(overview.device_count)
        shared = " (shared)" if isinstance(target, SharedWorkspace) else ""
        title = target_title(target) if target is not None else overview.location
        self.setWindowTitle(f"{title}{shared} — Pushdeck")
        self.campaigns.set_rows(overview.campaigns)
        self.campaigns.due_timer.start()
        self.credentials.reload()
        self.composer.set_recipients(overview.recipients, overview.attributes)
        self.composer.set_apps(overview.apps)
        try:
            self.composer.load_document(overview.draft)
        except ValueError as exc:  # a draft saved by a newer version: keep the starter
            show_error(self, exc)
        self.workspace_label.setToolTip(str(target or overview.location))  # the whole URI
        if not self.runner.open_note:
            self.statusBar().showMessage(f"Opened {title}{shared}", 4000)

    def _on_workspace_changed(self, areas: frozenset[str]) -> None:
        if "devices" in areas:  # imported here, by the CLI or the collector: recount
            self.runner.run(jobs.count_devices, self._show_device_count)
        if "apps" in areas:
            self.runner.run(jobs.list_apps, self.composer.set_apps)

    def _show_device_count(self, count: int) -> None:
        self.workspace_label.setText(f"{self.workspace_name} · {count:,} devices")

    def _on_workspace_failed(self, path: WorkspaceTarget, exc: BaseException) -> None:
        self._set_opening(-1)  # the last workspace, if any, is still open: back to it
        self.statusBar().clearMessage()
        if self.runner.workspace_path is None:
            self.show_welcome(f"Could not open {path}.")
        if isinstance(path, SharedWorkspace) and not path.create:
            # Most often the password (not in this keyring, or changed): ask again, with
            # what the server said.
            self.open_shared_dialog(path, describe(exc))
            return
        show_error(self, exc, "Could not open the workspace")

    def _on_composer_autosave_requested(self, document: dict) -> None:  # type: ignore[type-arg]
        if self.runner.workspace_path is not None:
            self.runner.run(
                jobs.save_draft(document), self._on_draft_saved, lambda exc: show_error(self, exc)
            )

    def _on_draft_saved(self, _result: object) -> None:
        from datetime import UTC, datetime

        from pushdeck.app.dates import format_when

        self.composer.mark_saved(f"Saved {format_when(datetime.now(UTC))}")
        self.statusBar().showMessage("Draft saved", 2000)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for text in self.settings.recent_workspaces:
            action = self.recent_menu.addAction(text)
            action.triggered.connect(lambda _=False, p=text: self.open_recent(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_workspaces))

    def open_recent(self, text: str) -> None:
        """A recent entry: a file, or a shared workspace whose password the keyring has."""
        target = target_from_text(text)
        if isinstance(target, SharedWorkspace):
            target = replace(target, keyring_ref=self.settings.shared_keyring.get(text, ""))
        self.open_workspace(target)

    # --- window state ----------------------------------------------------------------------------

    def restore_geometry(self) -> None:
        geometry = self.qsettings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        self.audience.devices.restore_columns_state(self.qsettings.value(AUDIENCE_COLUMNS))

    def shutdown(self) -> None:
        """Stop the network loop and the SQLite worker (after the window closed).

        Leaving either thread running into interpreter exit lets Qt objects be destroyed
        under it, which can crash the process on its way out. The pages' timers stop first:
        none may hand work to a stopped loop or worker afterwards.
        """
        self.campaigns.due_timer.stop()
        self.reports.timer.stop()
        self.loop.shutdown()
        self.runner.shutdown()
        self.composer.images.shutdown()  # image loads on Qt's thread pool

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.campaigns.confirm_close():  # a campaign is sending: ask first
            event.ignore()
            return
        self.qsettings.setValue("window/geometry", self.saveGeometry())
        self.settings.save()  # the last page, among others
        self.qsettings.setValue(AUDIENCE_COLUMNS, self.audience.devices.columns_state())
        self.qsettings.sync()
        super().closeEvent(event)


def copy_selected_cells(view: QAbstractItemView) -> None:
    """The selected cells as tab-separated lines (pastes into a spreadsheet)."""
    indexes = sorted(view.selectedIndexes(), key=lambda i: (i.row(), i.column()))
    rows: dict[int, list[str]] = {}
    for index in indexes:
        rows.setdefault(index.row(), []).append(str(index.data() or ""))
    if rows:
        QApplication.clipboard().setText("\n".join("\t".join(r) for r in rows.values()))
