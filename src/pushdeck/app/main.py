"""Composition root: builds the app's objects, injects them, shows the window.

``pushdeck`` with no arguments calls ``run_app(workspace, argv)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from pushdeck.app.errors import install_excepthook, show_error
from pushdeck.app.fonts import load_bundled_fonts
from pushdeck.app.main_window import MainWindow
from pushdeck.app.settings import AppSettings
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.common.errors import PushdeckError

OPEN_FAILED = "Could not open the workspace"


def build_window(
    workspace: Path | None,
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
    start = workspace or (Path(settings.last_workspace) if settings.last_workspace else None)
    if start is not None and (workspace is not None or start.exists()):
        window.open_workspace(start)
    return window


def run_app(
    workspace: Path | None, argv: list[str], *, workspace_error: PushdeckError | None = None
) -> int:
    """Open the main window on ``workspace`` (or the last one, or the welcome page)."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv)
    app.setApplicationName("Pushdeck")
    app.setOrganizationName("Pushdeck")
    app.setApplicationDisplayName("Pushdeck")
    load_bundled_fonts()
    window = build_window(workspace, workspace_error=workspace_error)
    install_excepthook(lambda: window)
    window.show()
    try:
        return app.exec()
    finally:
        window.shutdown()


if __name__ == "__main__":  # pragma: no cover - manual runs
    sys.exit(run_app(Path(sys.argv[1]) if len(sys.argv) > 1 else None, sys.argv))
