"""The TaskRunner: all workspace (SQLite) work on ONE worker thread that owns the connection.

Widgets never wait for the database. ``run(fn, on_done, on_error)`` queues ``fn(context)``
to the worker thread; the result (or exception) comes back to the GUI thread through a queued
signal, where the callbacks run. The worker's ``context.ws`` is the open workspace, opened on
that thread and only ever used there (``pushdeck.core.store.Workspace`` requires it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from pushdeck.app.threads import assert_gui_thread
from pushdeck.core.store.workspace import Workspace

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


class WorkerContext:
    """What a job sees on the worker thread."""

    def __init__(self) -> None:
        self.ws: Workspace | None = None

    def require_ws(self) -> Workspace:
        if self.ws is None:
            from pushdeck.core.errors import WorkspaceError

            raise WorkspaceError("No workspace is open.", hint="Open or create a workspace first.")
        return self.ws


class _Worker(QObject):
    finished = Signal(int, object, object)  # job id, result, exception or None

    def __init__(self) -> None:
        super().__init__()
        self.context = WorkerContext()

    @Slot(int, object)
    def run_job(self, job_id: int, fn: Callable[[WorkerContext], Any]) -> None:
        try:
            result = fn(self.context)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the caller
            self.finished.emit(job_id, None, exc)
        else:
            self.finished.emit(job_id, result, None)


class TaskRunner(QObject):
    """Runs workspace jobs on one long-lived worker thread.

    Signals:
        workspace_opened(object): the path of the workspace now open on the worker.
        busy_changed(bool): jobs are pending (for a status indicator).
    """

    workspace_opened = Signal(object)
    busy_changed = Signal(bool)
    _submit = Signal(int, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Done | None, Failed | None]] = {}
        self._thread = QThread()
        self._thread.setObjectName("pushdeck-workspace")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run_job)
        self._worker.finished.connect(self._on_worker_finished)
        self._thread.start()
        self.workspace_path: Path | None = None
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
        """Queue ``fn(context)`` on the worker; callbacks run later on the GUI thread."""
        assert_gui_thread("TaskRunner.run")
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        self._submit.emit(job_id, fn)
        return job_id

    def open_workspace(
        self, path: Path, on_done: Done | None = None, on_error: Failed | None = None
    ) -> int:
        """Close the current workspace (if any) and open ``path`` on the worker thread."""

        def job(ctx: WorkerContext) -> Path:
            if ctx.ws is not None:
                ctx.ws.close()
                ctx.ws = None
            ctx.ws = Workspace.open(path)
            return ctx.ws.path

        def done(opened: Path) -> None:
            self.workspace_path = opened
            self.workspace_opened.emit(opened)
            if on_done:
                on_done(opened)

        return self.run(job, done, on_error)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Close the workspace on its own thread, then stop the thread."""
        if not self._thread.isRunning():
            return

        def close(ctx: WorkerContext) -> None:
            if ctx.ws is not None:
                ctx.ws.close()
                ctx.ws = None

        self._submit.emit(0, close)
        self._thread.quit()
        self._thread.wait(timeout_ms)

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def _on_worker_finished(self, job_id: int, result: Any, error: BaseException | None) -> None:
        assert_gui_thread("TaskRunner callbacks")
        on_done, on_error = self._callbacks.pop(job_id, (None, None))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if error is not None:
            if on_error is not None:
                on_error(error)
            elif job_id:
                raise error  # nobody handles it: the crash dialog will show it
        elif on_done is not None:
            on_done(result)
