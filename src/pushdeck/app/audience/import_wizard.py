"""The import wizard: file → mapping and preview → import with progress → rejected rows.

Everything that reads the file or the workspace runs on the TaskRunner's worker; the
importer's progress callback (on the worker) reaches the dialog through a queued signal,
and Cancel sets a flag the importer polls between rows.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.errors import describe, show_error
from pushdeck.app.tasks import TaskRunner, WorkerContext, WorkspaceTie
from pushdeck.core.common.paths import open_private
from pushdeck.core.devices.importer import ALIASES, ImportReport, Progress

FILE_FILTER = "Device files (*.csv *.tsv *.json *.ndjson *.jsonl);;All files (*)"
NOT_IMPORTED = "— not imported —"
CANCEL_NOTE = " Batches read before the cancel were kept; importing the file again completes it."


class _Relay(QObject):
    """Lives on the GUI thread; emitting from the worker queues the call."""

    progress = Signal(object)


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setAccessibleName(name)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setVisible(False)
    return table


class ImportWizard(QDialog):
    """Import a CSV / JSON / NDJSON device file into one app of the workspace.

    Signals:
        previewed(): the file's columns, mapping and first rows are shown.
        finished_import(object): the ImportReport, after the import ends (or is cancelled).
    """

    previewed = Signal()
    finished_import = Signal(object)

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.setWindowTitle("Import devices")
        self.setAccessibleName("Import devices")
        self.setAcceptDrops(True)
        self.path: Path | None = None
        self.columns: list[str] = []
        self.report: ImportReport | None = None
        self._cancel = threading.Event()
        self._reject_file = Path(tempfile.mkdtemp(prefix="pushdeck-import-")) / "rejected.csv"
        self._relay = _Relay(self)
        self._relay.progress.connect(self._on_relay_progress)
        self.steps = QStackedWidget()
        self.steps.addWidget(self._file_step())
        self.steps.addWidget(self._mapping_step())
        self.steps.addWidget(self._progress_step())
        self.steps.addWidget(self._report_step())
        self.back = QPushButton("Back")
        self.next = QPushButton("Import")
        self.close_button = QPushButton("Close")
        self.back.clicked.connect(lambda: self.steps.setCurrentIndex(0))
        self.next.clicked.connect(self.start_import)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.back, self.next, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.steps, 1)
        layout.addLayout(buttons)
        self.steps.currentChanged.connect(self._on_steps_current_changed)
        self._on_steps_current_changed(0)
        self.resize(860, 600)
        # Another workspace opened: its apps are not the ones offered, and an import asked
        # for just before never runs (the progress step would wait for good).
        self.tie = WorkspaceTie(runner, self)
        self.tie.lost.connect(self._on_tie_lost)
        runner.run(_app_names, self._on_runner_apps, lambda e: show_error(self, e))

    def _on_tie_lost(self) -> None:
        if self.isVisible() and self.steps.currentIndex() != 3:  # a report stays readable
            self.reject()

    # --- steps -----------------------------------------------------------------------------

    def _file_step(self) -> QWidget:
        page = QWidget()
        self.drop_label = QLabel(
            "<h3>Drop a device file here</h3>CSV, JSON array or NDJSON: one device per row, "
            "with a token (or a Web Push subscription) and optionally platform, locale, "
            "time zone, tags and attributes."
        )
        self.drop_label.setWordWrap(True)
        self.drop_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_label.setMinimumHeight(180)
        self.drop_label.setStyleSheet("border: 2px dashed palette(mid); padding: 24px;")
        pick = QPushButton("Choose a file…")
        pick.setAccessibleName("Choose a file")
        pick.clicked.connect(self._on_pick_clicked)
        self.app_box = QComboBox()
        self.app_box.setAccessibleName("App")
        self.file_error = QLabel()
        self.file_error.setStyleSheet("color: #b00020")
        self.file_error.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.drop_label)
        layout.addWidget(pick, 0, Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        row.addWidget(QLabel("Import into app:"))
        row.addWidget(self.app_box, 1)
        layout.addLayout(row)
        layout.addWidget(self.file_error)
        layout.addStretch(1)
        return page

    def _mapping_step(self) -> QWidget:
        page = QWidget()
        self.file_label = QLabel()
        self.mapping = _table(["Device field", "Column in the file"], "Column mapping")
        self.preview = _table([], "First rows")
        self.ignored = QLabel()
        self.ignored.setWordWrap(True)
        layout = QVBoxLayout(page)
        layout.addWidget(self.file_label)
        row = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Mapping</b> (detected from the headers; change any row)"))
        left.addWidget(self.mapping)
        right = QVBoxLayout()
        right.addWidget(QLabel("<b>First rows of the file</b>"))
        right.addWidget(self.preview)
        row.addLayout(left, 2)
        row.addLayout(right, 3)
        layout.addLayout(row, 1)
        layout.addWidget(self.ignored)
        return page

    def _progress_step(self) -> QWidget:
        page = QWidget()
        self.progress_label = QLabel("Importing…")
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Import progress")
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.clicked.connect(self.cancel_import)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addStretch(1)
        return page

    def _report_step(self) -> QWidget:
        page = QWidget()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.rejected_table = _table(["Line", "Field", "Reason"], "Rejected rows")
        self.save_report = QPushButton("Save the rejected rows…")
        self.save_report.clicked.connect(self._on_save_report_clicked)
        layout = QVBoxLayout(page)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejected_table, 1)
        layout.addWidget(self.save_report, 0, Qt.AlignmentFlag.AlignLeft)
        return page

    def _on_steps_current_changed(self, index: int) -> None:
        self.back.setVisible(index == 1)
        self.next.setVisible(index == 1)
        self.close_button.setText("Done" if index == 3 else "Close")
        self.close_button.setEnabled(index != 2)

    # --- file and preview ----------------------------------------------------------------------

    def _on_runner_apps(self, names: list[str]) -> None:
        self.app_box.clear()
        self.app_box.addItems(names)
        if not names:
            self.file_error.setText("Add an app first (Apps & credentials): devices belong to one.")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.load_file(Path(urls[0].toLocalFile()))

    def _on_pick_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import devices", "", FILE_FILTER)
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        """Read the file's first rows on the worker, then show mapping and preview."""

        def job(_ctx: WorkerContext) -> tuple[str, list[str], list[dict[str, Any]], dict[str, str]]:
            from pushdeck.core.devices.importer import auto_mapping
            from pushdeck.core.devices.query import preview_file

            fmt, columns, rows = preview_file(path)
            return fmt, columns, rows, auto_mapping(columns)

        self.path = path
        self.file_error.setText("")
        self.runner.run(job, self._on_runner_previewed, self._on_runner_preview_failed)

    def _on_runner_preview_failed(self, exc: BaseException) -> None:
        self.file_error.setText(f"Cannot read {self.path}: {describe(exc)}")

    def _on_runner_previewed(
        self, result: tuple[str, list[str], list[dict[str, Any]], dict[str, str]]
    ) -> None:
        fmt, columns, rows, mapping = result
        if not columns:
            self.file_error.setText(f"{self.path} has no rows to import.")
            return
        self.columns = columns
        self.file_label.setText(f"<b>{self.path}</b> · {fmt.upper()} · {len(columns)} columns")
        self._fill_mapping(mapping)
        self.preview.setColumnCount(len(columns))
        self.preview.setHorizontalHeaderLabels(columns)
        self.preview.setRowCount(len(rows))
        for r, record in enumerate(rows):
            for c, column in enumerate(columns):
                value = record.get(column, "")
                self.preview.setItem(r, c, QTableWidgetItem("" if value is None else str(value)))
        self.steps.setCurrentIndex(1)
        self.previewed.emit()

    def _fill_mapping(self, mapping: dict[str, str]) -> None:
        fields = list(ALIASES) + [k for k in mapping if k.startswith("attr.")]
        self.mapping.setRowCount(len(fields))
        for r, name in enumerate(fields):
            self.mapping.setItem(r, 0, QTableWidgetItem(name))
            box = QComboBox()
            box.addItems([NOT_IMPORTED, *self.columns])
            box.setCurrentText(mapping.get(name, NOT_IMPORTED))
            box.currentTextChanged.connect(self._update_ignored)
            self.mapping.setCellWidget(r, 1, box)
        self._update_ignored()

    def current_mapping(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for r in range(self.mapping.rowCount()):
            box = self.mapping.cellWidget(r, 1)
            item = self.mapping.item(r, 0)
            if isinstance(box, QComboBox) and item and box.currentText() != NOT_IMPORTED:
                result[item.text()] = box.currentText()
        return result

    def set_mapping(self, field: str, column: str) -> None:
        for r in range(self.mapping.rowCount()):
            item, box = self.mapping.item(r, 0), self.mapping.cellWidget(r, 1)
            if item and item.text() == field and isinstance(box, QComboBox):
                box.setCurrentText(column)

    def _update_ignored(self, *_: object) -> None:
        used = set(self.current_mapping().values())
        rest = [c for c in self.columns if c not in used]
        self.ignored.setText(f"Not imported: {', '.join(rest)}" if rest else "")
        mapped = self.current_mapping()
        has_token = any(k in mapped for k in ("token", "endpoint", "subscription"))
        self.next.setEnabled(has_token and self.app_box.count() > 0)
        self.next.setToolTip("" if has_token else "Map a column to 'token' (or 'endpoint').")

    # --- import ----------------------------------------------------------------------------

    def start_import(self) -> None:
        assert self.path is not None
        path, app, mapping = self.path, self.app_box.currentText(), self.current_mapping()
        relay, cancel, report_file = self._relay, self._cancel, self._reject_file
        cancel.clear()

        def job(ctx: WorkerContext) -> ImportReport:
            from pushdeck.core.devices.importer import import_devices

            return import_devices(
                ctx.require_ws(),
                path,
                app,
                mapping=mapping,
                report_file=report_file,
                progress=relay.progress.emit,
                should_cancel=cancel.is_set,
            )

        self.bar.setRange(0, 0)
        self.steps.setCurrentIndex(2)
        self.runner.run(job, self._on_runner_imported, self._on_runner_import_failed)

    def cancel_import(self) -> None:
        self._cancel.set()
        self.progress_label.setText("Cancelling…")

    def _on_relay_progress(self, progress: Progress) -> None:
        if progress.total_bytes:
            self.bar.setRange(0, 1000)
            self.bar.setValue(int(1000 * progress.bytes_read / progress.total_bytes))
        if progress.phase == "saving":
            self.bar.setRange(0, 0)  # one transaction: no fraction to show, only that it works
            self.progress_label.setText(f"Saving {progress.rows:,} rows to the workspace…")
        elif not self._cancel.is_set():
            self.progress_label.setText(f"Importing… {progress.rows:,} rows read")

    def _on_runner_import_failed(self, exc: BaseException) -> None:
        self.steps.setCurrentIndex(1)
        show_error(self, exc, "The import failed")

    def _on_runner_imported(self, report: ImportReport) -> None:
        self.report = report
        head = "Import cancelled" if report.cancelled else "Import finished"
        self.summary.setText(
            f"<h3>{head}</h3>{report.rows:,} rows read: {report.inserted:,} new devices, "
            f"{report.updated:,} updated, {report.unchanged:,} unchanged, "
            f"<b>{report.rejected_count:,} rejected</b>."
            + (CANCEL_NOTE if report.cancelled else "")
        )
        self.rejected_table.setRowCount(len(report.rejected))
        for r, row in enumerate(report.rejected):
            for c, value in enumerate((row.line, row.field, row.reason)):
                self.rejected_table.setItem(r, c, QTableWidgetItem(str(value)))
        self.rejected_table.setVisible(bool(report.rejected))
        self.save_report.setVisible(bool(report.rejected_count))
        self.steps.setCurrentIndex(3)
        self.finished_import.emit(report)

    def _on_save_report_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save rejected rows", "rejected.csv", "CSV (*.csv)"
        )
        if path:
            self.save_rejected(Path(path))

    def save_rejected(self, target: Path) -> None:
        source = self._reject_file

        def job(_ctx: WorkerContext) -> None:
            import shutil

            with source.open("rb") as src, open_private(target, "wb") as out:
                shutil.copyfileobj(src, out)

        self.runner.run(job, None, lambda e: show_error(self, e))


def _app_names(ctx: WorkerContext) -> list[str]:
    from pushdeck.core.store.apps import list_apps

    return [app.name for app in list_apps(ctx.require_ws())]
