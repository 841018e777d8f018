"""Two-way bindings between Message fields and form widgets.

A binding pushes user edits to the model (one undoable step per field, typing merges) and
shows the draft's value when it changes by undo/redo/load, without echoing an edit back.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from pushdeck.app.composer.model import ComposerModel
from pushdeck.core.common.model import Message


class Binding:
    """One field <-> one widget."""

    def __init__(
        self,
        name: str,
        widget: QWidget,
        read: Callable[[], Any],
        write: Callable[[Any], None],
        notify: Any,
    ) -> None:
        self.name, self.widget, self._read, self._write = name, widget, read, write
        self._model: ComposerModel | None = None
        notify.connect(self._on_widget_changed)

    def attach(self, model: ComposerModel) -> None:
        self._model = model

    def show(self, message: Message) -> None:
        value = getattr(message, self.name)
        if self._read() != value:
            blocked = self.widget.blockSignals(True)
            try:
                self._write(value)
            finally:
                self.widget.blockSignals(blocked)

    def _on_widget_changed(self, *_: object) -> None:
        if self._model is not None:
            self._model.set_field(self.name, self._read())


def line(name: str, placeholder: str = "") -> Binding:
    widget = QLineEdit()
    widget.setPlaceholderText(placeholder)
    widget.setAccessibleName(name.replace("_", " "))
    return Binding(name, widget, widget.text, widget.setText, widget.textEdited)


def text(name: str, placeholder: str = "", *, height: int = 96) -> Binding:
    widget = QPlainTextEdit()
    widget.setPlaceholderText(placeholder)
    widget.setAccessibleName(name.replace("_", " "))
    widget.setTabChangesFocus(True)
    widget.setFixedHeight(height)
    return Binding(name, widget, widget.toPlainText, widget.setPlainText, widget.textChanged)


def csv(name: str, placeholder: str = "") -> Binding:
    """A comma-separated list edited as one line (localization arguments)."""
    widget = QLineEdit()
    widget.setPlaceholderText(placeholder)
    widget.setAccessibleName(name.replace("_", " "))

    def read() -> tuple[str, ...]:
        return tuple(part.strip() for part in widget.text().split(",") if part.strip())

    def write(value: tuple[str, ...]) -> None:
        widget.setText(", ".join(value))

    return Binding(name, widget, read, write, widget.textEdited)


def check(name: str, label: str) -> Binding:
    widget = QCheckBox(label)
    widget.setAccessibleName(label)
    return Binding(name, widget, widget.isChecked, widget.setChecked, widget.toggled)


def optional_int(name: str, maximum: int, unset: str = "Not set") -> Binding:
    """A spin box whose lowest value (-1) means None."""
    widget = QSpinBox()
    widget.setRange(-1, maximum)
    widget.setSpecialValueText(unset)
    widget.setAccessibleName(name.replace("_", " "))

    def read() -> int | None:
        return None if widget.value() < 0 else widget.value()

    def write(value: int | None) -> None:
        widget.setValue(-1 if value is None else value)

    return Binding(name, widget, read, write, widget.valueChanged)


def number(name: str, low: float, high: float, *, optional: bool = False) -> Binding:
    widget = QDoubleSpinBox()
    widget.setDecimals(2)
    widget.setSingleStep(0.05)
    widget.setRange(low - (0.01 if optional else 0), high)
    if optional:
        widget.setSpecialValueText("Not set")
    widget.setAccessibleName(name.replace("_", " "))

    def read() -> float | None:
        value = round(widget.value(), 2)
        return None if optional and value < low else value

    def write(value: float | None) -> None:
        widget.setValue(widget.minimum() if value is None else value)

    return Binding(name, widget, read, write, widget.valueChanged)


def choice(name: str, enum: type[Enum], *, optional: bool = True) -> Binding:
    """A combo over an enum; "Not set" means None. Items hold the value string (Qt turns
    StrEnum data into plain str), mapped back to the member on read."""
    widget = QComboBox()
    widget.setAccessibleName(name.replace("_", " "))
    if optional:
        widget.addItem("Not set (default)", "")
    for member in enum:
        widget.addItem(str(member.value), str(member.value))

    def read() -> Enum | None:
        value = widget.currentData()
        return enum(value) if value else None

    def write(value: Enum | None) -> None:
        widget.setCurrentIndex(max(0, widget.findData("" if value is None else str(value.value))))

    return Binding(name, widget, read, write, widget.currentIndexChanged)


def editable_choice(name: str, options: list[tuple[str, str]]) -> Binding:
    """A combo box with suggestions that also accepts free text (e.g. sound names)."""
    widget = QComboBox()
    widget.setEditable(True)
    widget.setAccessibleName(name.replace("_", " "))
    for label, value in options:
        widget.addItem(label, value)

    def read() -> str:
        index = widget.findText(widget.currentText())
        return str(widget.itemData(index)) if index >= 0 else widget.currentText()

    def write(value: str) -> None:
        index = widget.findData(value)
        if index >= 0:
            widget.setCurrentIndex(index)
        else:
            widget.setEditText(value)

    return Binding(name, widget, read, write, widget.currentTextChanged)
