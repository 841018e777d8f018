"""Top-level test configuration shared by every test directory."""

from __future__ import annotations

import importlib.abc
import os
import sys
from collections.abc import Iterator

import keyring
import pytest
from keyring.backend import KeyringBackend

# pg_server and pg_database: a throwaway PostgreSQL server (tests/pg_fixtures.py).
pytest_plugins = ["tests.pg_fixtures"]

# Qt must never try to open a real display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class _BlockQt(importlib.abc.MetaPathFinder):
    """Makes PySide6 and pyqtgraph unimportable, proving the core runs without Qt."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "pytestqt"):
            raise ImportError(f"{name} is blocked: the core must not need Qt")


if os.environ.get("PUSHDECK_BLOCK_QT") == "1":
    sys.meta_path.insert(0, _BlockQt())


class MemoryKeyring(KeyringBackend):
    """An in-process keyring for UI tests that are about forms, not the Secret Service.

    The real Secret Service is exercised by tests/core/test_secrets.py and the CLI e2e tests.
    """

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def allow_local_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake servers listen on 127.0.0.1, which Pushdeck refuses for Web Push endpoints
    and preview images (core.netguard): tests against them opt in, as a lab would."""
    monkeypatch.setenv("PUSHDECK_ALLOW_LOCAL_ENDPOINTS", "1")


@pytest.fixture(autouse=True)
def fresh_error_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no error dialog shown, recently or ever: the app's error gate
    (``pushdeck.app.errors.GATE``) is app-wide, and an earlier test's dialog, deleted with
    its window since, is no error of this one. Every directory with app tests (tests/app,
    tests/e2e) gets it from here; where the app was not imported there is nothing to reset
    (and the core's run without Qt imports nothing)."""
    errors = sys.modules.get("pushdeck.app.errors")
    if errors is not None:
        monkeypatch.setattr(errors, "GATE", errors.ErrorGate())


@pytest.fixture(autouse=True)
def _stop_leftover_app_threads(request: pytest.FixtureRequest):
    """A test's windows and pages stop their worker threads and network loops when it
    ends, as the app does on quit: threads left running into interpreter exit can crash
    the whole run on its way out. (Only where the app was imported: the core's own run
    has no Qt at all.)"""
    yield
    if "pushdeck.app.tasks" in sys.modules:
        from pushdeck.app import async_loop, tasks

        async_loop.shutdown_all()
        tasks.shutdown_all()
        if "qapp" in request.fixturenames:  # a Qt test (qtbot needs qapp too)
            _collect_qt_garbage_here()


def _collect_qt_garbage_here() -> None:
    """Let the test's image loads finish and collect its Qt garbage now, on the GUI
    thread, as the app's ``GuiThreadCollector`` does: left for later, a collection
    started by some other test's thread (the core's tests run many) would destroy
    those widgets and timers there, and the run would abort at exit."""
    import gc

    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(5000)
    gc.collect()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Before the interpreter's exit, end what the app's tests left, as ``run_app`` does
    when its window closes: threads stopped, image loads drained, and every top-level
    widget deleted here, on the GUI thread, while the QApplication exists. Left to the
    interpreter's exit, leftover windows, pages and pyqtgraph items are destroyed in no
    particular order, some after the QApplication, and the run can die after every test
    passed (SIGSEGV / "pure virtual method called")."""
    if "pushdeck.app.tasks" not in sys.modules:
        return
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from pushdeck.app import async_loop, tasks

    async_loop.shutdown_all()
    tasks.shutdown_all()
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return
    import shiboken6

    from pushdeck.app.reports.charts import release_charts

    for widget in app.topLevelWidgets():
        if shiboken6.isValid(widget):  # not deleted by an earlier one of the list
            release_charts(widget)
            widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    _collect_qt_garbage_here()
