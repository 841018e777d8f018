"""The app's error gate (``pushdeck.app.errors.GATE``) between tests and after its dialog
is gone: a dialog deleted with its window is no error shown, and the next test (here in
tests/e2e, where no directory conftest resets it) starts with a gate that saw nothing.

The two tests of the second part run in file order: the first leaves a dialog on the
app-wide gate and deletes it with its window, as a test that fails mid-way does; the
second looks at the gate it gets."""

from __future__ import annotations

import os

os.environ["PUSHDECK_THREAD_CHECKS"] = "1"

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QMainWindow, QMessageBox

from pushdeck.app import errors
from pushdeck.app.errors import show_error
from pushdeck.core.common.errors import WorkspaceError

#: What the first test of the pair left behind, for the second to look at.
LEFT: dict[str, bool] = {}


def _delete(window: QMainWindow) -> None:
    """Delete ``window`` (and the dialogs it owns) now, as closing a test's window does."""
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(window)


def test_a_dialog_deleted_with_its_window_is_no_error_shown(qtbot) -> None:
    gate = errors.ErrorGate()
    window = QMainWindow()
    window.show()
    gate.open(("Pushdeck", "First."), lambda: QMessageBox(window), window)
    assert isinstance(gate.box, QMessageBox) and gate.box.isVisible()
    _delete(window)
    assert gate.box is None  # not a wrapper of a deleted dialog (any call on it raises)
    # The next error opens its own dialog (the gone one neither counts it nor hides it).
    other = QMainWindow()
    qtbot.addWidget(other)
    other.show()
    opened = gate.open(("Pushdeck", "Second."), lambda: QMessageBox(other), other)
    assert opened is not None and gate.box is opened and gate.dialogs_opened == 2
    opened.done(0)
    assert gate.box is opened  # closed by the user, still there: it was shown


def test_a_test_leaves_an_error_dialog_on_the_app_wide_gate(qtbot) -> None:
    window = QMainWindow()
    window.show()
    show_error(window, WorkspaceError("Left by an earlier test."))
    assert errors.GATE.dialogs_opened == 1
    LEFT["gate"] = True
    _delete(window)


def test_the_next_test_starts_with_a_gate_that_saw_nothing(qtbot) -> None:
    assert "gate" in LEFT, "runs after the test above (file order)"
    assert errors.GATE.box is None and errors.GATE.dialogs_opened == 0
    assert not errors.GATE.counts
