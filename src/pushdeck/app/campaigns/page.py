"""The Campaigns page: the list, new / open / duplicate / delete, and the running send."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QModelIndex, QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.confirm import SendConfirmation
from pushdeck.app.campaigns.model import ROW_ROLE, CampaignListModel
from pushdeck.app.campaigns.new_campaign import NewCampaignDialog
from pushdeck.app.campaigns.queued import NO_WORKER_NOTE, NOT_QUEUED_TITLE, NotQueuedError
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.campaigns.sending import ProgressPanel, SendController
from pushdeck.app.errors import show_error
from pushdeck.app.selection import follow_selection
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.app.workspace_target import SharedWorkspace, open_argument
from pushdeck.core.campaigns.dispatch import DispatchOptions, Progress
from pushdeck.core.campaigns.review import Review
from pushdeck.core.campaigns.spec import CampaignSpec
from pushdeck.core.reports.campaign_list import CampaignRow

#: How often scheduled campaigns are checked (``scheduling.run_due``; on a shared workspace
#: only whether a worker runs to send them).
DUE_CHECK_MS = 30_000
#: Statuses of campaigns that never started sending: double-click reviews them.
UNSENT = {"draft", "scheduled", "missed"}


class CampaignsPage(QWidget):
    """Signals:
    compose_requested(): the user wants to write a new message first.
    rows_loaded(): the list was (re)loaded.
    """

    compose_requested = Signal()
    rows_loaded = Signal()
    #: A campaign that has started sending was opened: show its report (Reports page).
    report_requested = Signal(str)
    #: A campaign needs the user (a send to resume, a missed schedule): the banner's text.
    #: Emitted once per campaign, so the window can bring this page forward once.
    decision_needed = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        loop: AsyncLoop,
        spec_source: Callable[[], CampaignSpec],
        parent: QWidget | None = None,
        *,
        options: DispatchOptions | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Campaigns")
        self.runner, self.loop, self.spec_source = runner, loop, spec_source
        self.model = CampaignListModel()
        self.controller = SendController(loop, options)
        self.table = QTableView()
        self.table.setAccessibleName("Campaign list")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.empty = QLabel("No campaigns yet. Compose a message, then create a campaign from it.")
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #fff4ce; color: #3b2f00; padding: 8px;")
        self.banner.setVisible(False)
        # A shared workspace: who sends the scheduled campaigns (the workers, never this
        # window), shown when no worker runs to do it.
        self.schedule_note = QLabel()
        self.schedule_note.setWordWrap(True)
        self.schedule_note.setAccessibleName("Who sends scheduled campaigns")
        self.schedule_note.setStyleSheet("background: #fff4ce; color: #3b2f00; padding: 8px;")
        self.schedule_note.setVisible(False)
        self.resume_button = QPushButton("Resume it")
        self.resume_button.setVisible(False)
        # A scheduled campaign whose time passed while Pushdeck was closed: never sent on
        # its own (it may be stale by now); the user decides.
        self.send_missed_button = QPushButton("Send now")
        self.cancel_missed_button = QPushButton("Cancel it")
        for button in (self.send_missed_button, self.cancel_missed_button):
            button.setVisible(False)
        self.progress = ProgressPanel(self.controller)
        self.buttons: dict[str, QPushButton] = {}
        self._announced: set[str] = set()  # campaigns decision_needed was emitted for
        self._reloads = 0  # list reloads queued on the worker, not back yet
        self.confirmation: SendConfirmation | None = None  # open while asking before a send
        self._build()
        self._connect()
        self.due_timer = QTimer(self, interval=DUE_CHECK_MS)
        self.due_timer.timeout.connect(self.run_due)

    def _build(self) -> None:
        bar = QHBoxLayout()
        for key, text in [
            ("compose", "Compose a message"),
            ("new", "New campaign from the draft…"),
            ("open", "Review / send…"),
            ("duplicate", "Duplicate…"),
            ("delete", "Delete…"),
            ("refresh", "Refresh"),
        ]:
            button = QPushButton(text)
            button.setAccessibleName(text.rstrip("…"))
            self.buttons[key] = button
            bar.addWidget(button)
        bar.addStretch(1)
        banner = QHBoxLayout()
        banner.addWidget(self.banner, 1)
        banner.addWidget(self.resume_button)
        banner.addWidget(self.send_missed_button)
        banner.addWidget(self.cancel_missed_button)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Campaigns</h2>"))
        layout.addLayout(banner)
        layout.addLayout(bar)
        layout.addWidget(self.schedule_note)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)

    def _connect(self) -> None:
        b = self.buttons
        b["compose"].clicked.connect(self.compose_requested)
        b["new"].clicked.connect(self.new_campaign)
        b["open"].clicked.connect(lambda: self.open_campaign(self.selected()))
        b["duplicate"].clicked.connect(self._on_duplicate_clicked)
        b["delete"].clicked.connect(self._on_delete_clicked)
        b["refresh"].clicked.connect(self.reload)
        follow_selection(self.table, [b["open"], b["duplicate"], b["delete"]])
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.resume_button.clicked.connect(self._on_resume_button_clicked)
        self.send_missed_button.clicked.connect(self._on_send_missed_button_clicked)
        self.cancel_missed_button.clicked.connect(self._on_cancel_missed_button_clicked)
        self.controller.finished.connect(lambda _s: self.reload())
        self.runner.workspace_changed.connect(self._on_workspace_changed)
        self.runner.workspace_opened.connect(self._on_workspace_opened)
        self.controller.failed.connect(self._on_controller_failed)
        self.controller.progress.connect(self._on_controller_progress)

    # --- list --------------------------------------------------------------------------------

    def reload(self) -> None:
        self._reloads += 1
        self.runner.run(_rows, self._on_runner_rows, self._on_runner_rows_failed)

    def _on_runner_rows_failed(self, exc: BaseException) -> None:
        self._reloads -= 1
        show_error(self, exc)

    def _on_workspace_changed(self, areas: frozenset[str]) -> None:
        # Created, sent or deleted anywhere (this window, the CLI, a worker); audience sizes
        # of drafts follow devices and segments. A reload still waiting on the worker runs
        # after the change was committed (the worker reports changes between jobs), so it
        # already sees it: no second one.
        if areas & {"campaigns", "segments", "devices"} and not self._reloads:
            self.reload()

    def _on_workspace_opened(self, _target: object) -> None:
        # Another workspace: a campaign followed in the last one is not in this one (its
        # workers send on); a local send keeps its own connection and goes on. Reloads
        # still waiting for the last one are dropped by the runner (they never answer).
        self._reloads = 0
        if self.confirmation is not None:  # "Send now?" for the last workspace's campaign
            self.confirmation.reject()
            self.confirmation = None
        if self.controller.queued:
            self.controller.stop_following()
            self.progress.setVisible(False)

    def set_rows(self, _rows: object = None) -> None:
        """A workspace was opened (the window's overview): reload from it."""
        self._announced.clear()  # another workspace: its decisions are new
        self.reload()

    def _on_runner_rows(self, result: _Listing) -> None:
        self._reloads -= 1
        rows, interrupted, missed, workers = result
        selected = self.selected()
        self.model.set_rows(rows)
        self.empty.setVisible(not rows)
        self.table.resizeColumnsToContents()
        self.table.setColumnWidth(0, max(self.table.columnWidth(0), 220))
        self.table.setColumnWidth(1, max(self.table.columnWidth(1), 90))
        if selected and (row := self.model.row_named(selected)) >= 0:
            self.table.selectRow(row)
        stranded = [
            n for n in interrupted if n != self.controller.campaign or not self.controller.active
        ]
        self._show_banner(stranded, missed)
        self._show_schedule_note(rows, workers)
        self.rows_loaded.emit()

    def _show_schedule_note(self, rows: list[CampaignRow], workers: int | None) -> None:
        """On a shared workspace the workers' scheduler sends scheduled campaigns (see
        ``run_due``): say so where they are listed when no worker runs to do it."""
        scheduled = [r.name for r in rows if r.status == "scheduled"]
        if workers != 0 or not scheduled:  # a workspace file, a worker alive, or none
            self.schedule_note.setVisible(False)
            return
        names = ", ".join(f"“{n}”" for n in scheduled[:3])
        names += f" and {len(scheduled) - 3} more" if len(scheduled) > 3 else ""
        one = len(scheduled) == 1
        self.schedule_note.setText(
            f"{names} {'is' if one else 'are'} scheduled: on this shared workspace the team's "
            f"workers send {'it' if one else 'them'} when due, not this window. "
            f"{NO_WORKER_NOTE}"
        )
        self.schedule_note.setVisible(True)

    def _show_banner(self, stranded: list[str], missed: list[str]) -> None:
        """One decision at a time: a send to resume first, then a missed schedule."""
        missed = [n for n in missed if n != self.controller.campaign or not self.controller.active]
        self.resume_button.setVisible(bool(stranded))
        self.send_missed_button.setVisible(not stranded and bool(missed))
        self.cancel_missed_button.setVisible(not stranded and bool(missed))
        self.banner.setVisible(bool(stranded or missed))
        subject = stranded[0] if stranded else (missed[0] if missed else "")
        if stranded:
            self.banner.setText(
                f"“{stranded[0]}” stopped mid-send (paused, or Pushdeck closed or crashed). "
                "Resuming sends only to devices that have not been sent to yet."
            )
            self.resume_button.setProperty("campaign", stranded[0])
        elif missed:
            more = f" ({len(missed) - 1} more after it)" if len(missed) > 1 else ""
            self.banner.setText(
                f"“{missed[0]}” was scheduled for a time that passed while Pushdeck was not "
                f"running, so nothing was sent{more}. Send it now, or cancel it?"
            )
            self.send_missed_button.setProperty("campaign", missed[0])
            self.cancel_missed_button.setProperty("campaign", missed[0])
        if subject and subject not in self._announced:
            self._announced.add(subject)
            self.decision_needed.emit(self.banner.text())

    def selected(self) -> str:
        indexes = self.table.selectionModel().selectedRows()
        if not indexes:
            return ""
        row: CampaignRow = self.model.data(indexes[0], ROW_ROLE)
        return row.name

    def select(self, name: str) -> None:
        row = self.model.row_named(name)
        if row >= 0:
            self.table.selectRow(row)

    # --- actions -------------------------------------------------------------------------------

    def new_campaign(self) -> NewCampaignDialog:
        dialog = NewCampaignDialog(self.runner, self.spec_source, self)
        dialog.created.connect(self._on_new_created)
        dialog.open()
        return dialog

    def _on_new_created(self, name: str) -> None:
        self.reload()
        self.open_campaign(name)

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        row: CampaignRow = self.model.data(index, ROW_ROLE)
        if row.status in UNSENT:
            self.open_campaign(row.name)  # review it, then send or schedule
        else:
            self.report_requested.emit(row.name)  # sent (or sending): what happened

    def open_campaign(self, name: str) -> ReviewDialog | None:
        if not name:
            return None
        dialog = ReviewDialog(self.runner, self.loop, name, self)
        dialog.send_requested.connect(self.send)
        dialog.scheduled.connect(lambda _w: self._on_review_scheduled())
        dialog.open()
        return dialog

    def _on_review_scheduled(self) -> None:
        self.reload()
        self.due_timer.start()

    def send(self, name: str) -> None:
        if self.controller.active:
            QMessageBox.information(
                self,
                "Sending",
                f"“{self.controller.campaign}” is still sending; wait or cancel it.",
            )
            return
        target = self.runner.workspace_path
        if target is None:
            return
        if isinstance(target, SharedWorkspace):
            # A shared workspace: the team's workers send (the app is not one more worker),
            # so the window can close mid-send; it follows the journal meanwhile.
            self.controller.queue(self.runner, name)
        else:
            self.controller.start(open_argument(target), name)
        self.banner.setVisible(False)
        self.resume_button.setVisible(False)

    def _on_resume_button_clicked(self) -> None:
        self.send(str(self.resume_button.property("campaign")))

    def _on_send_missed_button_clicked(self) -> None:
        self.confirm_and_send(str(self.send_missed_button.property("campaign")))

    def confirm_and_send(self, name: str) -> None:
        """Count the audience now, ask (SendConfirmation), then send."""

        def job(ctx: WorkerContext) -> Review:
            from pushdeck.core.campaigns.review import review_campaign

            return review_campaign(ctx.require_ws(), name)

        def ask(review: Review) -> None:
            box = SendConfirmation(review, self)
            self.confirmation = box

            def answered(button: object) -> None:
                still_asked = self.confirmation is box  # not closed by another workspace
                self.confirmation = None
                if button is box.send_button and still_asked:
                    self.send(name)

            box.buttonClicked.connect(answered)
            box.open()

        self.runner.run(job, ask, lambda e: show_error(self, e))

    def _on_cancel_missed_button_clicked(self) -> None:
        name = str(self.cancel_missed_button.property("campaign"))
        answer = QMessageBox.question(
            self,
            "Cancel campaign",
            f"Cancel “{name}”? Nothing of it was sent; it stays in the list as cancelled.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.cancel_missed(name)

    def cancel_missed(self, name: str) -> None:
        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.dispatch import cancel_campaign

            cancel_campaign(ctx.require_ws(), name)

        self.runner.run(job, lambda _: self.reload(), lambda e: show_error(self, e))

    def _on_controller_failed(self, exc: BaseException) -> None:
        self.reload()
        # Send on a shared workspace that could not queue: nothing started, so nothing
        # "stopped"; the title says what happened, the text why and what to do.
        title = NOT_QUEUED_TITLE if isinstance(exc, NotQueuedError) else "Sending stopped"
        show_error(self, exc, title)

    def _on_controller_progress(self, progress: Progress) -> None:
        row = self.model.row_named(progress.campaign)
        if row >= 0:
            counts = progress.counts
            sent = sum(counts.get(k, 0) for k in ("accepted", "rejected", "dead"))
            current = self.model.rows[row]
            self.model.rows[row] = replace(
                current, status=progress.status, sent=sent, accepted=counts.get("accepted", 0)
            )
            self.model.dataChanged.emit(self.model.index(row, 1), self.model.index(row, 4))

    def _on_duplicate_clicked(self) -> None:
        name = self.selected()
        if not name:
            return
        new, ok = QInputDialog.getText(
            self, "Duplicate campaign", "Name of the copy:", text=f"{name} (copy)"
        )
        if ok and new.strip():
            self.duplicate(name, new.strip())

    def duplicate(self, name: str, new: str) -> None:
        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.library import duplicate_campaign

            duplicate_campaign(ctx.require_ws(), name, new)

        self.runner.run(job, lambda _: self.reload(), lambda e: show_error(self, e))

    def _on_delete_clicked(self) -> None:
        name = self.selected()
        if not name:
            return
        answer = QMessageBox.question(
            self,
            "Delete campaign",
            f"Delete “{name}”? Only campaigns that never started sending can be deleted.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(name)

    def delete(self, name: str) -> None:
        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.library import delete_campaign

            delete_campaign(ctx.require_ws(), name)

        self.runner.run(job, lambda _: self.reload(), lambda e: show_error(self, e))

    def run_due(self) -> None:
        """Send scheduled campaigns whose time came (only when nothing else is sending).

        On a shared workspace this window sends nothing: the workers' scheduler does
        (``pushdeck worker``; one worker at a time holds the scheduler's advisory lock, so
        a schedule is run once, by one of them), as for a campaign sent from here. The
        check only reloads the list, which says so when no worker is running."""
        from pushdeck.core.campaigns.review import run_due_in_own_workspace

        path = self.runner.workspace_path
        if isinstance(path, SharedWorkspace):
            if not self._reloads:
                self.reload()  # a worker started or stopped meanwhile: the note follows
            return
        if path is None or self.controller.active:
            return
        self.loop.submit(
            run_due_in_own_workspace(open_argument(path)),
            lambda _r: self.reload(),
            lambda e: show_error(self, e),
        )

    # --- closing -------------------------------------------------------------------------------

    def confirm_close(self) -> bool:
        """Ask before closing mid-send; pause the send (resumable) when the user agrees."""
        if not self.controller.active or self.controller.queued:
            return True  # nothing sending here, or the workers send it
        answer = QMessageBox.question(
            self,
            "A campaign is sending",
            f"“{self.controller.campaign}” is still sending. Quit anyway? It will be paused "
            "and Pushdeck offers to resume it next time.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.controller.pause()
        return True


#: The list, the campaigns stopped mid-send, the missed schedules, and the live workers
#: (None on a workspace file, which has none).
_Listing = tuple[list[CampaignRow], list[str], list[str], int | None]


def _rows(ctx: WorkerContext) -> _Listing:
    from pushdeck.core.campaigns.review import interrupted_campaigns
    from pushdeck.core.campaigns.scheduling import missed_campaigns
    from pushdeck.core.campaigns.workers import live_workers, shared
    from pushdeck.core.reports.campaign_list import campaign_rows

    ws = ctx.require_ws()
    missed = [c.name for c in missed_campaigns(ws)]
    workers = live_workers(ws) if shared(ws) else None
    return campaign_rows(ws), interrupted_campaigns(ws), missed, workers
