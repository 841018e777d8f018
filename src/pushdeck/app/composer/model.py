"""The composer's state and its undo stack: every edit is a command on one QUndoStack."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from pushdeck.app.composer.draft import Draft
from pushdeck.app.threads import assert_gui_thread

#: Typing merges into one undo step only while it goes on: a pause this long starts a new one.
TYPING_PAUSE_S = 1.0


def _starts_new_word(before: object, after: object) -> bool:
    """Whether ``after`` adds a space or line break after a word of ``before`` (word-wise
    undo steps, as text editors do)."""
    if not isinstance(before, str) or not isinstance(after, str):
        return False
    return (
        len(after) > len(after.rstrip()) > 0
        and after.startswith(before)
        and bool(before)
        and not before[-1].isspace()
    )


class _SetDraft(QUndoCommand):
    """Replace the draft. Typing in one field merges into one step per word, and only while
    the typing goes on (a pause, another field or a word boundary starts a new step)."""

    def __init__(
        self,
        model: ComposerModel,
        old: Draft,
        new: Draft,
        key: str,
        text: str,
        value: object = None,
    ) -> None:
        super().__init__(text)
        self._model, self._old, self._new, self._key = model, old, new, key
        self._value, self._at = value, model.clock()

    def id(self) -> int:
        return 0x5D if self._key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _SetDraft) or other._key != self._key:
            return False
        if other._at - self._at >= TYPING_PAUSE_S or _starts_new_word(self._value, other._value):
            return False
        self._new, self._value, self._at = other._new, other._value, other._at
        return True

    def redo(self) -> None:
        self._model._apply(self._new)

    def undo(self) -> None:
        self._model._apply(self._old)


class ComposerModel(QObject):
    """Holds the draft; edits go through ``edit`` so they can be undone.

    Signals:
        draft_changed(object): the draft changed (by an edit, undo, redo or load).
    """

    draft_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._draft = Draft()
        self.undo_stack = QUndoStack(self)
        self.clock: Callable[[], float] = time.monotonic  # tests move time on

    @property
    def draft(self) -> Draft:
        return self._draft

    def edit(
        self,
        change: Callable[[Draft], Draft],
        *,
        key: str = "",
        text: str = "Edit",
        value: object = None,
    ) -> None:
        """Apply ``change`` as one undoable step; quick edits of the same ``key`` merge."""
        assert_gui_thread("ComposerModel")
        new = change(self._draft)
        if new == self._draft:
            return
        self.undo_stack.push(_SetDraft(self, self._draft, new, key, text, value))

    def set_field(self, name: str, value: object) -> None:
        self.edit(
            lambda d: d.with_field(name, value),
            key=f"message.{name}",
            text=f"Edit {name}",
            value=value,
        )

    def load(self, draft: Draft) -> None:
        """Replace the draft without an undo step (opening a saved draft)."""
        self.undo_stack.clear()
        self._apply(draft)

    def _apply(self, draft: Draft) -> None:
        self._draft = draft
        self.draft_changed.emit(draft)
