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
from pushdeck.core.messages.payloads import LintWarning, PayloadPreview

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
                text.fontMetrics().horizontalAdvance("14,096 / 4,096 B — 10,000 B over!")
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
            self._show_meter(key, preview)

    def _show_meter(self, key: str, preview: PayloadPreview) -> None:
        """Green when it fits; red and full when it is over (with the bytes over) or when
        it cannot be built at all (the reason on hover)."""
        bar, label = self.meters[key], self.meter_labels[key]
        bar.setRange(0, preview.limit)
        percent = 100 * preview.size / preview.limit if preview.limit else 0
        if preview.over:
            text = f"{preview.size:,} / {preview.limit:,} B — {preview.over:,} B over!"
        elif not preview.ok:
            text = "cannot be built (hover for why)"
        else:
            text = f"{preview.size:,} / {preview.limit:,} B ({percent:.0f}%)"
        bad = preview.over > 0 or not preview.ok
        bar.setValue(preview.limit if bad else preview.size)
        label.setText(text)
        label.setToolTip(preview.error)
        label.setStyleSheet("color: #c5221f; font-weight: bold;" if bad else "")
        bar.setStyleSheet(
            "QProgressBar::chunk { background: %s; }" % ("#d93025" if bad else "#1e8e3e")
        )
        bar.setProperty("state", "bad" if bad else "ok")  # for tests and accessibility
        bar.setAccessibleDescription(text)

    def show_lint(self, warnings: Sequence[LintWarning], extra: Sequence[str] = ()) -> None:
        assert_gui_thread("PayloadPanel")
        self.lint_list.clear()
        errors = [w for w in warnings if str(w.severity) == "error"]
        for w in errors:  # what stops a send comes first
            self._add_warning(w)
        for text in extra:
            QListWidgetItem(f"⚠️ {text}", self.lint_list)
        for w in warnings:
            if w not in errors:
                self._add_warning(w)
        if not self.lint_list.count():
            QListWidgetItem("✓ No warnings", self.lint_list)

    def _add_warning(self, w: LintWarning) -> None:
        mark = _SEVERITY_MARK.get(str(w.severity), "•")
        item = QListWidgetItem(
            f"{mark} {w.message}" + (f"\n    Fix: {w.hint}" if w.hint else ""), self.lint_list
        )
        item.setToolTip(f"{w.code} · field: {w.field}")

    def copy_json(self, key: str) -> None:
        QApplication.clipboard().setText(self.json_views[key].toPlainText())
