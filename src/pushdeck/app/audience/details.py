"""The device details dialog: fields, editable tags and test flag, sends and events."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.dates import format_when, utc_hint
from pushdeck.app.errors import show_error
from pushdeck.app.tasks import TaskRunner, WorkerContext, WorkspaceTie
from pushdeck.core.devices.query import DeviceDetails


def _table(headers: list[str], rows: list[tuple[Any, ...]], name: str) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(str(value)))
    return table


class DeviceDialog(QDialog):
    """Details of one device, loaded on the worker; tags and test flag saved back.

    Signals:
        loaded(): the details arrived and are shown.
        saved(): the edits were written to the workspace.
    """

    loaded = Signal()
    saved = Signal()

    def __init__(self, runner: TaskRunner, device_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner, self.device_id = runner, device_id
        self.setWindowTitle("Device")
        self.setAccessibleName("Device details")
        self.details: DeviceDetails | None = None
        self.fields = QFormLayout()
        self.tags = QLineEdit()
        self.tags.setAccessibleName("Tags")
        self.tags.setPlaceholderText("comma-separated, e.g. vip, beta")
        self.test = QCheckBox("Test device (receives test sends)")
        self.tabs = QTabWidget()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        self.buttons.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(self.fields)
        layout.addWidget(QLabel("Tags:"))
        layout.addWidget(self.tags)
        layout.addWidget(self.test)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.buttons)
        self.resize(720, 620)
        # Another workspace opened: its device of this id is another device.
        self.tie = WorkspaceTie(runner, self, close=True)
        runner.run(self._load_job, self._on_runner_loaded, lambda e: show_error(self, e))

    def _load_job(self, ctx: WorkerContext) -> DeviceDetails | None:
        from pushdeck.core.devices.query import details

        return details(ctx.require_ws(), self.device_id)

    def _on_runner_loaded(self, details: DeviceDetails | None) -> None:
        if details is None:
            self.fields.addRow(QLabel("This device no longer exists."))
            return
        self.details = details
        d = details.device
        rows = [
            ("App", d.app),
            ("Platform", d.platform),
            ("Provider", d.provider),
            ("Token / endpoint", d.subscription.endpoint if d.subscription else d.token),
            ("Environment", d.environment),
            ("Opt-in", d.opt_in),
            ("Status", f"{d.status} {d.status_reason}".strip()),
            ("Locale", d.locale or "—"),
            ("Time zone", d.timezone or "—"),
            ("Last seen", format_when(d.last_seen, empty="never")),
        ]
        for label, value in rows:
            field = QLabel(str(value))
            field.setTextFormat(Qt.TextFormat.PlainText)  # a provider's reason is not markup
            if label == "Last seen":
                field.setToolTip(utc_hint(d.last_seen))
            field.setWordWrap(True)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields.addRow(f"{label}:", field)
        self.tags.setText(", ".join(d.tags))
        self.test.setChecked(d.test)
        attributes = [(k, v) for k, v in d.attributes.items()]
        self.tabs.addTab(_table(["Attribute", "Value"], attributes, "Attributes"), "Attributes")
        sends = [(s.campaign, s.state.replace("_", " "), s.reason, s.at) for s in details.sends]
        self.tabs.addTab(
            _table(["Campaign", "Outcome", "Provider answer", "When"], sends, "Send history"),
            f"Sends ({len(sends)})",
        )
        self.tabs.addTab(
            _table(["Campaign", "Event", "Action", "When"], details.events, "Engagement events"),
            f"Engagement ({len(details.events)})",
        )
        self.buttons.setEnabled(True)
        self.loaded.emit()

    def edited_tags(self) -> list[str]:
        return [t.strip() for t in self.tags.text().split(",") if t.strip()]

    def _on_buttons_accepted(self) -> None:
        tags, test, device_id = self.edited_tags(), self.test.isChecked(), self.device_id

        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.store.devices import set_tags, set_test_flag

            ws = ctx.require_ws()
            set_tags(ws, device_id, tags)
            set_test_flag(ws, device_id, test)

        self.runner.run(job, lambda _: self._on_runner_saved(), lambda e: show_error(self, e))

    def _on_runner_saved(self) -> None:
        self.saved.emit()
        self.accept()
