"""Live payloads per platform (read-only JSON with copy), byte meters and the lint panel."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QGridLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.threads import assert_gui_thread
from pushdeck.core.payloads import LintWarning, PayloadPreview

PLATFORMS = (("ios", "iOS (APNs)"), ("android", "Android (FCM)"), ("web", "Web Push"))
_SEVERITY_MARK = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}


class PayloadPanel(QWidget):
    """Shows what ``preview_payloads`` and ``lint`` from the core say about the message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        meters = QGridLayout()
        self.meters: dict[str, QProgressBar] = {}
        self.meter_labels: dict[str, QLabel] = {}
        for row, (key, label) in enumerate(PLATFORMS):
            bar = QProgressBar()
            bar.setAccessibleName(f"{label} payload size")
            bar.setTextVisible(False)
            bar.setMaximumHeight(10)
            bar.setMinimumWidth(60)
            text = QLabel("—")
            text.setMinimumWidth(
                text.fontMetrics().horizontalAdvance("4,096 / 4,096 B (100%) — over!")
            )
            meters.addWidget(QLabel(label), row, 0)
            meters.addWidget(bar, row, 1)
            meters.addWidget(text, row, 2)
            self.meters[key], self.meter_labels[key] = bar, text
        self.tabs = QTabWidget()
        self.json_views: dict[str, QPlainTextEdit] = {}
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for key, label in PLATFORMS:
            page = QWidget()
            view = QPlainTextEdit()
            view.setReadOnly(True)
            view.setFont(mono)
            view.setAccessibleName(f"{label} payload JSON")
            copy = QPushButton("Copy JSON")
            copy.setAccessibleName(f"Copy {label} payload")
            copy.clicked.connect(lambda _=False, k=key: self.copy_json(k))
            layout = QVBoxLayout(page)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(view)
            layout.addWidget(copy)
            self.json_views[key] = view
            self.tabs.addTab(page, label)
        self.lint_list = QListWidget()
        self.lint_list.setAccessibleName("Lint warnings")
        self.lint_list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(
            QLabel("<b>Payload size</b> (bytes actually sent, against each platform's limit)")
        )
        layout.addLayout(meters)
        layout.addWidget(self.tabs, 3)
        layout.addWidget(QLabel("<b>Lint</b>"))
        layout.addWidget(self.lint_list, 2)
        self.show_placeholder("Payload preview not available yet.")

    def show_placeholder(self, text: str) -> None:
        for view in self.json_views.values():
            view.setPlainText(text)

    def show_payloads(self, payloads: Mapping[str, PayloadPreview]) -> None:
        assert_gui_thread("PayloadPanel")
        for key, _ in PLATFORMS:
            preview = payloads.get(key)
            if preview is None:
                continue
            view = self.json_views[key]
            text = (
                preview.text
                if preview.ok
                else f"Cannot be sent as is:\n{preview.error}\n\n{preview.text}"
            )
            if view.toPlainText() != text:
                view.setPlainText(text)
            bar = self.meters[key]
            bar.setRange(0, preview.limit)
            bar.setValue(min(preview.size, preview.limit))
            over = preview.size > preview.limit
            percent = 100 * preview.size / preview.limit if preview.limit else 0
            label = f"{preview.size:,} / {preview.limit:,} B ({percent:.0f}%)" + (
                " — over!" if over else ""
            )
            self.meter_labels[key].setText(label if preview.ok or preview.size else "not built")
            self.meter_labels[key].setToolTip(preview.error)
            bar.setStyleSheet(
                "QProgressBar::chunk { background: %s; }"
                % ("#d93025" if over or not preview.ok else "#1e8e3e")
            )

    def show_lint(self, warnings: Sequence[LintWarning], extra: Sequence[str] = ()) -> None:
        assert_gui_thread("PayloadPanel")
        self.lint_list.clear()
        for text in extra:
            QListWidgetItem(f"⚠️ {text}", self.lint_list)
        for w in warnings:
            mark = _SEVERITY_MARK.get(str(w.severity), "•")
            item = QListWidgetItem(
                f"{mark} {w.message}" + (f"\n    Fix: {w.hint}" if w.hint else ""), self.lint_list
            )
            item.setToolTip(f"{w.code} · field: {w.field}")
        if not self.lint_list.count():
            QListWidgetItem("✓ No warnings", self.lint_list)

    def copy_json(self, key: str) -> None:
        QApplication.clipboard().setText(self.json_views[key].toPlainText())
