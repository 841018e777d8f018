""" "Send now" asks first: the app, the audience per platform, the providers, and a warning
when a credential failed its last check. Cancel sends nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.page import CampaignsPage
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec
from pushdeck.core.common.model import Message

APP = "Pushdeck Demo"


@pytest.fixture
def workspace(tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    return create_demo(tmp_path / "demo.pushdeck", devices=400)


@pytest.fixture
def runner(qtbot, workspace):
    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(workspace, opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    yield runner
    qtbot.wait_until(lambda: runner.pending == 0, timeout=10_000)
    runner.shutdown()


@pytest.fixture
def page(qtbot, runner):
    loop = AsyncLoop()
    spec = CampaignSpec("x", APP, Message(title="Hi", body="There"), AudienceSpec(AudienceKind.ALL))
    page = CampaignsPage(runner, loop, lambda: spec)
    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        page.reload()
    yield page
    qtbot.wait_until(lambda: not page.controller.active, timeout=30_000)
    qtbot.wait_until(lambda: runner.pending == 0, timeout=10_000)  # no callback after close
    loop.shutdown()
    page.close()
    page.deleteLater()


def _job(qtbot, runner, fn):
    box: list[object] = []
    runner.run(fn, box.append, box.append)
    qtbot.wait_until(lambda: bool(box), timeout=10_000)
    assert not isinstance(box[0], BaseException), box[0]
    return box[0]


def _create(ctx, name: str = "Big send") -> None:
    from pushdeck.core.campaigns.library import create_campaign, get_campaign

    ws = ctx.require_ws()
    create_campaign(ws, replace(get_campaign(ws, "Spring sale (demo)").spec, name=name))


def _review(qtbot, page: CampaignsPage, name: str) -> ReviewDialog:
    review = page.open_campaign(name)
    assert review is not None
    qtbot.wait_until(lambda: review.review is not None, timeout=10_000)
    return review


def test_send_now_asks_with_app_platforms_and_providers(qtbot, page, runner) -> None:
    _job(qtbot, runner, _create)
    review = _review(qtbot, page, "Big send")
    started: list[str] = []
    page.controller.started.connect(started.append)
    review._on_send_button_clicked()
    box = review.confirmation
    assert box is not None and box.isVisible()
    text = box.text() + box.informativeText()
    data = review.review
    assert data is not None
    assert f"{data.eligible:,} devices" in box.text()
    assert APP in text and "sandbox" in text
    for platform, count in data.by_platform.items():
        name = {"ios": "iOS", "android": "Android", "web": "Web"}[platform]
        assert f"{name} <b>{count:,}</b>" in text
    assert "failed its last check" not in text
    assert box.defaultButton() is not box.send_button  # Enter does not send
    box.reject()  # Cancel
    qtbot.wait(300)
    assert not started and not page.controller.active
    state = _job(qtbot, runner, lambda ctx: _status(ctx, "Big send"))
    assert state == ("draft", 0)  # nothing sent, no journal rows


def _status(ctx, name: str) -> tuple[str, int]:
    from pushdeck.core.campaigns.library import get_campaign

    ws = ctx.require_ws()
    campaign = get_campaign(ws, name)
    rows = ws.scalar("SELECT count(*) FROM journal WHERE campaign_id = ?", (campaign.id,))
    return str(campaign.status), int(rows)


def test_a_credential_that_failed_its_last_check_is_a_warning(qtbot, page, runner) -> None:
    def fail_check(ctx) -> None:
        from pushdeck.core.common.model import ProviderKind
        from pushdeck.core.credentials.forms import remember_check
        from pushdeck.core.providers.base import CheckResult

        result = CheckResult(False, "The server refused the key.", "403 InvalidProviderToken")
        remember_check(ctx.require_ws(), APP, ProviderKind.SANDBOX, result)

    _job(qtbot, runner, _create)
    _job(qtbot, runner, fail_check)
    review = _review(qtbot, page, "Big send")
    review._on_send_button_clicked()
    box = review.confirmation
    assert box is not None
    assert "failed its last check" in box.informativeText()
    assert "InvalidProviderToken" in box.informativeText()
    with qtbot.wait_signal(page.controller.finished, timeout=30_000) as finished:
        box.send_button.click()  # the user may still send
    assert finished.args[0].status == "sent"


def test_a_missed_schedule_sent_from_the_banner_asks_too(qtbot, page, runner) -> None:
    def miss(ctx) -> None:
        from pushdeck.core.campaigns.library import set_status
        from pushdeck.core.campaigns.spec import CampaignStatus

        _create(ctx, "Missed")
        set_status(ctx.require_ws(), "Missed", CampaignStatus.MISSED)

    with qtbot.wait_signal(page.rows_loaded, timeout=10_000):
        _job(qtbot, runner, miss)
    qtbot.wait_until(lambda: page.send_missed_button.isVisibleTo(page), timeout=10_000)
    page.send_missed_button.click()
    qtbot.wait_until(lambda: page.confirmation is not None, timeout=10_000)
    assert "Missed" in page.confirmation.text()
    page.confirmation.reject()
    qtbot.wait(300)
    assert not page.controller.active
