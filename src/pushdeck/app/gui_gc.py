"""Python's cyclic garbage collector, run on the GUI thread only.

The app runs Python on three kinds of other threads: the SQL worker (a QThread), the
network loop and Qt's thread pool (image loads). CPython starts a collection on whichever
thread happens to allocate past the threshold, and a collection that finds a closed
dialog, page or chart in a reference cycle (a lambda connected to one of its signals is
enough) destroys its C++ side right there: a widget, a timer or a pyqtgraph item deleted
off the GUI thread, while the GUI thread may be using it. Qt then fails later and far
away, typically at exit ("pure virtual method called", SIGABRT). So the app turns
automatic collection off and collects on a GUI-thread timer instead, with the same
thresholds (pyqtgraph's ``GarbageCollector`` does the same for the same reason).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

#: How often the GUI thread looks at the allocation counts (a cheap check when idle).
CHECK_MS = 200


class GuiThreadCollector(QObject):
    """Owns the collector while started: ``start()`` disables automatic collection."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._was_enabled = gc.isenabled()

    def start(self) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect everything once more here, then hand collection back to CPython."""
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def check(self) -> None:
        """Collect the generations CPython would have collected by now."""
        threshold = gc.get_threshold()
        counts = gc.get_count()
        if counts[0] <= threshold[0]:
            return
        generation = 0
        if counts[1] > threshold[1]:
            generation = 1
            if counts[2] > threshold[2]:
                generation = 2
        gc.collect(generation)
