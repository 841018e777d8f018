"""What the user sees when something fails: known errors as plain sentences, and a crash
dialog with copyable details for the unexpected (installed as ``sys.excepthook``)."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from pushdeck.core.errors import PushdeckError


def describe(exc: BaseException) -> str:
    """One user-facing text: what failed, why, and what to do (for core errors), each once.

    (``str()`` of a core error already ends with its hint, for the CLI: the message alone
    is taken here, so the hint is not printed twice.)
    """
    if isinstance(exc, PushdeckError):
        text = exc.message or type(exc).__name__
    else:
        text = str(exc) or type(exc).__name__
    hint = getattr(exc, "hint", "")
    return f"{text}\n\n{hint}" if hint else text


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Pushdeck") -> None:
    """Show a known error (from the core or the OS) as a message box; others as a crash."""
    if isinstance(exc, PushdeckError | OSError):
        box = QMessageBox(
            QMessageBox.Icon.Warning, title, describe(exc), QMessageBox.StandardButton.Ok, parent
        )
        box.setAccessibleName("Error")
        box.open()
    else:
        CrashDialog.for_exception(type(exc), exc, exc.__traceback__, parent).open()


class CrashDialog(QDialog):
    """An unexpected error: a short sentence and the full details, with a Copy button."""

    def __init__(self, summary: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pushdeck — unexpected error")
        self.setAccessibleName("Unexpected error")
        label = QLabel(
            f"<b>Something went wrong.</b><br>{summary}<br><br>Nothing was sent or "
            "deleted because of this. Please copy the details into a bug report."
        )
        label.setWordWrap(True)
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.resize(640, 420)

    @classmethod
    def for_exception(
        cls,
        kind: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        parent: QWidget | None = None,
    ) -> CrashDialog:
        details = "".join(traceback.format_exception(kind, exc, tb))
        return cls(f"{kind.__name__}: {exc}", details, parent)

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self.details.toPlainText())


def install_excepthook(parent: Callable[[], QWidget | None]) -> Callable[..., None]:
    """Route uncaught exceptions to a CrashDialog (stderr too); return the hook."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        traceback.print_exception(kind, exc, tb)
        if issubclass(kind, KeyboardInterrupt) or QApplication.instance() is None:
            previous(kind, exc, tb)
            return
        dialog = CrashDialog.for_exception(kind, exc, tb, parent())
        hook.last_dialog = dialog  # type: ignore[attr-defined]
        dialog.open()

    sys.excepthook = hook
    return hook
