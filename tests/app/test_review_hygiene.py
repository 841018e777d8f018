"""The review dialog shows the campaign's cap and quiet hours, who they exclude, and how
many devices quiet hours hold until when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtWidgets import QTableWidget

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.tasks import TaskRunner
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials.secrets import store_credential
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices


def test_review_lists_held_devices_and_the_rules(qtbot, tmp_path):
    now = datetime.now(UTC)
    # Quiet from an hour ago to an hour from now, in UTC: the UTC devices are inside.
    window = {
        "from": f"{now - timedelta(hours=1):%H:%M}",
        "to": f"{now + timedelta(hours=1):%H:%M}",
    }
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        # An APNs credential on record (its secret is not needed to review): without one
        # every device would be held back for having no credential, not for quiet hours.
        store_credential(ws, "shop", ProviderKind.APNS, "token", None, {})
        add_devices(ws, [{"token": f"u{i}", "timezone": "UTC"} for i in range(3)]
                    + [{"token": "x", "timezone": "UTC", "opt_in": "denied"}])  # fmt: skip
        create_campaign(ws, spec_from_dict({
            "name": "Night", "app": "shop", "audience": {"all": True},
            "message": {"title": "Hi"}, "quiet_hours": window,
            "frequency_cap": {"max": 3, "within": "7d"},
        }))  # fmt: skip
    runner, loop = TaskRunner(), AsyncLoop()
    opened: list[object] = []
    runner.open_workspace(path, opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    try:
        dialog = ReviewDialog(runner, loop, "Night")
        qtbot.addWidget(dialog)
        qtbot.wait_until(lambda: dialog.review is not None, timeout=10_000)
        assert dialog.review is not None and dialog.review.held_devices == 3
        held = next(t for t in dialog.findChildren(QTableWidget) if t.accessibleName() == "Held")
        assert held.rowCount() == 1 and held.item(0, 1).text() == "3"
        assert "in UTC" in held.item(0, 0).text()
        assert "3 of them held for their quiet hours" in dialog.summary.text()
        texts = " ".join(label.text() for label in dialog.findChildren(type(dialog.summary)))
        assert "at most 3 in 7 d" in texts and "Quiet hours" in texts
    finally:
        runner.shutdown()
        loop.shutdown()
