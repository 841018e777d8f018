"""Buttons that act on a selection are enabled only while there is one.

``follow_selection(view, buttons)`` keeps ``buttons`` enabled exactly when ``view`` has a
selected row (or, for a list or tab widget, a current item), re-checking whenever the
selection, the current item or the rows change (call it after ``setModel``).
An optional ``when`` narrows it further (e.g. only a saved segment can be renamed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import shiboken6
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QListWidget, QTabWidget, QWidget

Selectable = QAbstractItemView | QTabWidget


def has_selection(view: Selectable) -> bool:
    if isinstance(view, QTabWidget):
        return view.count() > 0
    if isinstance(view, QListWidget):
        return view.currentItem() is not None and bool(view.selectedItems())
    selection = view.selectionModel()
    return selection is not None and selection.hasSelection()


def follow_selection(
    view: Selectable,
    buttons: Sequence[QAbstractButton | QWidget],
    when: Callable[[], bool] | None = None,
) -> Callable[[], None]:
    """Enable ``buttons`` only while ``view`` has a selection; returns the update function
    (call it after changing what ``when`` depends on)."""

    def update(*_: object) -> None:
        if not shiboken6.isValid(view):  # the model outlives its view while both are deleted
            return
        on = has_selection(view) and (when is None or when())
        for button in buttons:
            if shiboken6.isValid(button):
                button.setEnabled(on)

    if isinstance(view, QTabWidget):
        view.currentChanged.connect(update)
    else:  # call after setModel(): the selection model belongs to the model
        model, selection = view.model(), view.selectionModel()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved,
                       model.layoutChanged):  # fmt: skip
            signal.connect(update)
        selection.selectionChanged.connect(update)
        selection.currentChanged.connect(update)
    update()
    return update
