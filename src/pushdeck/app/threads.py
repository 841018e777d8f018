"""The GUI-thread guard: widget-updating slots call ``assert_gui_thread()``.

It is active when ``PUSHDECK_THREAD_CHECKS`` is set (the test suite sets it) and in debug
runs; in release it costs one attribute lookup.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QCoreApplication, QThread


class WrongThreadError(RuntimeError):
    """A widget was touched off the GUI thread."""


_ENABLED = os.environ.get("PUSHDECK_THREAD_CHECKS", "") not in ("", "0")


def checks_enabled() -> bool:
    return _ENABLED


def set_checks_enabled(enabled: bool) -> None:
    """Turn the guard on or off (the test suite turns it on)."""
    global _ENABLED
    _ENABLED = enabled


def is_gui_thread() -> bool:
    app = QCoreApplication.instance()
    return app is None or QThread.currentThread() is app.thread()


def assert_gui_thread(what: str = "a widget") -> None:
    """Raise ``WrongThreadError`` if called off the GUI thread (when checks are enabled)."""
    if checks_enabled() and not is_gui_thread():
        raise WrongThreadError(
            f"{what} was updated from thread {QThread.currentThread()!r}, "
            "not the GUI thread; send results through a queued signal"
        )
