"""The welcome page of the main window, shown while no workspace is open."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class WelcomePage(QWidget):
    """First run, or no workspace: offer the demo and an empty workspace.

    Signals:
        demo_requested(): open (creating if needed) the demo workspace.
        new_requested(): create an empty workspace.
        open_requested(): open an existing workspace file.
        shared_requested(): open a shared workspace on a PostgreSQL server.
    """

    demo_requested = Signal()
    new_requested = Signal()
    open_requested = Signal()
    shared_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Welcome")
        title = QLabel("<h1>Welcome to Pushdeck</h1>")
        text = QLabel(
            "Compose push notifications, see exactly how they look on iOS, Android and the "
            "web, send them and chart what happens. Everything stays on this computer, or on your "
            "team's server in a shared workspace.\n\n"
            "No workspace is open yet."
        )
        text.setWordWrap(True)
        self.demo_button = QPushButton("Open the demo workspace")
        self.demo_button.setAccessibleName("Open the demo workspace")
        self.demo_button.setToolTip(
            "A ready workspace: sandbox provider, 3,000 simulated devices, "
            "segments and a sent campaign"
        )
        self.new_button = QPushButton("Create an empty workspace…")
        self.new_button.setAccessibleName("Create an empty workspace")
        self.open_button = QPushButton("Open a workspace file…")
        self.open_button.setAccessibleName("Open a workspace file")
        self.demo_button.clicked.connect(self.demo_requested)
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.shared_button = QPushButton("Open a shared workspace…")
        self.shared_button.setAccessibleName("Open a shared workspace")
        self.shared_button.setToolTip("A team's workspace on a PostgreSQL server")
        self.shared_button.clicked.connect(self.shared_requested)
        self.status = QLabel()
        self.status.setWordWrap(True)
        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(text)
        buttons = (self.demo_button, self.new_button, self.open_button, self.shared_button)
        for button in buttons:
            button.setMinimumHeight(36)
            column.addWidget(button)
        column.addWidget(self.status)
        column.addStretch(1)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(520)
        outer.addWidget(box, 2)
        outer.addStretch(1)
        self.demo_button.setDefault(True)
