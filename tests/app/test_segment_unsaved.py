"""Unsaved segment edits are never thrown away silently: leaving asks Save / Discard /
Cancel, and a change made elsewhere (another process) keeps the edits on screen."""

from __future__ import annotations

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from pushdeck.app.segments.page import SegmentsPage
from pushdeck.app.tasks import TaskRunner

EDITED = {"all": [{"field": "locale", "op": "starts_with", "value": "pt"}]}


@pytest.fixture
def workspace(tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    return create_demo(tmp_path / "d.pushdeck", devices=200)


@pytest.fixture
def page(qtbot, workspace):
    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(workspace, opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    widget = SegmentsPage(runner)
    qtbot.addWidget(widget)
    widget.reload()
    qtbot.wait_until(lambda: widget.list.count() >= 2 and widget._editing != "", timeout=10_000)
    yield widget
    qtbot.wait_until(lambda: runner.pending == 0, timeout=10_000)
    runner.shutdown()


def _click(page: SegmentsPage, name: str) -> None:
    page.list.setCurrentItem(page.list.findItems(name, Qt.MatchFlag.MatchExactly)[0])


def _stored_rule(qtbot, page: SegmentsPage, name: str) -> dict:
    from pushdeck.core.store.segments import get_segment

    box: list[dict] = []
    page.runner.run(lambda ctx: dict(get_segment(ctx.require_ws(), name).rule), box.append)
    qtbot.wait_until(lambda: bool(box), timeout=10_000)
    return box[0]


def _answer(page: SegmentsPage, button: QMessageBox.StandardButton) -> list[str]:
    asked: list[str] = []

    def ask() -> QMessageBox.StandardButton:
        asked.append(page._editing)
        return button

    page.ask_unsaved = ask  # type: ignore[method-assign]
    return asked


def test_clicking_another_segment_asks_and_cancel_keeps_the_edits(qtbot, page) -> None:
    first, second = page.list.item(0).text(), page.list.item(1).text()
    saved = _stored_rule(qtbot, page, first)
    page.builder.set_rule(EDITED)
    assert page.is_dirty()
    asked = _answer(page, QMessageBox.StandardButton.Cancel)
    _click(page, second)
    assert asked == [first]
    assert page.builder.rule() == EDITED and page.name.text() == first
    assert page.current_name() == first  # the list went back to the edited segment
    assert _stored_rule(qtbot, page, first) == saved


def test_save_keeps_the_edits_then_shows_the_other_segment(qtbot, page) -> None:
    first, second = page.list.item(0).text(), page.list.item(1).text()
    page.builder.set_rule(EDITED)
    _answer(page, QMessageBox.StandardButton.Save)
    _click(page, second)
    qtbot.wait_until(lambda: page.name.text() == second, timeout=10_000)
    assert _stored_rule(qtbot, page, first) == EDITED
    assert not page.is_dirty() and page.current_name() == second


def test_discard_drops_the_edits(qtbot, page) -> None:
    first, second = page.list.item(0).text(), page.list.item(1).text()
    saved = _stored_rule(qtbot, page, first)
    page.builder.set_rule(EDITED)
    _answer(page, QMessageBox.StandardButton.Discard)
    _click(page, second)
    assert page.name.text() == second
    assert _stored_rule(qtbot, page, first) == saved


def test_new_with_unsaved_edits_asks_too(qtbot, page) -> None:
    page.builder.set_rule(EDITED)
    asked = _answer(page, QMessageBox.StandardButton.Cancel)
    page.new_segment()
    assert asked and page.builder.rule() == EDITED


def test_a_segment_added_by_another_process_keeps_unsaved_edits(qtbot, page, workspace) -> None:
    first = page.list.item(0).text()
    page.builder.set_rule(EDITED)
    subprocess.run(
        [sys.executable, "-m", "pushdeck", "segments", "add", "From the CLI", "--rule",
         "platform = android", "--workspace", str(workspace)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    page.runner.workspace_changed.connect(lambda areas: page.reload())  # as AudienceSection
    qtbot.wait_until(lambda: "From the CLI" in page.segments, timeout=10_000)
    assert page.builder.rule() == EDITED and page.name.text() == first and page.is_dirty()
