"""The composer's state and its undo stack: every edit is a command on one QUndoStack."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from pushdeck.app.composer.draft import Draft
from pushdeck.app.threads import assert_gui_thread


class _SetDraft(QUndoCommand):
    """Replace the draft. Consecutive edits of the same field merge (typing is one step)."""

    def __init__(self, model: ComposerModel, old: Draft, new: Draft, key: str, text: str) -> None:
        super().__init__(text)
        self._model, self._old, self._new, self._key = model, old, new, key

    def id(self) -> int:
        return 0x5D if self._key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _SetDraft) or other._key != self._key:
            return False
        self._new = other._new
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

    @property
    def draft(self) -> Draft:
        return self._draft

    def edit(self, change: Callable[[Draft], Draft], *, key: str = "", text: str = "Edit") -> None:
        """Apply ``change`` as one undoable step; edits with the same ``key`` merge."""
        assert_gui_thread("ComposerModel")
        new = change(self._draft)
        if new == self._draft:
            return
        self.undo_stack.push(_SetDraft(self, self._draft, new, key, text))

    def set_field(self, name: str, value: object) -> None:
        self.edit(lambda d: d.with_field(name, value), key=f"message.{name}", text=f"Edit {name}")

    def load(self, draft: Draft) -> None:
        """Replace the draft without an undo step (opening a saved draft)."""
        self.undo_stack.clear()
        self._apply(draft)

    def _apply(self, draft: Draft) -> None:
        self._draft = draft
        self.draft_changed.emit(draft)
