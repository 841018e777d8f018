"""Quitting while background work runs ends the process cleanly, every time.

A second process opens the main window on a workspace (the app's own ``run_app``), starts
work on every kind of background thread the app has (SQL jobs on the workspace worker, a
coroutine on the network loop, image loads on Qt's thread pool that are slow to answer),
makes some Qt garbage in reference cycles, and quits while all of it is still running.
It must exit 0 with nothing on stderr about threads, deleted objects or aborts ("pure
virtual method called", "terminate called", a QThread destroyed while running).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pushdeck.core.demo.workspace import create_demo

RUNS = 3
SHUTDOWN_SECONDS = 5  # TaskRunner.shutdown's wait

CHILD = textwrap.dedent(
    """
    import asyncio, sys, threading, time
    from pathlib import Path

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog, QLabel

    from pushdeck.app import main as app_main
    from pushdeck.app.previews import images
    from pushdeck.core.demo.campaign import DEMO_CAMPAIGN

    def slow_fetch(url, **_kw):  # a DNS lookup that takes its time
        time.sleep(1.0)
        raise images.PushdeckError("unreachable")

    images.fetch_image = slow_fetch
    app = QApplication(sys.argv[:1])

    JOB_SECONDS = float(sys.argv[2])

    def slow_job(ctx):
        ctx.require_ws()
        time.sleep(JOB_SECONDS)
        # Garbage made on the worker thread: a collection here must not delete Qt objects.
        junk = [[object()] for _ in range(5000)]
        for a, b in zip(junk, junk[1:]):
            a.append(b)
            b.append(a)
        return len(junk)

    def leave_cycles(window):
        for _ in range(20):  # closed dialogs kept alive only by a cycle through a lambda
            dialog = QDialog(window)
            label = QLabel("x", dialog)
            dialog.finished.connect(lambda _r, d=dialog, l=label: (d, l))
            dialog.setParent(None)

    def start(window):
        for _ in range(4):
            window.runner.run(slow_job)
        window.loop.submit(asyncio.sleep(60))
        for i in range(6):
            window.composer.images.image(f"https://cdn.example.com/{i}.png")
        leave_cycles(window)
        print("started", threading.active_count(), window.reports.data is not None, flush=True)
        QTimer.singleShot(150, app.quit)

    def start_when_charted(window, tries=[0]):
        # The sent campaign's report is on screen first: its charts (pyqtgraph scenes)
        # are what a window's deletion has to take apart.
        tries[0] += 1
        if window.reports.data is None and tries[0] < 400:
            QTimer.singleShot(25, lambda: start_when_charted(window))
            return
        start(window)

    def show_report(window):
        window.pages.setCurrentWidget(window.reports)
        window.reports.show_campaign(DEMO_CAMPAIGN)
        start_when_charted(window)

    build = app_main.build_window

    def build_and_hook(*args, **kwargs):
        window = build(*args, **kwargs)
        later = lambda _path: QTimer.singleShot(0, lambda: show_report(window))
        window.runner.workspace_opened.connect(later)
        return window

    app_main.build_window = build_and_hook
    code = app_main.run_app(Path(sys.argv[1]), sys.argv[:1])
    print("returned", code, flush=True)
    sys.exit(code)
    """
)

ABORT_SIGNS = (
    "terminate called",
    "pure virtual",
    "QThread: Destroyed",
    "Traceback",
    "has been deleted",
    "Timers cannot",
    "Fatal Python error",
)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_demo(tmp_path_factory.mktemp("quit") / "demo.pushdeck", devices=200)


def _quit_mid_job(workspace: Path, tmp_path: Path, job_seconds: float) -> None:
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "PYTHONFAULTHANDLER": "1",
    }
    script = tmp_path / "quit_mid_job.py"
    script.write_text(CHILD)
    for run in range(RUNS if job_seconds < 1 else 1):
        done = subprocess.run(
            [sys.executable, str(script), str(workspace), str(job_seconds)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        context = f"run {run + 1}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "started" in done.stdout, context  # the work really was under way
        assert "True" in done.stdout, context  # with the report's charts drawn
        assert done.returncode == 0, context
        if job_seconds < SHUTDOWN_SECONDS:  # else it leaves without finalizing (os._exit)
            assert "returned 0" in done.stdout, context
        else:  # it waited once for the worker, not once per shutdown hook
            assert done.stderr.count("did not stop within") == 1, context
        assert not [sign for sign in ABORT_SIGNS if sign in done.stderr], context


def test_quitting_mid_job_exits_cleanly(workspace: Path, tmp_path: Path) -> None:
    _quit_mid_job(workspace, tmp_path, job_seconds=0.4)


def test_quitting_while_a_job_outlasts_the_shutdown_wait_exits_cleanly(
    workspace: Path, tmp_path: Path
) -> None:
    # The workspace worker is given 5 s to finish its job; this one takes longer (a server
    # that does not answer). Destroying its still-running QThread would abort the process.
    _quit_mid_job(workspace, tmp_path, job_seconds=SHUTDOWN_SECONDS + 3)
