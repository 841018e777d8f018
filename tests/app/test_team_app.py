"""The app on a shared workspace with roles (issue 18): the review's Approve button names
who approved and turns Send on; an editor sees why Send is off; the Audit page lists
each step with its login. Real PostgreSQL logins, the real window, offscreen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pushdeck.app import errors
from pushdeck.app.campaigns.queued import NOT_QUEUED_TITLE
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.main_window import PAGES
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App
from pushdeck.core.credentials.forms import save_sandbox
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from pushdeck.core.team.members import add_member
from tests.app.test_shared_workspace import _no_error_shown, _opened, _window
from tests.core.campaign_helpers import add_devices
from tests.core.pg_team import Team, team

__all__ = ["team"]  # the fixture

#: Where the rendered Audit page is kept for a look (tests/app/test_screenshots.py's way).
SHOT_DIR = Path("/tmp/pushdeck-team-shots")


@pytest.fixture
def editors_campaign(team: Team) -> dict[str, str]:
    """An editor created 'Launch'; a sender has not approved it yet."""
    names = {base: team.name(base) for base in ("ed", "se")}
    with Workspace.open(team.uri()) as owner:
        add_app(owner, App("shop", apns_topic="com.example.shop"))
        save_sandbox(owner, "shop", failure_rate=0, open_rate=0)
        add_member(owner, names["ed"], "editor", team.password(names["ed"]))
        add_member(owner, names["se"], "sender", team.password(names["se"]))
    with Workspace.open(team.uri(names["ed"])) as ed:
        add_devices(ed, [{"token": f"{i:064x}", "provider": "sandbox"} for i in range(1, 6)])
        doc = {"name": "Launch", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi", "body": "New"}}  # fmt: skip
        create_campaign(ed, spec_from_dict(doc))
    return names


def _review(qtbot, window, name: str) -> ReviewDialog:
    review = ReviewDialog(window.runner, window.loop, name, window)
    qtbot.addWidget(review)
    review.show()
    qtbot.wait_until(lambda: review.review is not None, timeout=15_000)
    return review


def test_a_sender_approves_in_the_review_and_the_audit_page_shows_who(
    qtbot, tmp_path: Path, team: Team, editors_campaign: dict[str, str]
) -> None:
    se, ed = editors_campaign["se"], editors_campaign["ed"]
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(team.uri(se)))
    _opened(qtbot, window)

    review = _review(qtbot, window, "Launch")
    assert review.approval.isVisibleTo(review)
    assert f"Changed by {ed}: needs a sender's approval." in review.approval.text()
    assert review.approve_button.isVisibleTo(review) and review.approve_button.isEnabled()
    assert not review.send_button.isEnabled()
    assert "needs a sender's approval" in review.send_button.toolTip()

    with qtbot.wait_signal(review.approved, timeout=15_000):
        review.approve_button.click()
    assert f"Approved by {se} at " in review.approval.text()
    assert review.send_button.isEnabled()
    assert not review.approve_button.isEnabled()  # approved as it is now
    assert review.approve_button.text() == "Approved"
    SHOT_DIR.mkdir(exist_ok=True)
    assert review.grab().save(str(SHOT_DIR / "review-approved.png"))
    review.close()

    window.go_to(PAGES.index("Audit"))
    page = window.audit
    qtbot.wait_until(
        lambda: any(e.action == "approve" for e in page.entries), timeout=15_000
    )
    table = [
        [page.table.item(r, c).text() for c in range(page.table.columnCount())]
        for r in range(page.table.rowCount())
    ]
    assert table[0][1:5] == [se, "approve", "campaign", "Launch"]  # newest first
    assert [ed, "create", "campaign", "Launch"] in [row[1:5] for row in table]
    assert [team.owner, "create", "member", ed] in [row[1:5] for row in table]
    assert f"You are {se} (sender)." in page.note.text() and "nobody" in page.note.text()
    window.resize(1200, 640)
    qtbot.wait(100)
    shot = tmp_path / "audit.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 10_000
    SHOT_DIR.mkdir(exist_ok=True)
    shutil.copy(shot, SHOT_DIR / "audit-page.png")
    _no_error_shown()
    window.close()


def test_an_editor_sees_why_send_is_off_and_no_approve_button(
    qtbot, tmp_path: Path, team: Team, editors_campaign: dict[str, str]
) -> None:
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(team.uri(editors_campaign["ed"])))
    _opened(qtbot, window)
    review = _review(qtbot, window, "Launch")
    assert not review.approve_button.isVisibleTo(review)
    assert not review.send_button.isEnabled()
    assert review.send_button.toolTip() == (
        "Your role editor may not send campaigns; ask a sender or an admin."
    )
    review.close()
    _no_error_shown()
    window.close()


@pytest.mark.parametrize(
    ("login", "reason", "advice"),
    [
        ("se", "Campaign 'Launch' needs the approval of a sender before it is sent.",
         "Approve it in its review (Review / send… › Approve), then press Send again."),
        ("ed", "Your role editor may not send campaigns; ask a sender or an admin.",
         "Ask a sender or an admin of this workspace to approve and send it."),
    ],
)  # fmt: skip
def test_send_of_a_campaign_not_approved_says_it_was_not_queued_and_what_to_do(
    qtbot, tmp_path: Path, team: Team, editors_campaign: dict[str, str],
    login: str, reason: str, advice: str,
) -> None:  # fmt: skip
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(team.uri(editors_campaign[login])))
    _opened(qtbot, window)
    window.campaigns.send("Launch")  # as a Send pressed anyway (the review would say why not)
    qtbot.wait_until(lambda: errors.GATE.box is not None, timeout=15_000)
    box = errors.GATE.box
    assert box is not None and box.windowTitle() == NOT_QUEUED_TITLE
    text = box.text()
    assert text.startswith("“Launch” was not queued for the team's workers, so nothing was sent.")
    assert reason in text and advice in text
    assert "pushdeck campaigns approve" not in text  # the window's way, not the CLI's
    assert not window.campaigns.controller.active
    SHOT_DIR.mkdir(exist_ok=True)
    assert box.grab().save(str(SHOT_DIR / f"not-queued-{login}.png"))
    box.done(0)
    with Workspace.open(team.uri()) as owner:
        assert owner.scalar("SELECT status FROM campaigns WHERE name = 'Launch'") == "draft"
    window.close()


def test_on_a_workspace_file_the_review_has_no_approval_and_the_audit_page_says_why(
    qtbot, tmp_path: Path
) -> None:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        doc = {"name": "Solo", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
    window = _window(qtbot, tmp_path)
    window.open_workspace(path)
    _opened(qtbot, window)
    review = _review(qtbot, window, "Solo")
    assert not review.approval.isVisibleTo(review)
    assert not review.approve_button.isVisibleTo(review)
    review.close()
    window.go_to(PAGES.index("Audit"))
    qtbot.wait_until(lambda: "team feature" in window.audit.note.text(), timeout=15_000)
    assert window.audit.table.rowCount() == 0
    _no_error_shown()
    window.close()


def test_a_viewer_opens_every_page_without_an_error(
    qtbot, tmp_path: Path, team: Team, editors_campaign: dict[str, str]
) -> None:
    viewer = team.name("vi")
    with Workspace.open(team.uri()) as owner:
        add_member(owner, viewer, "viewer", team.password(viewer))
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(team.uri(viewer)))
    _opened(qtbot, window)
    for index in range(len(PAGES)):
        window.go_to(index)
        qtbot.wait(200)
        qtbot.wait_until(lambda: window.runner.pending == 0, timeout=15_000)
    assert window.audit.table.rowCount() > 0  # a viewer reads the log too
    review = _review(qtbot, window, "Launch")
    assert review.review.eligible == 5  # reads the audience
    assert not review.send_button.isEnabled() and not review.approve_button.isVisibleTo(review)
    review.close()
    _no_error_shown()
    window.close()
