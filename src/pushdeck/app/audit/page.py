"""The Audit page: the shared workspace's audit log, newest first (issue 18).

The log is written by the database (triggers and the owner's functions), so every
member's changes are in it, whichever program made them. On a workspace file it is
empty: one local user, nothing to tell apart; the page says so.
"""

from __future__ import annotations

import json

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.team.audit import AuditEntry

COLUMNS = ("When (UTC)", "Who", "Action", "Kind", "Object", "Details")
#: The period picker: label -> ``parse_since`` text ('' = everything).
PERIODS = (("Last 24 hours", "24h"), ("Last 7 days", "7d"), ("Last 30 days", "30d"), ("All", ""))
#: Rows shown at most (the CLI's ``audit list`` has them all).
SHOWN = 2000


class AuditPage(QWidget):
    """The audit table, a period and a refresh; reloaded when the workspace changes."""

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.setAccessibleName("Audit")
        self.entries: list[AuditEntry] = []
        self._loading = False
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.period = QComboBox()
        self.period.setAccessibleName("Period")
        for label, _since in PERIODS:
            self.period.addItem(label)
        self.period.setCurrentIndex(1)
        self.refresh_button = QPushButton("Refresh")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setAccessibleName("Audit log")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Audit log</h2>"))
        top.addStretch(1)
        top.addWidget(QLabel("Show:"))
        top.addWidget(self.period)
        top.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self.period.currentIndexChanged.connect(lambda _i: self.reload())
        self.refresh_button.clicked.connect(self.reload)
        tasks.workspace_opened.connect(self._on_workspace_opened)
        tasks.workspace_changed.connect(self._on_workspace_changed)

    def _on_workspace_opened(self, _target: object) -> None:
        self._loading = False  # a load for the last workspace was dropped (never answers)
        self.reload()

    def _on_workspace_changed(self, _areas: frozenset[str]) -> None:
        if self.isVisible():  # every change is logged: any area may add rows
            self.reload()

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        self.reload()

    def reload(self) -> None:
        if self._loading:
            return
        self._loading = True
        since_text = PERIODS[self.period.currentIndex()][1]

        def job(ctx: WorkerContext) -> tuple[str, list[AuditEntry]]:
            from pushdeck.core.team.audit import list_audit, parse_since
            from pushdeck.core.team.members import login, my_role

            ws = ctx.require_ws()
            since = parse_since(since_text) if since_text else None
            who = "" if ws.is_file else f"{login(ws)} ({my_role(ws) or 'not a member'})"
            return who, list_audit(ws, since=since, limit=SHOWN)

        self.tasks.run(job, self._on_loaded, self._on_failed)

    def _on_failed(self, exc: BaseException) -> None:
        self._loading = False
        self.note.setText(f"The audit log could not be read: {exc}")

    def _on_loaded(self, result: tuple[str, list[AuditEntry]]) -> None:
        self._loading = False
        who, entries = result
        self.entries = list(reversed(entries))  # newest first
        if not who:  # a workspace file
            self.note.setText(
                "The audit log is a team feature of shared (PostgreSQL) workspaces, where "
                "each member logs in as themselves. This workspace file has one local user."
            )
        else:
            shown = f"{len(entries):,} entries" + (
                f" (the newest {SHOWN:,})" if len(entries) >= SHOWN else ""
            )
            self.note.setText(
                f"You are {who}. {shown}, written by the database for every member: nobody "
                "can change or delete them. 'pushdeck audit list' prints them all."
            )
        self.table.setRowCount(len(self.entries))
        for row, entry in enumerate(self.entries):
            details = ", ".join(
                f"{k}: {v if isinstance(v, str) else json.dumps(v)}"
                for k, v in entry.details.items()
            )
            values = (entry.at.replace("T", " ").rstrip("Z"), entry.who, entry.action,
                      entry.object_kind, entry.object_name, details)  # fmt: skip
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
