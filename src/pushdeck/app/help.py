"""The Help menu's windows: the documentation, the keyboard shortcuts and About.

The documentation is the README and docs/*.md of a source checkout, or, in an installed
copy without them, the README that the package's metadata carries. It opens in the app
(a markdown browser whose links between the docs work), so it needs no web browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import pushdeck

REPOSITORY_ROOT = Path(pushdeck.__file__).resolve().parents[2]
LICENCE = "MIT"


def readme_path() -> Path | None:
    """The checkout's README.md (None in an installed copy)."""
    path = REPOSITORY_ROOT / "README.md"
    return path if path.is_file() else None


def readme_text() -> str:
    path = readme_path()
    if path is not None:
        return path.read_text(encoding="utf-8")
    try:  # an installed copy: the README is the package's long description
        return metadata.metadata("pushdeck").get_payload() or ""  # type: ignore[attr-defined]
    except metadata.PackageNotFoundError:
        return ""


class DocsDialog(QDialog):
    """The README (and the docs/ pages it links to) in a browser window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pushdeck documentation")
        self.setAccessibleName("Documentation")
        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Documentation text")
        self.browser.setOpenExternalLinks(True)
        path = readme_path()
        if path is not None:
            self.browser.setSearchPaths([str(path.parent), str(path.parent / "docs")])
            self.browser.setSource(QUrl.fromLocalFile(str(path)))
        else:
            self.browser.setMarkdown(
                readme_text() or "The documentation is not installed with this copy."
            )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(820, 640)


def shortcut_rows(actions: Sequence[QAction]) -> list[tuple[str, str]]:
    """(command, keys) for every action that has a shortcut, as the menus name them."""
    rows = []
    for action in actions:
        keys = action.shortcut()
        if keys.isEmpty():
            continue
        name = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
        rows.append((name.rstrip("…"), keys.toString(QKeySequence.SequenceFormat.NativeText)))
    return rows


class ShortcutsDialog(QDialog):
    """Every keyboard shortcut of the window's menus, in a table."""

    def __init__(self, actions: Sequence[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setAccessibleName("Keyboard shortcuts")
        rows = shortcut_rows(actions)
        self.table = QTableWidget(len(rows), 2)
        self.table.setAccessibleName("Shortcuts")
        self.table.setHorizontalHeaderLabels(["Command", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (name, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.resize(460, 560)


def about_html() -> str:
    docs = readme_path()
    links = [f"<a href='{QUrl.fromLocalFile(str(docs)).toString()}'>README</a>"] if docs else []
    if docs is not None and (docs.parent / "docs").is_dir():
        folder = QUrl.fromLocalFile(str(docs.parent / "docs")).toString()
        links.append(f"<a href='{folder}'>docs folder</a>")
    return (
        f"<h2>Pushdeck {pushdeck.__version__}</h2>"
        "<p>Compose, preview, send and measure push notifications (APNs, FCM, Web Push) "
        "from your desktop. Everything stays on this computer.</p>"
        f"<p>Licence: {LICENCE}. Built with Qt (PySide6, LGPL) and pyqtgraph (MIT); "
        "the report font is Noto Sans (SIL Open Font License).</p>"
        + (f"<p>Documentation: {' · '.join(links)}</p>" if links else "")
    )


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Pushdeck")
        self.setAccessibleName("About Pushdeck")
        self.text = QLabel(about_html())
        self.text.setWordWrap(True)
        self.text.setOpenExternalLinks(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)
