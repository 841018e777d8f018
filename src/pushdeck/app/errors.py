"""What the user sees when something fails: known errors as plain sentences, and a crash
dialog with copyable details for the unexpected (installed as ``sys.excepthook``)."""

from __future__ import annotations

import html
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType

import shiboken6
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from pushdeck.core.common.errors import PushdeckError, is_storage_error


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


#: The same error again within this many seconds opens no new dialog (a failing timer would
#: otherwise open one every few seconds); the repeat is counted instead.
REPEAT_WINDOW_S = 30.0


class ErrorGate:
    """At most one error dialog at a time, and none for a repeat within REPEAT_WINDOW_S.

    A repeat while its dialog is open counts up in that dialog ("This happened 3 times");
    a different error while one is open is added to it; a repeat after the dialog was
    closed shows in the window's status bar with its count, not as a new dialog.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._box: QDialog | None = None
        self._box_key: tuple[str, str] = ("", "")
        self._last_shown: dict[tuple[str, str], float] = {}
        self.counts: dict[tuple[str, str], int] = {}
        self.dialogs_opened = 0

    @property
    def box(self) -> QDialog | None:
        """The last error dialog opened, while it exists (open or closed by the user).

        A dialog deleted since (with its parent window, say) is no error shown any more:
        None, never a Python wrapper whose C++ object is gone (any call on it raises).
        """
        box = self._box
        if box is not None and not shiboken6.isValid(box):
            self._box = box = None
        return box

    def open(
        self, key: tuple[str, str], make: Callable[[], QDialog], parent: QWidget | None
    ) -> QDialog | None:
        """Open ``make()`` for ``key`` unless it repeats; returns the dialog opened, if any."""
        now = self.clock()
        self.counts[key] = self.counts.get(key, 0) + 1
        box = self.box
        if box is not None and box.isVisible():  # still open: this error joins it
            if key == self._box_key:
                _set_repeat(box, self.counts[key])
            else:
                _add_also(box, key)
            return None
        last = self._last_shown.get(key)
        if last is not None and now - last < REPEAT_WINDOW_S:
            _status(parent, f"{key[0]}: {_first_line(key[1])} (again, {self.counts[key]}×)")
            return None
        self.counts[key] = 1
        self._last_shown[key] = now
        box = make()
        self._box, self._box_key = box, key
        self.dialogs_opened += 1
        box.open()
        return box


GATE = ErrorGate()


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _set_repeat(box: QDialog, count: int) -> None:
    if isinstance(box, QMessageBox):
        box.setInformativeText(f"This happened {count} times in a row.")
    elif isinstance(box, CrashDialog):
        box.repeat.setText(f"This happened {count} times in a row.")


def _add_also(box: QDialog, key: tuple[str, str]) -> None:
    line = f"Also: {_first_line(key[1])}"
    if isinstance(box, QMessageBox):
        lines = box.detailedText().splitlines()
        if line not in lines and len(lines) < 20:
            box.setDetailedText("\n".join([*lines, line]))
    elif isinstance(box, CrashDialog) and line not in box.details.toPlainText():
        box.details.appendPlainText("\n" + line)


def _status(parent: QWidget | None, text: str) -> None:
    window = parent.window() if parent is not None else None
    if isinstance(window, QMainWindow):
        window.statusBar().showMessage(text, 10_000)


def _storage_text(exc: BaseException) -> str:
    return (
        f"The workspace file could not be read or written: {exc}\n\n"
        "The last change may not have been saved. Check that the disk has room and that no "
        "other program holds the file, then try again (File › Open recent reopens it)."
    )


def show_error(parent: QWidget | None, exc: BaseException, title: str = "Pushdeck") -> None:
    """Show a known error (from the core, the OS or the workspace file) as a message box;
    others as a crash. Repeats are counted, not shown again (see ``ErrorGate``)."""
    known = isinstance(exc, PushdeckError | OSError)
    if known or is_storage_error(exc):
        text = describe(exc) if known else _storage_text(exc)

        def make() -> QDialog:
            box = QMessageBox(
                QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent
            )
            box.setAccessibleName("Error")
            return box

        GATE.open((title, text), make, parent)
    else:
        GATE.open(
            ("crash", f"{type(exc).__name__}: {exc}"),
            lambda: CrashDialog.for_exception(type(exc), exc, exc.__traceback__, parent),
            parent,
        )


class CrashDialog(QDialog):
    """An unexpected error: a short sentence and the full details, with a Copy button."""

    def __init__(
        self,
        summary: str,
        details: str,
        parent: QWidget | None = None,
        *,
        advice: str = "Please copy the details into a bug report.",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pushdeck — unexpected error")
        self.setAccessibleName("Unexpected error")
        label = QLabel(f"<b>Something went wrong.</b><br>{html.escape(summary)}<br><br>{advice}")
        label.setWordWrap(True)
        self.repeat = QLabel()  # "This happened 3 times in a row."
        self.repeat.setAccessibleName("Repeats")
        self.details = QPlainTextEdit(details)
        self.details.setReadOnly(True)
        self.details.setAccessibleName("Error details")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        copy.clicked.connect(self.copy_details)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(label)
        layout.addWidget(self.repeat)
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
        if is_storage_error(exc):  # the write may have been half-done: promise nothing
            advice = (
                "The workspace file or the disk failed; the last change may not have been "
                "saved. Please copy the details into a bug report."
            )
        else:
            advice = (
                "Nothing was sent or deleted because of this. Please copy the details into "
                "a bug report."
            )
        return cls(f"{kind.__name__}: {exc}", details, parent, advice=advice)

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
        owner = parent()
        dialog = GATE.open(
            ("crash", f"{kind.__name__}: {exc}"),
            lambda: CrashDialog.for_exception(kind, exc, tb, owner),
            owner,
        )
        if dialog is not None:
            hook.last_dialog = dialog  # type: ignore[attr-defined]

    sys.excepthook = hook
    return hook
