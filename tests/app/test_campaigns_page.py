"""Campaigns page: list model, create from a draft, review, test send, send with progress,
pause/cancel, resume after an interruption, duplicate and delete."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.model import CampaignListModel
from pushdeck.app.campaigns.page import CampaignsPage
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.campaigns.dispatch import DispatchOptions
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec
from pushdeck.core.common.model import Message
from pushdeck.core.reports.campaign_list import CampaignRow

APP = "Pushdeck Demo"


def spec() -> CampaignSpec:
    return CampaignSpec("draft", APP, Message(title="Hello", body="Hi {{ first_name }}"),
                        AudienceSpec(AudienceKind.ALL))  # fmt: skip


@pytest.fixture
def workspace(tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    return create_demo(tmp_path / "demo.pushdeck", devices=300)


@pytest.fixture
def runner(qtbot, workspace):
    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(workspace, opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    yield runner
    runner.shutdown()


@pytest.fixture
def loop():
    loop = AsyncLoop()
    yield loop
    loop.shutdown()


@pytest.fixture
def page(qtbot, runner, loop):
    options = DispatchOptions(flush_interval=0.05, progress_interval=0.05, status_poll=0.05)
    page = CampaignsPage(runner, loop, spec, options=options)
    qtbot.addWidget(page)
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.reload()
    return page


def run_job(qtbot, runner, fn):
    box: dict[str, object] = {}
    runner.run(fn, lambda r: box.setdefault("r", r), lambda e: box.setdefault("e", e))
    qtbot.wait_until(lambda: bool(box), timeout=10_000)
    assert "e" not in box, box.get("e")
    return box["r"]


def test_list_model_passes_the_model_tester(qtmodeltester):
    model = CampaignListModel()
    model.set_rows([CampaignRow("A", "sent", APP, 10, 9, 8, 2, "2026-01-01T00:00:00Z", "", "")])
    qtmodeltester.check(model)
    assert model.data(model.index(0, 2)) == "10"


def test_list_shows_the_demo_campaign_with_counts(page):
    row = page.model.rows[0]
    assert (row.name, row.status, row.audience) == ("Spring sale (demo)", "sent", 300)
    assert 0 < row.accepted <= row.sent <= row.audience


def test_create_review_test_send_then_send_with_progress(qtbot, page, runner):
    dialog = page.new_campaign()
    dialog.name.setText("Welcome")
    qtbot.wait_until(lambda: dialog.audience.count() > 2, timeout=10_000)
    dialog.audience.setCurrentIndex(dialog.audience.findText("Segment: iOS users"))
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        dialog.create_campaign()
    review = page.findChildren(ReviewDialog)[-1]  # opened on creation
    qtbot.wait_until(lambda: review.review is not None, timeout=10_000)
    assert set(review.review.by_platform) == {"ios"}
    assert review.review.eligible > 0 and review.send_button.isEnabled()
    with qtbot.wait_signal(review.tested, timeout=10_000) as tested:
        review.send_test()
    results = tested.args[0]
    assert results and all(r.answer for r in results)
    assert review.test_table.rowCount() == len(results)
    progress: list[object] = []
    page.controller.progress.connect(progress.append)
    with qtbot.wait_signal(page.controller.finished, timeout=30_000) as finished:
        review._on_send_button_clicked()
        assert review.confirmation is not None  # asks first (tests/app/test_send_confirm.py)
        review.confirmation.send_button.click()
    summary = finished.args[0]
    assert summary.status == "sent" and summary.counts["accepted"] > 0
    assert progress, "progress events reached the GUI thread"
    sent = sum(summary.counts.get(k, 0) for k in ("accepted", "rejected", "dead"))
    qtbot.wait_until(lambda: page.model.rows[page.model.row_named("Welcome")].sent == sent,
                     timeout=10_000)  # fmt: skip
    assert page.model.rows[page.model.row_named("Welcome")].status == "sent"


def test_cancel_stops_a_throttled_send(qtbot, page, runner):
    def create(ctx):
        from pushdeck.core.campaigns.library import create_campaign

        create_campaign(ctx.require_ws(), replace(spec(), name="Slow", throttle_per_minute=600))

    run_job(qtbot, runner, create)
    with qtbot.wait_signal(page.controller.progress, timeout=10_000):
        page.send("Slow")
    assert page.progress.isVisible() or page.progress.isVisibleTo(page)
    page.controller.pause()
    assert page.controller.paused
    with qtbot.wait_signal(page.controller.finished, timeout=20_000) as finished:
        page.controller.cancel()
    assert finished.args[0].status == "cancelled"
    assert finished.args[0].counts.get("cancelled", 0) > 0


def test_a_send_keeps_the_page_s_own_note_on_who_sends_scheduled_campaigns(qtbot, page, runner):
    """Send once made the page a new, parentless note (shown later, it would have opened
    as a window of its own while the page's note kept its old text)."""
    note = page.schedule_note

    def create(ctx):
        from pushdeck.core.campaigns.library import create_campaign

        create_campaign(ctx.require_ws(), replace(spec(), name="Quick"))

    run_job(qtbot, runner, create)
    with qtbot.wait_signal(page.controller.finished, timeout=30_000):
        page.send("Quick")
    assert page.schedule_note is note
    assert page.schedule_note.window() is page.window()


def test_an_interrupted_campaign_is_offered_for_resume(qtbot, page, runner):
    def interrupt(ctx):
        from pushdeck.core.campaigns.library import create_campaign, set_status
        from pushdeck.core.campaigns.spec import CampaignStatus

        ws = ctx.require_ws()
        create_campaign(ws, replace(spec(), name="Crashed"))
        set_status(ws, "Crashed", CampaignStatus.SENDING, started=True)

    run_job(qtbot, runner, interrupt)
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.reload()
    assert page.banner.isVisibleTo(page) and "Crashed" in page.banner.text()
    with qtbot.wait_signal(page.controller.finished, timeout=30_000) as finished:
        page.resume_button.click()
    assert finished.args[0].status == "sent"


def test_a_missed_schedule_waits_for_a_decision_send_now_or_cancel(
    qtbot, page, runner, monkeypatch
):
    from PySide6.QtWidgets import QMessageBox

    def miss(ctx):
        from pushdeck.core.campaigns.library import create_campaign, set_status
        from pushdeck.core.campaigns.spec import CampaignStatus

        ws = ctx.require_ws()
        for name in ("Flash sale", "Weekly digest"):
            create_campaign(ws, replace(spec(), name=name))
            set_status(ws, name, CampaignStatus.MISSED, error="The scheduled time passed")

    with qtbot.wait_signal(page.decision_needed, timeout=10_000) as needed:
        run_job(qtbot, runner, miss)  # the page follows the workspace: no reload needed
    first = str(page.cancel_missed_button.property("campaign"))
    assert needed.args[0] == page.banner.text()  # the window shows it and brings the page up
    with qtbot.assert_not_emitted(page.decision_needed):  # once per campaign, not per reload
        with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
            page.reload()
    second = ({"Flash sale", "Weekly digest"} - {first}).pop()
    assert page.banner.isVisibleTo(page) and f"“{first}”" in page.banner.text()
    assert "1 more" in page.banner.text() and page.send_missed_button.isVisibleTo(page)
    assert not page.resume_button.isVisibleTo(page)

    monkeypatch.setattr(QMessageBox, "question", lambda *a: QMessageBox.StandardButton.Yes)
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.cancel_missed_button.click()
    assert page.model.rows[page.model.row_named(first)].status == "cancelled"
    assert f"“{second}”" in page.banner.text() and "more" not in page.banner.text()

    with qtbot.wait_signal(page.controller.finished, timeout=30_000) as finished:
        page.send_missed_button.click()
        qtbot.wait_until(lambda: page.confirmation is not None, timeout=10_000)
        page.confirmation.send_button.click()
    assert finished.args[0].status == "sent"
    qtbot.wait_until(lambda: not page.banner.isVisibleTo(page), timeout=10_000)


def test_duplicate_and_delete(qtbot, page):
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.duplicate("Spring sale (demo)", "Spring again")
    assert page.model.rows[page.model.row_named("Spring again")].status == "draft"
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.delete("Spring again")
    assert page.model.row_named("Spring again") == -1


def test_schedule_at_a_time_and_at_local_time(qtbot, page, runner):
    def create(ctx):
        from pushdeck.core.campaigns.library import create_campaign

        create_campaign(ctx.require_ws(), replace(spec(), name="Later"))

    run_job(qtbot, runner, create)
    review = page.open_campaign("Later")
    qtbot.wait_until(lambda: review.review is not None, timeout=10_000)
    review.schedule_kind.setCurrentIndex(2)
    assert review.send_button.text() == "Schedule" and review.local_time.isEnabled()
    with qtbot.wait_signal(review.scheduled, timeout=10_000) as scheduled:
        review._on_send_button_clicked()
    assert scheduled.args[0]  # the first moment any time zone is due
    qtbot.wait_until(lambda: page.model.row_named("Later") >= 0
                     and page.model.rows[page.model.row_named("Later")].status == "scheduled",
                     timeout=10_000)  # fmt: skip
    assert page.due_timer.isActive()


def test_closing_mid_send_asks_and_pauses(qtbot, page, runner, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    def create(ctx):
        from pushdeck.core.campaigns.library import create_campaign

        create_campaign(ctx.require_ws(), replace(spec(), name="Long", throttle_per_minute=600))

    run_job(qtbot, runner, create)
    with qtbot.wait_signal(page.controller.progress, timeout=10_000):
        page.send("Long")
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(_parent, _title, text, *args):
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    assert not page.confirm_close() and not page.controller.paused
    answer = QMessageBox.StandardButton.Yes
    assert page.confirm_close() and page.controller.paused
    assert "Long" in asked[0]
    with qtbot.wait_signal(page.controller.finished, timeout=20_000):
        page.controller.cancel()


def test_progress_panel_says_in_plain_words_that_a_provider_is_down(qtbot, page):
    from pushdeck.core.campaigns.dispatch import Progress, SendSummary

    panel = page.progress
    notice = "APNs unavailable since 14:02 (503 ServiceUnavailable); retrying in 30 s"
    counts = {"accepted": 10, "queued": 90}
    panel.show_progress(Progress("Spring", "sending", counts, 100, 90, 0.0, None, 0, notice))
    assert panel.rate.text() == notice
    error = "APNs unavailable since 2026-03-01 14:02 (503 ServiceUnavailable); stopped waiting"
    panel._on_controller_finished(SendSummary("Spring", "paused", counts, 0, error=error))
    assert "paused" in panel.title.text() and error in panel.title.text()
