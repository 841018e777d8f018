"""The TaskRunner: all workspace (SQLite) work on ONE worker thread that owns the connection.

Widgets never wait for the database. ``run(fn, on_done, on_error)`` queues ``fn(context)``
to the worker thread; the result (or exception) comes back to the GUI thread through a queued
signal, where the callbacks run. The worker's ``context.ws`` is the open workspace, opened on
that thread and only ever used there (``pushdeck.core.store.Workspace`` requires it).

Each job belongs to the workspace the window showed when it was queued (the runner's
``epoch``, one per opened workspace). A job queued for one workspace never runs once
another is open on the worker, and its callbacks are dropped silently: a page's load
asked for while the next workspace was opening (a campaign picked, a timer's refresh, an
autosave) would otherwise read, or write, the new workspace with the old one's names.
Pages forget their in-flight state on ``workspace_opened``; a dialog opened for one
workspace holds a ``WorkspaceTie`` and gives up (closes, or says so and offers only Close)
when another opens: its answers would never come, and its next job would run on the other
workspace with this one's names (a campaign to send, a device to edit).

The runner also notices when the workspace changes, whoever changed it (a job of this
window, a send on the network thread's own connection, the CLI, the collector): after
each job and once a second it asks the core's ``ChangeWatcher`` on the worker thread, and
emits ``workspace_changed`` with the areas that changed, which the pages listen to.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QDialog

from pushdeck.app.threads import assert_gui_thread
from pushdeck.app.workspace_target import SharedWorkspace, WorkspaceTarget, target_title
from pushdeck.core.store.changes import ChangeWatcher
from pushdeck.core.store.workspace import Workspace

#: How often the worker looks for changes made elsewhere (two integer reads when none).
WATCH_MS = 1000

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]

#: The epoch of a job that runs whatever workspace is open (opening one, closing).
ANY_EPOCH = -1


class _Dropped:
    """The result of a job not run: queued for a workspace no longer open."""


DROPPED = _Dropped()


class WorkerContext:
    """What a job sees on the worker thread."""

    def __init__(self) -> None:
        self.ws: Workspace | None = None
        #: The epoch of ``ws`` (``TaskRunner.epoch`` when its opening was asked for).
        self.epoch = 0

    def require_ws(self) -> Workspace:
        if self.ws is None:
            from pushdeck.core.common.errors import WorkspaceError

            raise WorkspaceError("No workspace is open.", hint="Open or create a workspace first.")
        return self.ws


class _Worker(QObject):
    finished = Signal(int, object, object)  # job id, result, exception or None
    changed = Signal(object, object)  # workspace location, frozenset of changed areas

    def __init__(self) -> None:
        super().__init__()
        self.context = WorkerContext()
        self._watcher: ChangeWatcher | None = None
        self.poll_queued = False  # set by the GUI thread, cleared here: one poll at a time

    @Slot(int, int, object)
    def run_job(self, job_id: int, epoch: int, fn: Callable[[WorkerContext], Any]) -> None:
        if epoch not in (ANY_EPOCH, self.context.epoch):
            self.finished.emit(job_id, DROPPED, None)  # for a workspace closed since
            return
        try:
            result = fn(self.context)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            self.finished.emit(job_id, None, exc)
        else:
            self.finished.emit(job_id, result, None)
        self.check_changes()

    @Slot()
    def poll(self) -> None:
        self.poll_queued = False
        self.check_changes()

    def check_changes(self) -> None:
        ws = self.context.ws
        if ws is None:
            self._watcher = None
            return
        try:
            if self._watcher is None or self._watcher.ws is not ws:
                self._watcher = ChangeWatcher(ws)  # a workspace just opened: the baseline
                return
            areas = self._watcher.poll()
        except Exception:  # noqa: BLE001 - a failed look is retried next time, never fatal
            self._watcher = None
            return
        if areas:
            # ws.location, not ws.path: a shared (PostgreSQL) workspace has no path.
            self.changed.emit(ws.location, areas)


#: Every runner whose worker thread may still run (see ``shutdown_all``).
_LIVE: weakref.WeakSet[TaskRunner] = weakref.WeakSet()
#: Worker threads that did not stop when asked (kept, never destroyed while running).
_STUCK: list[QThread] = []
_log = logging.getLogger(__name__)


def still_running() -> bool:
    """Whether a worker thread did not stop when its runner shut down."""
    return any(thread.isRunning() for thread in _STUCK)


def shutdown_all() -> None:
    """Stop every runner still running. Qt aborts the process when a running QThread is
    destroyed, which is what interpreter exit does to a runner nobody shut down (a
    window closed without quitting the app, a test's page); runs at exit too."""
    for runner in list(_LIVE):
        try:
            runner.shutdown()
        except RuntimeError:  # its C++ side is gone already (a deleted window's runner)
            _LIVE.discard(runner)


atexit.register(shutdown_all)


class TaskRunner(QObject):
    """Runs workspace jobs on one long-lived worker thread.

    Signals:
        workspace_opened(object): the path of the workspace now open on the worker.
        workspace_changed(object): a frozenset of the areas of the open workspace that
            changed ("campaigns", "devices", "segments", "apps", "events"; see
            ``pushdeck.core.store.changes``), by this window or anyone else.
        busy_changed(bool): jobs are pending (for a status indicator).
    """

    workspace_opened = Signal(object)
    workspace_changed = Signal(object)
    busy_changed = Signal(bool)
    _submit = Signal(int, int, object)  # job id, epoch, fn
    _poll = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._epochs = itertools.count(1)
        #: The workspace the window shows: jobs queued now are for it (and run only while
        #: it is the one open on the worker). 0: none opened yet.
        self.epoch = 0
        self._callbacks: dict[int, tuple[Done | None, Failed | None]] = {}
        self._thread = QThread()
        self._thread.setObjectName("pushdeck-workspace")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job)
        self._poll.connect(self._worker.poll)
        self._worker.finished.connect(self._on_worker_finished)
        self._worker.changed.connect(self._on_worker_changed)
        self._thread.start()
        _LIVE.add(self)
        #: The open workspace: a file, or a SharedWorkspace (with its password, in memory).
        self.workspace_path: WorkspaceTarget | None = None
        self._location = ""  # its Workspace.location: which workspace change reports are about
        self.open_note = ""  # what the last open has to say (a password not remembered)
        self._watch = QTimer(self)
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self._on_watch_timeout)
        self._watch.start()
        app = QCoreApplication.instance()
        if app is not None:  # never leave the worker running past the event loop
            app.aboutToQuit.connect(self.shutdown)

    @property
    def worker_thread(self) -> QThread:
        return self._thread

    def run(
        self,
        fn: Callable[[WorkerContext], Any],
        on_done: Done | None = None,
        on_error: Failed | None = None,
    ) -> int:
        """Queue ``fn(context)`` on the worker; callbacks run later on the GUI thread.

        The job is for the workspace shown now: if another one is open on the worker by
        the time its turn comes, it is not run and neither callback is called. Before
        any workspace was shown a job is for none in particular: it runs on whichever
        is open by then (``open_workspace(path)`` then ``page.reload()``)."""
        return self._queue(self.epoch or ANY_EPOCH, fn, on_done, on_error)

    def _queue(
        self, epoch: int, fn: Callable[[WorkerContext], Any], on_done: Done | None,
        on_error: Failed | None,
    ) -> int:  # fmt: skip
        assert_gui_thread("TaskRunner.run")
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        self._submit.emit(job_id, epoch, fn)
        return job_id

    def open_workspace(
        self, path: WorkspaceTarget, on_done: Done | None = None, on_error: Failed | None = None
    ) -> int:
        """Open ``path`` on the worker thread, then close the current workspace (if any): a
        file, or a shared workspace (its password read from the keyring there if needed,
        and kept there once it opened when the form asked to). If it cannot be opened, the
        current one stays open (``on_error``).

        From the moment it opened on the worker, the jobs queued for the workspace shown
        until then are dropped (see ``run``); ``workspace_opened`` then starts the new one."""
        epoch = next(self._epochs)

        def job(ctx: WorkerContext) -> tuple[WorkspaceTarget, str, str]:
            # The new one opens first: if it cannot (a wrong password, not a workspace),
            # the one the window shows stays open and its jobs keep running.
            shown: WorkspaceTarget
            shared: SharedWorkspace | None = None
            if isinstance(path, SharedWorkspace):
                shared = path.resolve()
                ws = Workspace.open(shared.live_uri, create=shared.create)
                shown = replace(shared, create=False, remember=False)
            else:
                ws = Workspace.open(Path(path))
                shown = ws.file
            if ctx.ws is not None:
                try:
                    ctx.ws.close()
                except Exception:  # noqa: BLE001 - a server gone since: the new one is open
                    _log.warning("Closing %s failed.", ctx.ws.location, exc_info=True)
            ctx.ws, ctx.epoch = ws, epoch  # the open has succeeded once the epoch is set
            return shown, ws.location, shared.keep_password() if shared else ""

        def done(opened: tuple[WorkspaceTarget, str, str]) -> None:
            self.workspace_path, self._location, self.open_note = opened
            self.epoch = epoch
            self.workspace_opened.emit(opened[0])
            if on_done:
                on_done(opened[0])

        return self._queue(ANY_EPOCH, job, done, on_error)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Close the workspace on its own thread, then stop the thread."""
        self._watch.stop()
        if not self._thread.isRunning() or any(t is self._thread for t in _STUCK):
            return  # stopped, or already waited for once (quit must not wait again)

        def close(ctx: WorkerContext) -> None:
            if ctx.ws is not None:
                ctx.ws.close()
                ctx.ws = None

        self._submit.emit(0, ANY_EPOCH, close)
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            # A job still runs (a query the server does not answer). Destroying a running
            # QThread aborts the process, so this one is never destroyed: it ends with
            # the process (run_app then exits without finalizing the interpreter).
            _STUCK.append(self._thread)
            _log.warning("The workspace worker did not stop within %d ms.", timeout_ms)
        _LIVE.discard(self)

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def _on_watch_timeout(self) -> None:
        if self.workspace_path is None or self._worker.poll_queued:
            return  # nothing open, or the last poll still waits behind a long job
        self._worker.poll_queued = True
        self._poll.emit()

    def _on_worker_changed(self, location: str, areas: frozenset[str]) -> None:
        assert_gui_thread("TaskRunner callbacks")
        if location == self._location:  # not a late report about a workspace since closed
            self.workspace_changed.emit(areas)

    def _on_worker_finished(self, job_id: int, result: Any, error: BaseException | None) -> None:
        assert_gui_thread("TaskRunner callbacks")
        on_done, on_error = self._callbacks.pop(job_id, (None, None))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if result is DROPPED:
            return  # queued for a workspace closed since: nobody waits for it any more
        if error is not None:
            if on_error is not None:
                on_error(error)
            elif job_id:
                raise error  # nobody handles it: the crash dialog will show it
        elif on_done is not None:
            on_done(result)


class WorkspaceTie(QObject):
    """Ties a dialog to the workspace the window showed when it opened.

    ``lost`` is emitted once, when another workspace opens (whoever opened it). From then
    on the dialog's jobs still queued are dropped, so it must not wait for them, and it
    must not queue new ones: they would run on the workspace now open. With ``close``
    the dialog is closed (rejected) then, if it is still open.
    """

    lost = Signal()

    def __init__(self, runner: TaskRunner, dialog: QDialog, *, close: bool = False) -> None:
        super().__init__(dialog)  # a child: disconnected from the runner with its dialog
        self._runner, self._dialog, self._close = runner, dialog, close
        self._epoch = runner.epoch
        #: What the workspace is called (for "this was for …"); '' before any was shown.
        self.title = target_title(runner.workspace_path) if runner.workspace_path else ""
        self.current = True
        runner.workspace_opened.connect(self._on_runner_workspace_opened)

    def _on_runner_workspace_opened(self, target: WorkspaceTarget) -> None:
        if not self._epoch:  # opened before any workspace was shown: its jobs ran on this one
            self._epoch, self.title = self._runner.epoch, target_title(target)
            return
        if self.current and self._runner.epoch != self._epoch:
            self.current = False
            self.lost.emit()
            if self._close and self._dialog.isVisible():
                self._dialog.reject()
