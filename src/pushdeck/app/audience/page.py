"""The Audience page: search, segment filter, chosen columns, the lazy table, import/export."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.audience.details import DeviceDialog
from pushdeck.app.audience.import_wizard import ImportWizard
from pushdeck.app.audience.model import COLUMNS, DEFAULT_HIDDEN, DEVICE_ROLE, DeviceTableModel
from pushdeck.app.errors import show_error
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.devices.query import DeviceQuery

ALL_DEVICES = "All devices"


class AudiencePage(QWidget):
    """Devices of the workspace.

    Signals:
        devices_changed(): devices were imported or edited (others may recount).
    """

    devices_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Audience")
        self.runner = runner
        self.model = DeviceTableModel(runner)
        self.search = QLineEdit()
        self.search.setAccessibleName("Search devices")
        self.search.setPlaceholderText("Search: token text, tag:vip, attr:plan=pro")
        self.search.setClearButtonEnabled(True)
        self.segment = QComboBox()
        self.segment.setAccessibleName("Segment filter")
        self.segment.addItem(ALL_DEVICES, "")
        self.count = QLabel()
        self.count.setAccessibleName("Device count")
        self.columns_button = QPushButton("Columns")
        self.columns_menu = QMenu(self)
        self.columns_button.setMenu(self.columns_menu)
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export this view…")
        self.table = QTableView()
        self.table.setAccessibleName("Devices")
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._build_layout()
        self._build_columns_menu()
        self._connect()

    def _build_layout(self) -> None:
        bar = QHBoxLayout()
        bar.addWidget(self.search, 3)
        bar.addWidget(QLabel("Segment:"))
        bar.addWidget(self.segment, 1)
        bar.addWidget(self.columns_button)
        bar.addWidget(self.import_button)
        bar.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        title = QHBoxLayout()
        title.addWidget(QLabel("<h2>Audience</h2>"))
        title.addStretch(1)
        title.addWidget(self.count)
        layout.addLayout(title)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)

    def _build_columns_menu(self) -> None:
        self._column_actions = []
        for column, (key, header, _sortable) in enumerate(COLUMNS):
            action = self.columns_menu.addAction(header)
            action.setCheckable(True)
            action.setChecked(key not in DEFAULT_HIDDEN)
            self.table.setColumnHidden(column, key in DEFAULT_HIDDEN)
            action.toggled.connect(lambda on, c=column: self.table.setColumnHidden(c, not on))
            self._column_actions.append(action)
        widths = {"token": 300, "answer": 180, "tags": 160, "status": 110, "timezone": 140}
        for column, (key, _h, _s) in enumerate(COLUMNS):
            self.table.setColumnWidth(column, widths.get(key, 90))

    # --- remembered columns ------------------------------------------------------------------

    def columns_state(self) -> QByteArray:
        """Which columns are shown, their widths and order (for the window's settings)."""
        return self.table.horizontalHeader().saveState()

    def restore_columns_state(self, state: object) -> None:
        """Put back what ``columns_state`` saved; anything unusable keeps the defaults."""
        header = self.table.horizontalHeader()
        if not isinstance(state, QByteArray) or state.isEmpty() or not header.restoreState(state):
            return
        for column, action in enumerate(self._column_actions):
            action.setChecked(not self.table.isColumnHidden(column))

    def _connect(self) -> None:
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self._debounce.timeout.connect(self.apply_filter)
        self.segment.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.model.count_changed.connect(self._on_model_count_changed)
        self.model.failed.connect(lambda exc: show_error(self, exc))
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.import_button.clicked.connect(self.open_import)
        self.export_button.clicked.connect(self._on_export_clicked)
        header = self.table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu_requested)

    # --- data ------------------------------------------------------------------------------

    def reload(self) -> None:
        """Refill the segment list and recount (after a workspace opens or devices change)."""
        self.runner.run(_segment_names, self._on_runner_segments, lambda e: show_error(self, e))
        self.model.refresh()

    def _on_runner_segments(self, names: list[str]) -> None:
        current = self.segment.currentData()
        self.segment.blockSignals(True)
        self.segment.clear()
        self.segment.addItem(ALL_DEVICES, "")
        for name in names:
            self.segment.addItem(name, name)
        index = self.segment.findData(current)
        self.segment.setCurrentIndex(max(index, 0))
        self.segment.blockSignals(False)

    def current_query(self) -> DeviceQuery:
        query = self.model.query
        return DeviceQuery(
            self.search.text().strip(),
            self.segment.currentData() or "",
            query.sort,
            query.descending,
        )

    def apply_filter(self) -> None:
        self.model.set_query(self.current_query())

    def _on_model_count_changed(self, count: int) -> None:
        what = "device" if count == 1 else "devices"
        filtered = self.search.text().strip() or self.segment.currentData()
        self.count.setText(f"{count:,} {what}{' match' if filtered else ''}")

    # --- actions ---------------------------------------------------------------------------

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        device = self.model.data(index, DEVICE_ROLE)
        if device is not None and device.id is not None:
            self.open_device(device.id)

    def open_device(self, device_id: int) -> DeviceDialog:
        dialog = DeviceDialog(self.runner, device_id, self)
        dialog.saved.connect(self._on_devices_edited)
        dialog.open()
        return dialog

    def open_import(self) -> ImportWizard:
        wizard = ImportWizard(self.runner, self)
        wizard.finished_import.connect(lambda _r: self._on_devices_edited())
        wizard.open()
        return wizard

    def _on_devices_edited(self) -> None:
        self.model.refresh()
        self.devices_changed.emit()

    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export these devices", "devices.csv", "CSV (*.csv);;NDJSON (*.ndjson)"
        )
        if path:
            self.export_view(Path(path))

    def export_view(self, path: Path) -> None:
        query = self.current_query()

        def job(ctx: WorkerContext) -> int:
            from pushdeck.core.devices.query import export_view

            return export_view(ctx.require_ws(), query, path)

        self.runner.run(
            job,
            lambda n: self.count.setText(f"Exported {n:,} devices to {path.name}"),
            lambda e: show_error(self, e),
        )

    def _on_header_menu_requested(self, pos: QPoint) -> None:
        self.columns_menu.popup(self.table.horizontalHeader().mapToGlobal(pos))


def _segment_names(ctx: WorkerContext) -> list[str]:
    from pushdeck.core.store.segments import list_segments

    return [s.name for s in list_segments(ctx.require_ws())]
