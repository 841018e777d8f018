"""The app's network thread: one long-lived asyncio loop (sending, credential checks).

``submit(coro, on_done, on_error)`` schedules ``coro`` on the loop with
``asyncio.run_coroutine_threadsafe``; its result or exception comes back to the GUI
thread through a queued signal, where the callbacks run. HTTP/2 connections opened by
providers stay on this one loop for their whole life.
"""

from __future__ import annotations

import asyncio
import atexit
import itertools
import threading
import weakref
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Signal

from pushdeck.app.threads import assert_gui_thread

Done = Callable[[Any], None]
Failed = Callable[[BaseException], None]


#: Every loop whose thread may still run (see ``shutdown_all``).
_LIVE: weakref.WeakSet[AsyncLoop] = weakref.WeakSet()


#: Network threads that did not stop when asked (see ``still_running``).
_STUCK: list[threading.Thread] = []


def still_running() -> bool:
    """Whether a network loop's thread did not stop when its loop shut down."""
    return any(thread.is_alive() for thread in _STUCK)


def shutdown_all() -> None:
    """Stop every network loop still running (a window closed without quitting the app, a
    test's window): a loop thread left running into interpreter exit can crash it."""
    for loop in list(_LIVE):
        loop.shutdown()


atexit.register(shutdown_all)


class AsyncLoop(QObject):
    """One asyncio event loop in its own daemon thread.

    Signals:
        busy_changed(bool): coroutines are pending.
    """

    busy_changed = Signal(bool)
    _finished = Signal(int, object, object)  # job id, result, exception or None

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.loop = asyncio.new_event_loop()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Done | None, Failed | None]] = {}
        self._finished.connect(self._on_self_finished)
        self._thread = threading.Thread(target=self._run, name="pushdeck-network", daemon=True)
        self._thread.start()
        _LIVE.add(self)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def network_thread(self) -> threading.Thread:
        return self._thread

    def submit(
        self,
        coro: Coroutine[Any, Any, Any],
        on_done: Done | None = None,
        on_error: Failed | None = None,
    ) -> Future[Any]:
        """Run ``coro`` on the loop; callbacks run later on the GUI thread."""
        assert_gui_thread("AsyncLoop.submit")
        if self.loop.is_closed() or not self._thread.is_alive():
            # Shut down (the app is quitting, or a leftover page's timer fired after its
            # window closed): nothing may run any more, and nothing is reported back.
            coro.close()
            stopped: Future[Any] = Future()
            stopped.cancel()
            return stopped
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error)
        if len(self._callbacks) == 1:
            self.busy_changed.emit(True)
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)

        def report(f: Future[Any]) -> None:
            if f.cancelled():
                self._finished.emit(job_id, None, asyncio.CancelledError())
            elif f.exception() is not None:
                self._finished.emit(job_id, None, f.exception())
            else:
                self._finished.emit(job_id, f.result(), None)

        future.add_done_callback(report)
        return future

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def _on_self_finished(self, job_id: int, result: Any, error: BaseException | None) -> None:
        on_done, on_error = self._callbacks.pop(job_id, (None, None))
        if not self._callbacks:
            self.busy_changed.emit(False)
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                raise error
        elif on_done is not None:
            on_done(result)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel what is still running, then stop the loop and join its thread."""
        _LIVE.discard(self)
        if not self._thread.is_alive():
            return

        async def stop() -> None:
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout)
        except Exception:  # noqa: BLE001 - shutting down anyway
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()
        else:  # a callback that never yields: the thread ends with the process
            _STUCK.append(self._thread)
