"""A saved segment whose rule no longer compiles never breaks the app's pages (issue 12)."""

from __future__ import annotations

import pytest

from pushdeck.app.segments import page as segments_page
from pushdeck.app.segments.page import SegmentsPage
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.store import Workspace
from tests.core.test_segment_safety import BROKEN, break_segments


@pytest.fixture
def runner(qtbot, tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    path = create_demo(tmp_path / "d.pushdeck", devices=200)
    with Workspace.open(path) as ws:
        break_segments(ws)
    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(path, opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    yield runner
    runner.shutdown()


def test_segments_page_lists_broken_segments_with_the_good_ones(qtbot, runner, monkeypatch):
    errors: list[BaseException] = []
    monkeypatch.setattr(segments_page, "show_error", lambda _parent, exc: errors.append(exc))
    page = SegmentsPage(runner)
    qtbot.addWidget(page)
    page.reload()
    qtbot.wait_until(lambda: set(BROKEN) <= set(page.segments), timeout=10_000)
    assert not errors
    assert "iOS users" in page.segments and not page.segments["iOS users"].problem
    assert all(page.segments[name].problem for name in BROKEN)
