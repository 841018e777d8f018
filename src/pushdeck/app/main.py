"""Composition root: builds the app's objects, injects them, shows the window.

``pushdeck`` with no arguments calls ``run_app(workspace, argv)``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import shiboken6
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from pushdeck.app import async_loop, tasks
from pushdeck.app.errors import install_excepthook, show_error
from pushdeck.app.fonts import load_bundled_fonts
from pushdeck.app.gui_gc import GuiThreadCollector
from pushdeck.app.main_window import MainWindow
from pushdeck.app.reports.charts import release_charts
from pushdeck.app.settings import AppSettings
from pushdeck.app.tasks import TaskRunner
from pushdeck.app.workspace_target import SharedWorkspace, target_from_text
from pushdeck.core.common.errors import PushdeckError

OPEN_FAILED = "Could not open the workspace"


def build_window(
    workspace: Path | str | None,
    *,
    config_dir: Path | None = None,
    demo_path: Path | None = None,
    workspace_error: PushdeckError | None = None,
) -> MainWindow:
    """Create the runner, settings and window (a QApplication must exist).

    ``workspace_error``: the workspace asked for cannot be opened (a URI it does not
    accept, or PostgreSQL in this version): the welcome page and a dialog say so, and no
    other workspace is opened in its place.
    """
    from pushdeck.core.common import paths

    config = config_dir or paths.config_dir()
    settings = AppSettings.load(config / "app-settings.json")
    qsettings = QSettings(str(config / "window.ini"), QSettings.Format.IniFormat)
    runner = TaskRunner()
    window = MainWindow(runner, settings, qsettings, demo_path or paths.demo_workspace_path())
    runner.setParent(window)
    if workspace_error is not None:
        window.show_welcome("Could not open the workspace.")
        # Once the window is up, so the dialog sits on it.
        QTimer.singleShot(0, window, lambda: show_error(window, workspace_error, OPEN_FAILED))
        return window
    if workspace is not None:  # a file, or a postgresql:// URI (its password stays in memory)
        window.open_workspace(target_from_text(str(workspace)))
    elif settings.last_workspace:
        last = target_from_text(settings.last_workspace)
        if isinstance(last, SharedWorkspace) or last.exists():
            window.open_recent(settings.last_workspace)  # a shared one: password from keyring
    return window


def run_app(
    workspace: Path | str | None, argv: list[str], *, workspace_error: PushdeckError | None = None
) -> int:
    """Open the main window on ``workspace`` (or the last one, or the welcome page)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("Pushdeck")
    app.setOrganizationName("Pushdeck")
    app.setApplicationDisplayName("Pushdeck")
    load_bundled_fonts()
    collector = GuiThreadCollector(app)  # Qt objects die on the GUI thread, never elsewhere
    collector.start()
    window = build_window(workspace, workspace_error=workspace_error)
    install_excepthook(lambda: window)
    # Stop the worker threads before the event loop ends, not after: nothing may run
    # Python on another thread while the interpreter finalizes.
    app.aboutToQuit.connect(window.shutdown)
    window.show()
    try:
        code = app.exec()
    finally:
        window.shutdown()
        # The window and everything in it go now, on this thread, while the QApplication
        # still exists: left to the interpreter's exit, widgets and pyqtgraph items can be
        # destroyed after the application, in any order, and crash the process.
        release_charts(window)
        shiboken6.delete(window)
        collector.stop()  # the window's garbage, collected here, on the GUI thread
    if tasks.still_running() or async_loop.still_running():
        # A job did not stop in time (a server that does not answer). Finalizing the
        # interpreter under a running thread can abort the process; everything the user
        # asked for is saved by now, so leave without it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit(run_app(Path(sys.argv[1]) if len(sys.argv) > 1 else None, sys.argv))
