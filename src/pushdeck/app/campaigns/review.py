"""Review before sending: audience, exclusions, lint, estimate, payloads; test send; send.

Signals:
    send_requested(str): send the campaign now (the page's controller does it).
    approved(): a sender approved the campaign (shared workspace; the label names who).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QDateTime, QTime, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.confirm import SendConfirmation
from pushdeck.app.dates import use_locale_format
from pushdeck.app.errors import show_error
from pushdeck.app.tasks import TaskRunner, WorkerContext, WorkspaceTie
from pushdeck.app.workspace_target import target_title
from pushdeck.core.campaigns.review import Review, TestPlan, TestResult, estimate_seconds


def _table(headers: list[str], rows: Sequence[tuple[object, ...]], name: str) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setAccessibleName(name)
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            table.setItem(
                r, c, QTableWidgetItem(f"{value:,}" if isinstance(value, int) else str(value))
            )
    table.resizeColumnsToContents()
    return table


def _words(seconds: float) -> str:
    if seconds < 60:
        n = max(1, round(seconds))
        return f"about {n} second{'s' if n > 1 else ''}"
    if seconds < 3600:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


def _hygiene_panel(review: Review) -> QWidget:
    """Frequency cap and quiet hours: the rules in words and who is held until when."""
    panel = QWidget()
    column = QVBoxLayout(panel)
    column.setContentsMargins(0, 0, 0, 0)
    rules = QLabel("\n".join(review.rules))
    rules.setWordWrap(True)
    column.addWidget(rules)
    held = [(g.words, g.devices) for g in review.held] or [("nobody held", 0)]
    column.addWidget(_table(["Held for quiet hours until", "Devices"], held, "Held"), 1)
    return panel


class ReviewDialog(QDialog):
    """Loads ``send_review.review_campaign`` on the worker and shows it."""

    send_requested = Signal(str)
    reviewed = Signal()
    tested = Signal(object)  # list[TestResult]
    scheduled = Signal(str)
    approved = Signal()

    def __init__(
        self, runner: TaskRunner, loop: AsyncLoop, name: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.runner, self.loop, self.name = runner, loop, name
        self.review: Review | None = None
        self.confirmation: SendConfirmation | None = None  # open while asking before a send
        self.test_results: list[TestResult] = []
        self.setWindowTitle(f"Review “{name}”")
        self.setAccessibleName("Review before sending")
        self.summary = QLabel("Counting the audience…")
        self.summary.setWordWrap(True)
        self.throttle = QSpinBox()
        self.throttle.setRange(0, 10_000_000)
        self.throttle.setSingleStep(1000)
        self.throttle.setSpecialValueText("no limit")
        self.throttle.setSuffix(" / minute")
        self.estimate = QLabel()
        self.tabs = QTabWidget()
        self.test_button = QPushButton("Send to test devices")
        self.test_table = _table(["Device", "Result"], [], "Test results")
        self.schedule_kind = QComboBox()
        self.schedule_kind.addItems(["Now", "At a time (your clock)", "At a local time per device"])
        self.when = QDateTimeEdit(QDateTime.currentDateTime().addSecs(3600))
        self.when.setCalendarPopup(True)
        use_locale_format(self.when)
        self.local_time = QTimeEdit(QTime(9, 0))
        self.default_zone = QLineEdit("UTC")
        self.send_button = QPushButton("Send now")
        self.send_button.setEnabled(False)
        # Why Send is off when this machine lacks a credential's secret (shared workspace).
        self.blocked = QLabel()
        self.blocked.setWordWrap(True)
        self.blocked.setAccessibleName("Cannot send from this machine")
        self.blocked.setStyleSheet("background: #fde7e9; color: #5c0011; padding: 8px;")
        self.blocked.setVisible(False)
        # A shared workspace (issue 18): who approved, and Approve for senders.
        self.approval = QLabel()
        self.approval.setWordWrap(True)
        self.approval.setAccessibleName("Approval")
        self.approval.setVisible(False)
        self.approve_button = QPushButton("Approve")
        self.approve_button.setAccessibleName("Approve campaign")
        self.approve_button.setToolTip(
            "Approve the campaign as it is now (senders and admins); a later change withdraws it"
        )
        self.approve_button.setVisible(False)
        # Another workspace opened while this is open (issue: the review waited forever):
        # say so, and offer only Close. Its campaign is not the open workspace's.
        self.tie = WorkspaceTie(runner, self)
        self.workspace_gone = QLabel()
        self.workspace_gone.setWordWrap(True)
        self.workspace_gone.setAccessibleName("Workspace changed")
        self.workspace_gone.setStyleSheet("background: #fff4ce; color: #3b2f00; padding: 8px;")
        self.workspace_gone.setVisible(False)
        self.close_button = QPushButton("Close")
        self.close_button.setVisible(False)
        self._build()
        self.tie.lost.connect(self._on_tie_lost)
        self.close_button.clicked.connect(self.reject)
        self.throttle.valueChanged.connect(self._update_estimate)
        self.test_button.clicked.connect(self.send_test)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        self.approve_button.clicked.connect(self.approve)
        self.schedule_kind.currentIndexChanged.connect(self._on_schedule_kind_changed)
        self._on_schedule_kind_changed(0)
        self.resize(900, 680)
        runner.run(self._review_job, self._on_runner_reviewed, lambda e: show_error(self, e))

    def _build(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("Throttle:"))
        row.addWidget(self.throttle)
        row.addWidget(self.estimate, 1)
        test = QWidget()
        test_layout = QVBoxLayout(test)
        test_layout.addWidget(QLabel("Send this message to the app's test devices first:"))
        test_layout.addWidget(self.test_button)
        test_layout.addWidget(self.test_table, 1)
        self.tabs.addTab(test, "Test send")
        schedule = QFormLayout()
        schedule.addRow("Send:", self.schedule_kind)
        schedule.addRow("At:", self.when)
        schedule.addRow("Local time:", self.local_time)
        schedule.addRow("Devices with no time zone use:", self.default_zone)
        bottom = QHBoxLayout()
        bottom.addLayout(schedule, 1)
        bottom.addWidget(self.send_button)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.workspace_gone)
        layout.addWidget(self.summary)
        layout.addLayout(row)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.blocked)
        approval_row = QHBoxLayout()
        approval_row.addWidget(self.approval, 1)
        approval_row.addWidget(self.approve_button)
        layout.addLayout(approval_row)
        layout.addLayout(bottom)

    def _on_tie_lost(self) -> None:
        """Another workspace is open: what this shows stays readable, nothing acts."""
        if self.confirmation is not None:  # "Send now?" for the last workspace's campaign
            self.confirmation.reject()
            self.confirmation = None
        controls: list[QWidget] = [self.send_button, self.approve_button, self.test_button,
                                   self.throttle, self.schedule_kind, self.when,
                                   self.local_time, self.default_zone]  # fmt: skip
        for widget in controls:
            widget.setEnabled(False)
        self.send_button.setVisible(False)
        self.approve_button.setVisible(False)
        now = self.runner.workspace_path
        was = html.escape(self.tie.title or "the last workspace")
        self.workspace_gone.setText(
            f"<b>Another workspace is open now: {html.escape(target_title(now) if now else '')}"
            f".</b> This review is of “{html.escape(self.name)}” in {was}, so it can no "
            f"longer send, test, schedule or approve anything. To send this campaign, reopen "
            f"{was} (File › Open recent) and review it again."
        )
        self.workspace_gone.setVisible(True)
        if self.review is None:  # its count was for the last workspace: it never comes
            self.summary.setText(
                f"<h3>{html.escape(self.name)}</h3>Its audience was not counted before the "
                "other workspace opened."
            )
        self.close_button.setVisible(True)
        self.close_button.setDefault(True)
        self.close_button.setFocus()

    def _review_job(self, ctx: WorkerContext) -> Review:
        from pushdeck.core.campaigns.review import review_campaign

        return review_campaign(ctx.require_ws(), self.name)

    def _on_runner_reviewed(self, review: Review) -> None:
        self.review = review
        platforms = ", ".join(f"{n:,} {p}" for p, n in sorted(review.by_platform.items()))
        excluded = sum(n for _r, n in review.excluded)
        creds = ", ".join(review.providers) or "none — add one under Apps & credentials"
        self.summary.setText(
            f"<h3>{review.campaign}</h3>Audience: {review.audience} in app “{review.app}”. "
            f"<b>{review.targeted:,}</b> targeted, <b>{review.eligible:,}</b> will be sent "
            f"({platforms or 'none'}), {excluded:,} excluded. Credentials: {creds}."
            + (f" {review.held_devices:,} of them held for their quiet hours (see Audience)."
               if review.held else "")
        )  # fmt: skip
        self.tabs.insertTab(0, self._audience_tab(review), "Audience")
        lint = [(s, f, m) for s, f, m in review.lint] or [("ok", "", "No warnings.")]
        self.tabs.insertTab(1, _table(["Severity", "Field", "Warning"], lint, "Lint warnings"),
                            f"Warnings ({len(review.lint)})")  # fmt: skip
        self.tabs.insertTab(2, self._payload_tab(review), "Payloads")
        self.tabs.setCurrentIndex(0)
        self.throttle.setValue(review.throttle_per_minute)
        self._update_estimate()
        self.send_button.setEnabled(
            review.eligible > 0 and review.status in _SENDABLE and review.can_send_here
        )
        if not review.can_send_here:  # preview, payloads and test renders still work
            reason = " ".join(review.missing_here)
            self.blocked.setText(f"<b>Send is off on this machine.</b> {html.escape(reason)}")
            self.blocked.setVisible(True)
            self.send_button.setToolTip(reason)
        self._show_team(review)
        self.reviewed.emit()

    # --- approval (shared workspace) ---------------------------------------------------------

    def _show_team(self, review: Review) -> None:
        team = review.team
        if team is None:  # a workspace file: one user with every right
            return
        words = html.escape(team.approval.describe(), quote=False)
        self.approval.setText(f"<b>Approval:</b> {words}")
        self.approval.setVisible(True)
        self.approve_button.setVisible(team.may_approve)
        approved_now = team.approval.current and bool(team.approval.approved_by)
        self.approve_button.setEnabled(team.may_approve and not approved_now)
        self.approve_button.setText("Approved" if approved_now else "Approve")
        refusal = team.send_refusal
        if refusal:
            self.send_button.setEnabled(False)
            self.send_button.setToolTip(refusal)

    def approve(self) -> None:
        """Approve the campaign as it is now (the database checks the role)."""
        if not self.tie.current:
            return
        name = self.name
        self.approve_button.setEnabled(False)

        def job(ctx: WorkerContext) -> Review:
            from pushdeck.core.campaigns.approval import approve_campaign
            from pushdeck.core.campaigns.review import review_campaign

            approve_campaign(ctx.require_ws(), name)
            return review_campaign(ctx.require_ws(), name)

        def failed(exc: BaseException) -> None:
            self.approve_button.setEnabled(True)
            show_error(self, exc, "The campaign was not approved")

        self.runner.run(job, self._on_runner_approved, failed)

    def _on_runner_approved(self, review: Review) -> None:
        self.review = review
        self.send_button.setEnabled(
            review.eligible > 0 and review.status in _SENDABLE and review.can_send_here
        )
        self.send_button.setToolTip("")
        self._show_team(review)
        self.approved.emit()

    def _audience_tab(self, review: Review) -> QWidget:
        page = QWidget()
        layout = QHBoxLayout(page)
        platforms = sorted(review.by_platform.items())
        layout.addWidget(_table(["Platform", "Devices"], platforms, "By platform"))
        layout.addWidget(_table(["Variant", "Devices (estimate)"], review.by_variant, "By variant"))
        excluded = review.excluded or [("nobody excluded", 0)]
        layout.addWidget(_table(["Excluded because", "Devices"], excluded, "Excluded"), 2)
        if review.rules or review.held:
            layout.addWidget(_hygiene_panel(review), 2)
        return page

    def _payload_tab(self, review: Review) -> QWidget:
        tabs = QTabWidget()
        for platform, preview in review.payloads.items():
            text = QPlainTextEdit()
            text.setReadOnly(True)
            head = f"{preview.size:,} of {preview.limit:,} bytes"
            if preview.over:
                head += f": {preview.over:,} bytes over the limit, it cannot be sent"
            body = f"// {head}\n{preview.text}" if preview.text else ""
            text.setPlainText(body if preview.ok else f"// {preview.error}\n{body}")
            tabs.addTab(text, platform)
        return tabs

    def _update_estimate(self) -> None:
        if self.review is None:
            return
        seconds = estimate_seconds(self.review.eligible, self.throttle.value())
        self.estimate.setText(f"Estimated duration: {_words(seconds)}")

    # --- test send ----------------------------------------------------------------------------

    def send_test(self) -> None:
        if not self.tie.current:
            return
        self.test_button.setEnabled(False)
        self.test_button.setText("Sending to test devices…")
        name = self.name

        def plan(ctx: WorkerContext) -> TestPlan:
            from pushdeck.core.campaigns.review import plan_test_send

            return plan_test_send(ctx.require_ws(), name)

        self.runner.run(plan, self._on_runner_planned, self._on_test_failed)

    def _on_runner_planned(self, plan: TestPlan) -> None:
        from pushdeck.core.campaigns.review import send_test

        if not plan.devices:
            self._on_loop_tested([])
            return
        self.loop.submit(send_test(plan), self._on_loop_tested, self._on_test_failed)

    def _on_test_failed(self, exc: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.test_button.setText("Send to test devices")
        show_error(self, exc, "The test send failed")

    def _on_loop_tested(self, results: list[TestResult]) -> None:
        self.test_results = results
        self.test_button.setEnabled(True)
        self.test_button.setText("Send to test devices again")
        rows = [(r.device, ("✔ " if r.ok else "✘ ") + r.answer) for r in results]
        if not rows:
            rows = [("—", "The app has no test devices. Mark some in Audience (device details).")]
        self.test_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                self.test_table.setItem(r, c, QTableWidgetItem(value))
        self.test_table.resizeColumnToContents(0)
        self.tested.emit(results)

    # --- send / schedule ----------------------------------------------------------------------

    def _on_schedule_kind_changed(self, index: int) -> None:
        self.when.setEnabled(index == 1)
        self.local_time.setEnabled(index == 2)
        self.default_zone.setEnabled(index == 2)
        self.send_button.setText(["Send now", "Schedule", "Schedule"][index])

    def _on_send_button_clicked(self) -> None:
        if not self.tie.current:
            return
        index = self.schedule_kind.currentIndex()
        if index == 0:
            self.confirm_send(lambda: self._save_throttle_then(self._request_send))
            return
        from pushdeck.core.campaigns.spec import ScheduleKind, ScheduleSpec

        if index == 1:
            moment: datetime = self.when.dateTime().toPython()  # type: ignore[assignment]
            at = moment.astimezone(UTC)
            schedule = ScheduleSpec(ScheduleKind.AT, at=at)
        else:
            date = self.when.date().toString("yyyy-MM-dd")
            time = self.local_time.time().toString("HH:mm")
            schedule = ScheduleSpec(ScheduleKind.LOCAL, None, date, time, self.default_zone.text())
        self.schedule(schedule)

    def _request_send(self) -> None:
        # The page sends in the workspace open now: only while that is still this one.
        if self.tie.current:
            self.send_requested.emit(self.name)

    def confirm_send(self, then: Callable[[], None]) -> None:
        """Ask (app, audience per platform, providers, failed checks); ``then`` on "Send"."""
        if self.review is None or not self.tie.current:
            return
        from dataclasses import replace

        review = replace(
            self.review,
            throttle_per_minute=self.throttle.value(),
            estimated_seconds=estimate_seconds(self.review.eligible, self.throttle.value()),
        )
        box = SendConfirmation(review, self)
        self.confirmation = box

        def answered(button: object) -> None:
            self.confirmation = None
            if button is box.send_button and self.tie.current:
                then()

        box.buttonClicked.connect(answered)
        box.open()

    def schedule(self, schedule: Any) -> None:
        if not self.tie.current:
            return
        name, throttle = self.name, self.throttle.value()

        def job(ctx: WorkerContext) -> str:
            from dataclasses import replace

            from pushdeck.core.campaigns.library import get_campaign, update_campaign

            ws = ctx.require_ws()
            spec = replace(
                get_campaign(ws, name).spec, schedule=schedule, throttle_per_minute=throttle
            )
            return update_campaign(ws, name, spec).scheduled_at or ""

        self.runner.run(job, self._on_runner_scheduled, lambda e: show_error(self, e))

    def _on_runner_scheduled(self, when: str) -> None:
        self.scheduled.emit(when)
        self.accept()

    def _save_throttle_then(self, then: object) -> None:
        name, throttle = self.name, self.throttle.value()
        if self.review is None or throttle == self.review.throttle_per_minute:
            then()  # type: ignore[operator]
            self.accept()
            return

        def job(ctx: WorkerContext) -> None:
            from dataclasses import replace

            from pushdeck.core.campaigns.library import get_campaign, update_campaign
            from pushdeck.core.campaigns.spec import EDITABLE

            ws = ctx.require_ws()
            campaign = get_campaign(ws, name)
            if campaign.status in EDITABLE:
                update_campaign(ws, name, replace(campaign.spec, throttle_per_minute=throttle))

        def done(_: object) -> None:
            then()  # type: ignore[operator]
            self.accept()

        self.runner.run(job, done, lambda e: show_error(self, e))


_SENDABLE = {"draft", "scheduled", "paused", "failed", "missed", "sending"}
