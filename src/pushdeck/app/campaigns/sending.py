"""Sending a campaign from the window: the controller (asyncio loop) and its progress panel.

The send runs on the app's asyncio loop with its own workspace connection; the
dispatcher's progress callback (on the loop thread) reaches the GUI through a queued
signal at most five times a second, so 100,000 messages cost the GUI thread a few
hundred small repaints, not 100,000.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.queued import NotQueuedError, QueueFollower
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.campaigns.dispatch import DispatchOptions, Progress, SendControl, SendSummary

DONE_STATES = ("accepted", "rejected", "dead", "skipped")
STATES = [
    ("accepted", "Accepted"),
    ("rejected", "Rejected"),
    ("dead", "Dead tokens"),
    ("queued", "Waiting"),
    ("held", "Held (quiet hours)"),
    ("in_flight", "In flight"),
    ("excluded", "Excluded"),
    ("control", "Control"),
    ("skipped", "Skipped"),
    ("cancelled", "Cancelled"),
]


class SendController(QObject):
    """At most one send at a time: on the asyncio loop (a workspace file), or queued for
    the team's workers and followed from the journal (a shared workspace, ``queue``).

    Signals:
        started(str): a send of this campaign began.
        progress(object): a dispatch ``Progress`` snapshot (GUI thread).
        finished(object): the ``SendSummary`` when the send ended or stopped.
        failed(object): the exception when it could not run (or credentials failed).
    """

    started = Signal(str)
    progress = Signal(object)
    finished = Signal(object)
    failed = Signal(object)

    def __init__(self, loop: AsyncLoop, options: DispatchOptions | None = None) -> None:
        super().__init__()
        self.loop = loop
        self.options = options
        self.control: SendControl | None = None
        self.campaign = ""
        self.last: Progress | None = None
        self.follower: QueueFollower | None = None  # following a queued campaign

    @property
    def active(self) -> bool:
        return self.control is not None or self.follower is not None

    @property
    def queued(self) -> bool:
        """The running send is the workers': closing this window does not stop it."""
        return self.follower is not None

    def queue(self, runner: TaskRunner, name: str) -> None:
        """Queue ``name`` for the workers of the shared workspace open in ``runner``;
        ``started`` follows once it is queued, ``failed`` when it could not be."""
        if self.active:
            raise RuntimeError(f"{self.campaign!r} is still sending")
        self.campaign, self.last = name, None
        self.follower = QueueFollower(
            runner,
            name,
            on_started=self.started.emit,
            on_progress=self.progress.emit,
            on_finished=self._on_loop_done,
            on_failed=self._on_loop_failed,
            parent=self,
        )
        self.follower.start()

    def start(self, workspace: Path | str, name: str) -> None:
        from pushdeck.core.campaigns.review import send_in_own_workspace

        if self.active:
            raise RuntimeError(f"{self.campaign!r} is still sending")
        self.control, self.campaign, self.last = SendControl(), name, None
        coro = send_in_own_workspace(
            workspace,
            name,
            control=self.control,
            on_progress=self.progress.emit,
            options=self.options,
        )
        self.loop.submit(coro, self._on_loop_done, self._on_loop_failed)
        self.started.emit(name)

    def pause(self) -> None:
        if self.follower:
            self.follower.pause()
        elif self.control:
            self.control.pause()

    def resume(self) -> None:
        if self.follower:
            self.follower.resume()
        elif self.control:
            self.control.resume()

    def cancel(self) -> None:
        if self.follower:
            self.follower.cancel()
        elif self.control:
            self.control.resume()
            self.control.cancel()

    @property
    def paused(self) -> bool:
        if self.follower:
            return self.follower.paused
        return bool(self.control and self.control.paused)

    def stop_following(self) -> None:
        """Stop following a queued campaign (the workers send on); no signal."""
        self._ended()

    def _ended(self) -> None:
        self.control = None
        if self.follower is not None:
            self.follower.stop()
            self.follower.deleteLater()
            self.follower = None

    def _on_loop_done(self, summary: SendSummary) -> None:
        self._ended()
        self.finished.emit(summary)

    def _on_loop_failed(self, exc: BaseException) -> None:
        self._ended()
        self.failed.emit(exc)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ProgressPanel(QFrame):
    """Live counts by state, rate, ETA, and pause / resume / cancel for the running send."""

    def __init__(self, controller: SendController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setAccessibleName("Send progress")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel()
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Sent so far")
        self.rate = QLabel()
        self.rate.setWordWrap(True)
        self.rate.setAccessibleName("Rate and notices")
        self.counts: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, (key, text) in enumerate(STATES):
            value = QLabel("0")
            value.setAccessibleName(text)
            value.setAlignment(Qt.AlignmentFlag.AlignRight)
            self.counts[key] = value
            grid.addWidget(QLabel(f"{text}:"), i // 5, (i % 5) * 2)
            grid.addWidget(value, i // 5, (i % 5) * 2 + 1)
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel sending")
        self.pause_button.clicked.connect(self._on_pause_button_clicked)
        self.cancel_button.clicked.connect(self.controller.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.rate, 1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.bar)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        controller.started.connect(self._on_controller_started)
        controller.progress.connect(self.show_progress)
        controller.finished.connect(self._on_controller_finished)
        controller.failed.connect(self._on_controller_failed)
        self.setVisible(False)

    def _on_controller_started(self, name: str) -> None:
        self.setVisible(True)
        if self.controller.queued:
            self.title.setText(f"<b>“{name}”</b> — queued for the team's workers")
        else:
            self.title.setText(f"<b>Sending “{name}”</b> — preparing the audience…")
        self.bar.setRange(0, 0)
        self.pause_button.setText("Pause")
        for button in (self.pause_button, self.cancel_button):
            button.setEnabled(True)

    def show_progress(self, progress: Progress) -> None:
        self.controller.last = progress
        sendable = progress.total - progress.counts.get("excluded", 0)
        sendable -= progress.counts.get("control", 0)
        done = sum(progress.counts.get(k, 0) for k in DONE_STATES)
        self.bar.setRange(0, max(sendable, 1))
        self.bar.setValue(max(done, 0))
        self.bar.setFormat(f"{max(done, 0):,} of {sendable:,} (%p%)")
        for key, label in self.counts.items():
            label.setText(f"{progress.counts.get(key, 0):,}")
        status = progress.status
        if self.controller.queued and status == "sending":
            status = "sending, queued for the team's workers"
        self.title.setText(f"<b>“{progress.campaign}”</b> — {status}")
        self.pause_button.setText("Resume" if self.controller.paused else "Pause")
        live = (
            f"{progress.rate:,.0f} messages/s · about {_duration(progress.eta_seconds)} left"
            if progress.status == "sending"
            else ""
        )
        if self.controller.queued:  # the notice says who sends; the rate once it moves
            live = live if progress.rate > 0 else ""
            self.rate.setText(" · ".join(t for t in (progress.notice, live) if t))
        else:  # e.g. "APNs unavailable since 14:02 (503 …); retrying in 30 s"
            self.rate.setText(progress.notice or live)

    def _on_pause_button_clicked(self) -> None:
        if self.controller.paused:
            self.controller.resume()
            self.pause_button.setText("Pause")
        else:
            self.controller.pause()
            self.pause_button.setText("Resume")

    def _on_controller_finished(self, summary: SendSummary) -> None:
        sent = sum(summary.counts.get(k, 0) for k in ("accepted", "rejected", "dead"))
        text = f"“{summary.campaign}” {summary.status}: {sent:,} sent"
        text += f", {summary.counts.get('accepted', 0):,} accepted by the provider"
        text += f" in {_duration(summary.elapsed)}."
        if summary.possibly_duplicated:
            text += (
                f" {summary.possibly_duplicated:,} may have been sent twice (a request went "
                "unanswered or Pushdeck stopped mid-send)."
            )
        if summary.error and summary.status == "paused":
            text += f" {summary.error}"  # why devices still wait, and how to resume
        self._stopped(text)

    def _on_controller_failed(self, exc: BaseException) -> None:
        if isinstance(exc, NotQueuedError):  # Resume could not queue it again
            self._stopped(exc.message.split("\n", 1)[0])
        else:
            self._stopped(f"Stopped: {exc}")

    def _stopped(self, text: str) -> None:
        self.title.setText(text)
        self.rate.setText("")
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
        for button in (self.pause_button, self.cancel_button):
            button.setEnabled(False)
