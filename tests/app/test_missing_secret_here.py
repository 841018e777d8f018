"""A member of a shared (PostgreSQL) workspace whose keyring lacks a credential's secret:
the Credentials page and the review say so in plain words, Send is off with that reason,
and the review's counts and payload previews still work. The keyring is the real one
(gnome-keyring in scripts/test's session); the credential row is there, its secret is not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from pushdeck.app.campaigns.confirm import SendConfirmation
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.main_window import PAGES
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import AudienceKind, AudienceSpec, CampaignSpec
from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.common.model import App, Message
from pushdeck.core.credentials import secrets
from pushdeck.core.credentials.forms import save_apns_token, save_sandbox
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.app.test_shared_workspace import _no_error_shown, _opened, _window
from tests.core import credential_files as files
from tests.core.campaign_helpers import add_devices

MISSING = "This machine has no APNs key for app “shop” — ask an admin to add it here"


def _plain(label) -> str:
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


@pytest.fixture
def shared_workspace(pg_database: str, tmp_path: Path) -> str:
    """A shared workspace where an admin added an APNs key on *their* machine: the row is
    in the database, the secret in their keyring, not in this one."""
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Secret Service here; run through scripts/test")
    key = tmp_path / "AuthKey_KEY1234567.p8"
    files.p8_key(key)
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        record = save_apns_token(ws, "shop", key_file=str(key), key_id="KEY1234567",
                                 team_id="TEAM123456", environment="production").record  # fmt: skip
        secrets.keyring_backend().delete_password(secrets.SERVICE, record.keyring_username)
        save_sandbox(ws, "shop", failure_rate=0, open_rate=0)
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, 5)])
        create_campaign(ws, CampaignSpec("Launch", "shop", Message(title="Hi", body="New"),
                                         AudienceSpec(AudienceKind.ALL)))  # fmt: skip
    return pg_database


def test_compose_and_preview_yes_send_no_and_the_app_says_why(
    qtbot, tmp_path: Path, shared_workspace: str
):
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(shared_workspace))
    _opened(qtbot, window)

    # Apps & credentials: the row is listed, and the page says this machine lacks its key.
    credentials = window.credentials
    window.go_to(PAGES.index("Apps & credentials"))
    qtbot.wait_until(lambda: credentials.missing.isVisibleTo(credentials), timeout=15_000)
    assert MISSING in credentials.missing.text()
    # Escaped text shown as rich text: "Apps & credentials", never "Apps &amp; credentials".
    assert credentials.missing.textFormat() == Qt.TextFormat.RichText
    assert "Apps & credentials →" in _plain(credentials.missing)
    rows = [credentials.records.item(r, 0).text() for r in range(credentials.records.rowCount())]
    assert sorted(rows) == ["apns", "sandbox"]

    # The review: counts and payloads as usual, Send off with the reason next to it.
    review = ReviewDialog(window.runner, window.loop, "Launch", window)
    qtbot.addWidget(review)
    review.show()
    qtbot.wait_until(lambda: review.review is not None, timeout=15_000)
    assert review.review.eligible == 4 and review.review.by_platform == {"ios": 4}
    ios = review.review.payloads["ios"]
    assert ios.ok and '"title": "Hi"' in ios.text
    assert review.tabs.tabText(2) == "Payloads"  # the previews of what would be sent
    assert not review.send_button.isEnabled()
    assert review.blocked.isVisibleTo(review) and MISSING in review.blocked.text()
    assert MISSING in review.send_button.toolTip()

    # Sending from the campaign list asks the same question, and cannot say yes.
    page = window.campaigns
    page.confirm_and_send("Launch")
    qtbot.wait_until(lambda: page.confirmation is not None, timeout=15_000)
    box = page.confirmation
    assert isinstance(box, SendConfirmation)
    assert not box.send_button.isEnabled()
    assert MISSING in box.informativeText()
    assert box.windowTitle() == "Cannot send from this machine"
    box.reject()
    review.close()
    _no_error_shown()
    window.close()
