"""Preferences: the app's appearance (follow the system, light or dark)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.appearance import THEME_LABELS, THEMES


class PreferencesDialog(QDialog):
    """Signals: theme_chosen(str): "system", "light" or "dark" (on OK)."""

    theme_chosen = Signal(str)

    def __init__(self, theme: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.setAccessibleName("Preferences")
        self.theme_box = QComboBox()
        self.theme_box.setAccessibleName("Appearance")
        for key in THEMES:
            self.theme_box.addItem(THEME_LABELS[key], key)
        self.theme_box.setCurrentIndex(THEMES.index(theme) if theme in THEMES else 0)
        hint = QLabel("The previews follow it too; each preview can still be switched.")
        hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Appearance:", self.theme_box)
        form.addRow("", hint)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def accept(self) -> None:
        self.theme_chosen.emit(str(self.theme_box.currentData()))
        super().accept()
