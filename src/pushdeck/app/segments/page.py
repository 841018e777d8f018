"""The Segments page: saved segments, the builder, a live count and sample, and usage.

Counting runs on the worker, debounced while the user edits; a result that arrives
after the rule changed again is dropped (a generation number), so the count shown
always belongs to the rule shown.

Edits are never thrown away silently: leaving a segment with unsaved changes (clicking
another, or New) asks whether to save them, discard them or stay. A segment is the
audience of campaigns, some scheduled, so it is not saved behind the user's back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.errors import describe, show_error
from pushdeck.app.segments.builder import RuleBuilder
from pushdeck.app.selection import follow_selection
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.common.model import Device
from pushdeck.core.devices.query import FieldValues
from pushdeck.core.store.segments import Segment

DEBOUNCE_MS = 300
STARTER = {"all": [{"field": "platform", "op": "=", "value": "ios"}]}
LOCKED = {"sending", "paused", "sent", "cancelled", "failed"}


class SegmentsPage(QWidget):
    """Signals:
    counted(int): the live count of the rule shown arrived.
    segments_changed(): a segment was saved, renamed or deleted.
    """

    counted = Signal(int)
    segments_changed = Signal()

    def __init__(self, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Segments")
        self.runner = runner
        self.segments: dict[str, Segment] = {}
        self.usage: list[tuple[str, str]] = []
        self._generation = 0
        self._editing = ""  # the saved segment shown in the editor ("" = a new one)
        self._clean: tuple[str, dict[str, Any]] = ("", {})  # name and rule as last saved
        self.list = QListWidget()
        self.list.setAccessibleName("Saved segments")
        self.name = QLineEdit()
        self.name.setAccessibleName("Segment name")
        self.name.setPlaceholderText("Segment name")
        self.builder = RuleBuilder()
        self.count = QLabel("—")
        self.count.setAccessibleName("Matching devices")
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020")
        self.problem.setWordWrap(True)
        self.text = QLabel()
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        self.sample = QTableWidget(0, 4)
        self.sample.setAccessibleName("Sample of matching devices")
        self.sample.setHorizontalHeaderLabels(["Platform", "Locale", "Tags", "Token"])
        self.sample.verticalHeader().setVisible(False)
        self.sample.horizontalHeader().setStretchLastSection(True)
        self.used_by = QLabel()
        self.used_by.setWordWrap(True)
        self.buttons = {k: QPushButton(t) for k, t in [
            ("new", "New"), ("save", "Save"), ("rename", "Rename…"),
            ("duplicate", "Duplicate…"), ("delete", "Delete…"),
        ]}  # fmt: skip
        self._debounce = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._build()
        self._connect()
        self.builder.set_rule(STARTER)
        self._mark_clean()

    def _build(self) -> None:
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addWidget(QLabel("<b>Saved segments</b>"))
        left_layout.addWidget(self.list, 1)
        left_layout.addWidget(self.buttons["new"])
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.builder)
        right = QWidget()
        layout = QVBoxLayout(right)
        head = QHBoxLayout()
        head.addWidget(self.name, 1)
        for key in ("save", "rename", "duplicate", "delete"):
            head.addWidget(self.buttons[key])
        layout.addLayout(head)
        layout.addWidget(scroll, 3)
        layout.addWidget(self.text)
        layout.addWidget(self.problem)
        row = QHBoxLayout()
        row.addWidget(QLabel("Matching devices (opted-out and dead ones left out):"))
        row.addWidget(self.count)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.sample, 2)
        layout.addWidget(self.used_by)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([220, 900])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(splitter)

    def _connect(self) -> None:
        self.builder.changed.connect(self._debounce.start)
        self._debounce.timeout.connect(self.recount)
        self.list.currentTextChanged.connect(self._on_list_current_text_changed)
        b = self.buttons
        b["new"].clicked.connect(self.new_segment)
        b["save"].clicked.connect(self.save)
        b["rename"].clicked.connect(self._on_rename_clicked)
        b["duplicate"].clicked.connect(self._on_duplicate_clicked)
        b["delete"].clicked.connect(self._on_delete_clicked)
        follow_selection(self.list, [b["rename"], b["duplicate"], b["delete"]])

    # --- loading -------------------------------------------------------------------------------

    def reload(
        self,
        select: str = "",
        *,
        notify: bool = False,
        after: Callable[[], None] | None = None,
    ) -> None:
        def job(ctx: WorkerContext) -> tuple[list[Segment], FieldValues]:
            from pushdeck.core.devices.query import field_values
            from pushdeck.core.store.segments import list_segments

            ws = ctx.require_ws()
            return list_segments(ws), field_values(ws)

        current = select or self._editing
        self.runner.run(
            job, lambda r: self._on_runner_loaded(r, current, notify, after), self._on_failed
        )

    def _on_runner_loaded(
        self,
        result: tuple[list[Segment], FieldValues],
        select: str,
        notify: bool = False,
        after: Callable[[], None] | None = None,
    ) -> None:
        segments, values = result
        self.segments = {s.name: s for s in segments}
        dirty = self.is_dirty()
        self._debounce.start()  # the rule shown is counted in this workspace
        self.builder.set_values(values)
        if not dirty:
            self._mark_clean()
        self.list.blockSignals(True)
        self.list.clear()
        self.list.addItems(list(self.segments))
        self.list.blockSignals(False)
        if dirty:
            # Unsaved edits stay in the editor (e.g. another window changed a segment).
            self._select_quietly(self._editing)
        else:
            items = self.list.findItems(select, Qt.MatchFlag.MatchExactly) if select else []
            if items:
                self.list.setCurrentItem(items[0])
                self._show_segment(select)  # again: it may have changed elsewhere
            elif self.list.count() and not self.name.text():
                self.list.setCurrentRow(0)
        if notify:
            self.segments_changed.emit()
        if after is not None:
            after()

    def current_name(self) -> str:
        item = self.list.currentItem()
        return item.text() if item else ""

    # --- unsaved edits -------------------------------------------------------------------------

    def _mark_clean(self) -> None:
        self._clean = (self.name.text().strip(), self.builder.rule())

    def is_dirty(self) -> bool:
        """The editor holds changes not saved yet (name or rule)."""
        return (self.name.text().strip(), self.builder.rule()) != self._clean

    def _select_quietly(self, name: str) -> None:
        self.list.blockSignals(True)
        items = self.list.findItems(name, Qt.MatchFlag.MatchExactly) if name else []
        if items:
            self.list.setCurrentItem(items[0])
        else:
            self.list.setCurrentRow(-1)
            self.list.clearSelection()
        self.list.blockSignals(False)

    def ask_unsaved(self) -> QMessageBox.StandardButton:
        """Save, Discard or Cancel for the edits in the editor (tests replace this)."""
        what = f"“{self._editing}”" if self._editing else "the new segment"
        return QMessageBox.question(
            self,
            "Unsaved segment",
            f"Save your changes to {what} first? Campaigns that use it send to the saved rule.",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )

    def _leave_editor(self, then: Callable[[], None]) -> None:
        """Run ``then`` (show another segment) once unsaved edits are saved or discarded;
        on Cancel, or when saving fails, stay on the edited segment."""
        if not self.is_dirty():
            then()
            return
        answer = self.ask_unsaved()
        if answer == QMessageBox.StandardButton.Discard:
            then()
        elif answer == QMessageBox.StandardButton.Save:
            self._select_quietly(self._editing)
            self.save(after=then)
        else:
            self._select_quietly(self._editing)

    def _on_list_current_text_changed(self, name: str) -> None:
        if name not in self.segments or name == self._editing:
            return
        self._leave_editor(lambda: self._show_segment(name))

    def _show_segment(self, name: str) -> None:
        segment = self.segments.get(name)
        if segment is None:
            return
        self._select_quietly(name)
        self._editing = name
        self.name.setText(segment.name)
        self.builder.set_rule(dict(segment.rule))
        self._mark_clean()

    def new_segment(self) -> None:
        self._leave_editor(self._show_new)

    def _show_new(self) -> None:
        self._select_quietly("")
        self._editing = ""
        self.name.setText("")
        self.name.setFocus()
        self.builder.set_rule(STARTER)
        self._mark_clean()

    # --- live count ----------------------------------------------------------------------------

    def recount(self) -> None:
        self._generation += 1
        generation, rule, name = self._generation, self.builder.rule(), self.current_name()
        if self.runner.workspace_path is None:
            return  # counted once a workspace opens (reload)

        def job(ctx: WorkerContext) -> tuple[int, list[Device], str, list[tuple[str, str]]]:
            from pushdeck.core.campaigns.library import segment_usage
            from pushdeck.core.store.segment_rules import rule_to_text
            from pushdeck.core.store.segments import count_rule, sample_rule

            ws = ctx.require_ws()
            usage = segment_usage(ws, name) if name else []
            text = rule_to_text(rule)
            return count_rule(ws, rule), sample_rule(ws, rule, limit=10), text, usage

        self.count.setText("counting…")
        self.runner.run(
            job,
            lambda r: self._on_runner_counted(generation, r),
            lambda e: self._on_runner_count_failed(generation, e),
        )

    def _on_runner_counted(
        self, generation: int, result: tuple[int, list[Device], str, list[tuple[str, str]]]
    ) -> None:
        if generation != self._generation:
            return
        count, sample, text, usage = result
        self.problem.setText("")
        self.count.setText(f"<b>{count:,}</b>")
        self.text.setText(f"As text: <code>{text}</code>")
        self.sample.setRowCount(len(sample))
        for r, device in enumerate(sample):
            cells = [device.platform, device.locale, ", ".join(device.tags), device.token]
            for c, value in enumerate(cells):
                self.sample.setItem(r, c, QTableWidgetItem(str(value)))
        self.usage = usage
        used = ", ".join(f"{c} ({s})" for c, s in usage)
        self.used_by.setText(f"Used by: {used}" if used else "Not used by any campaign.")
        self.counted.emit(count)

    def _on_runner_count_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self.count.setText("—")
            self.problem.setText(describe(exc))

    def _on_failed(self, exc: BaseException) -> None:
        show_error(self, exc)

    # --- save, rename, duplicate, delete ------------------------------------------------------

    def save(self, after: Callable[[], None] | None = None) -> None:
        """Save the editor's segment (renaming it if its name changed); then ``after``."""
        name, rule, existing = self.name.text().strip(), self.builder.rule(), self._editing
        if not name:
            self.problem.setText("Give the segment a name before saving.")
            return

        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.store.segments import rename_segment, save_segment

            ws = ctx.require_ws()
            if existing and existing != name:
                rename_segment(ws, existing, name)
            save_segment(ws, Segment(name, rule), replace=bool(existing))
            return name

        self.runner.run(
            job, lambda saved: self._on_runner_saved(saved, after), self._on_save_failed
        )

    def _on_save_failed(self, exc: BaseException) -> None:
        self.problem.setText(describe(exc))

    def _on_runner_saved(self, name: str, after: Callable[[], None] | None = None) -> None:
        self._editing = name
        self._mark_clean()  # saved: what the editor shows is now the stored segment
        self.reload(select=name, notify=True, after=after)

    def _on_rename_clicked(self) -> None:
        self._leave_editor(self._ask_rename)  # unsaved edits first: save, discard or stay

    def _ask_rename(self) -> None:
        old = self._editing
        if old:
            new, ok = QInputDialog.getText(self, "Rename segment", "New name:", text=old)
            if ok and new.strip() and new.strip() != old:
                self.rename(old, new.strip())

    def rename(self, old: str, new: str) -> None:
        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.store.segments import rename_segment

            rename_segment(ctx.require_ws(), old, new)
            return new

        def done(_: str) -> None:
            if self._editing == old:  # the editor shows the renamed segment
                self._editing = new
                self.name.setText(new)
                self._mark_clean()
            self.reload(select=self._editing, notify=True)

        self.runner.run(job, done, self._on_save_failed)

    def _on_duplicate_clicked(self) -> None:
        self._leave_editor(self._ask_duplicate)

    def _ask_duplicate(self) -> None:
        old = self._editing
        if old:
            new, ok = QInputDialog.getText(self, "Duplicate segment", "Name:", text=f"{old} copy")
            if ok and new.strip():
                self.duplicate(old, new.strip())

    def duplicate(self, old: str, new: str) -> None:
        rule: dict[str, Any] = dict(self.segments[old].rule)

        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.store.segments import save_segment

            save_segment(ctx.require_ws(), Segment(new, rule))
            return new

        self.runner.run(job, lambda _: self.reload(select=new, notify=True), self._on_save_failed)

    def _on_delete_clicked(self) -> None:
        name = self.current_name()
        if not name:
            return
        if reason := self.delete_refusal():
            QMessageBox.warning(self, "Cannot delete", reason)
            return
        used = f" It is the audience of {len(self.usage)} draft campaign(s)." if self.usage else ""
        answer = QMessageBox.question(self, "Delete segment", f"Delete “{name}”?{used}")
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)

    def delete_refusal(self) -> str:
        """Why the current segment cannot be deleted ('' when it can)."""
        started = [c for c, status in self.usage if status in LOCKED]
        if started:
            return (
                f"“{self.current_name()}” is the audience of campaigns that have sent "
                f"({', '.join(started)}); their reports need it. Duplicate it to change it."
            )
        return ""

    def delete(self, name: str) -> None:
        def job(ctx: WorkerContext) -> str:
            from pushdeck.core.store.segments import delete_segment

            delete_segment(ctx.require_ws(), name)
            return ""

        def done(_: str) -> None:
            if self._editing == name:
                self._editing = ""
                self.name.setText("")
                self._mark_clean()
            self.reload(notify=True)

        self.runner.run(job, done, self._on_save_failed)
