"""Send on a shared workspace queues for the team's workers (issue 18): the app sends
nothing itself; its progress panel follows the journal to the worker's final count; with
no worker running it says so instead of spinning.

A real PostgreSQL database, a real ``pushdeck worker`` subprocess, the fake APNs on its
own thread (it counts every notification it accepted), the real window, offscreen.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.app import errors
from pushdeck.app.campaigns.queued import NO_WORKER_NOTE, NOT_QUEUED_TITLE, QUEUED_NOTE
from pushdeck.app.main_window import PAGES, MainWindow
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.campaigns.dispatch import Progress, cancel_campaign
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.review import run_due_in_own_workspace
from pushdeck.core.campaigns.spec import format_utc, spec_from_dict
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import App
from pushdeck.core.credentials.forms import save_apns_token
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.app.test_shared_workspace import _no_error_shown, _opened, _window
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

pytestmark = pytest.mark.usefixtures("allow_local_endpoints")

TOPIC = "com.example.shop"
DEVICES = 300
#: Where the rendered panel is kept for a look.
SHOT_DIR = Path("/tmp/pushdeck-queued-shots")


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def fake(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> Iterator[FakeApns]:
    pki = tls.make_pki(tmp_path / "pki")
    server = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
        public_key=key.public_key(), record=False, apns_like=True, latency=0.02,
    )  # fmt: skip
    server.pki = pki  # type: ignore[attr-defined]
    with server.server.running_in_thread():
        yield server


@pytest.fixture
def campaign(
    pg_database: str, fake: FakeApns, key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> str:
    """A shared workspace with app 'shop', its APNs credential (secret in this session's
    keyring, which the worker reads), DEVICES devices and campaign 'W' to all of them."""
    key_file = tmp_path / "AuthKey.p8"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop", apns_topic=TOPIC))
        save_apns_token(
            ws, "shop", key_file=str(key_file), key_id="KEY1234567", team_id="TEAM123456",
            environment="production", endpoint=fake.url,
            ca_file=str(fake.pki.ca_file),  # type: ignore[attr-defined]
        )  # fmt: skip
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, DEVICES + 1)])
        doc = {"name": "W", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
    return pg_database


@pytest.fixture
def worker(campaign: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushdeck", "--workspace", campaign, "worker",
         "--name", "w1", "--lease", "5", "--poll", "0.3"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    log.close()
    with Workspace.open(campaign) as ws:  # registered: the app will find it alive
        deadline = time.monotonic() + 30
        while not ws.scalar("SELECT count(*) FROM workers WHERE name = 'w1'"):
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the worker did not register"
            time.sleep(0.05)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def due_campaign(campaign: str) -> str:
    """Campaign 'Due' too, to every device, scheduled a minute ago: due now."""
    at = format_utc(datetime.now(UTC) - timedelta(minutes=1))
    with Workspace.open(campaign) as ws:
        doc = {"name": "Due", "app": "shop", "audience": {"all": True},
               "message": {"title": "Due now"}, "schedule": {"at": at}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
        assert str(get_campaign(ws, "Due").status) == "scheduled"
    return campaign


def _shared_window(qtbot, tmp_path: Path, uri: str) -> MainWindow:
    window = _window(qtbot, tmp_path)
    window.open_workspace(SharedWorkspace.from_uri(uri))
    _opened(qtbot, window)
    window.go_to(PAGES.index("Campaigns"))
    return window


def _status(uri: str, name: str = "W") -> str:
    """The campaign's status as another client reads it."""
    with Workspace.open(uri) as ws:
        return str(get_campaign(ws, name).status)


def _queued_with_no_worker(qtbot, tmp_path: Path, uri: str) -> MainWindow:
    """The window on ``uri`` after Send of 'W' with no worker running: queued, followed,
    and the panel says nobody will send it."""
    window = _shared_window(qtbot, tmp_path, uri)
    window.campaigns.send("W")
    qtbot.wait_until(
        lambda: NO_WORKER_NOTE in window.campaigns.progress.rate.text(), timeout=15_000
    )
    return window


def _close_clean(window: MainWindow) -> None:
    """No page's job failed along the way (each would show a dialog); close."""
    _no_error_shown()
    window.close()


def _shot(window: MainWindow, name: str) -> Path:
    SHOT_DIR.mkdir(exist_ok=True)
    path = SHOT_DIR / name
    assert window.campaigns.progress.grab().save(str(path))
    return path


def test_send_queues_for_the_worker_and_the_panel_follows_to_its_final_count(
    qtbot, tmp_path: Path, campaign: str, fake: FakeApns, worker: subprocess.Popen[bytes]
) -> None:
    window = _shared_window(qtbot, tmp_path, campaign)
    page = window.campaigns
    panel = page.progress
    seen: list[Progress] = []
    page.controller.progress.connect(seen.append)
    page.send("W")
    assert page.controller.queued
    qtbot.wait_until(lambda: panel.isVisible(), timeout=15_000)
    assert "queued for the team's workers" in panel.title.text()
    qtbot.wait_until(lambda: not page.controller.active, timeout=60_000)

    accepted = sum(fake.accepted.values())
    assert accepted == DEVICES  # the worker sent every device, once
    assert panel.title.text().startswith(f"“W” sent: {DEVICES:,} sent, {DEVICES:,} accepted")
    assert panel.counts["accepted"].text() == f"{DEVICES:,}"
    assert seen[-1].notice == f"{QUEUED_NOTE} (1 worker)"  # it found the worker alive
    assert seen[-1].counts["accepted"] == DEVICES
    assert panel.bar.value() == panel.bar.maximum()
    assert not panel.cancel_button.isEnabled()
    _shot(window, "queued-finished.png")

    assert _status(campaign) == "sent"
    with Workspace.open(campaign) as ws:
        # The app never registered as a sender: the one worker row is the subprocess's.
        assert [(r[0], r[1]) for r in ws.query("SELECT name, kind FROM workers")] == [
            ("w1", "worker")
        ]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(20) == 0
    with Workspace.open(campaign) as ws:  # it reports what it sent when it stops
        assert ws.scalar("SELECT sent FROM workers WHERE name = 'w1'") == DEVICES
    _close_clean(window)


def test_with_no_worker_running_the_panel_says_so(
    qtbot, tmp_path: Path, campaign: str, fake: FakeApns
) -> None:
    window = _queued_with_no_worker(qtbot, tmp_path, campaign)
    page = window.campaigns
    panel = page.progress
    assert "queued for the team's workers" in panel.title.text()
    assert QUEUED_NOTE not in panel.rate.text()
    assert page.controller.active and panel.cancel_button.isEnabled()
    window.resize(1000, 640)
    qtbot.wait(100)
    _shot(window, "queued-no-worker.png")
    assert sum(fake.accepted.values()) == 0  # the app sends nothing itself
    assert _status(campaign) == "sending"  # queued, waiting for a worker
    with Workspace.open(campaign) as ws:
        assert ws.scalar("SELECT count(*) FROM workers") == 0

    # Cancel from the panel: the campaign settles as cancelled and the panel says so.
    panel.cancel_button.click()
    qtbot.wait_until(lambda: not page.controller.active, timeout=15_000)
    assert panel.title.text().startswith("“W” cancelled: 0 sent")
    _close_clean(window)


@pytest.mark.parametrize(
    ("case", "reason", "advice", "status"),
    [
        ("no credential",
         "App “shop” has no credential in this workspace, and the workers need one for each "
         f"kind of device: this audience has {DEVICES:,} iOS devices (APNs).",
         "Add an APNs credential for “shop” on the Apps & credentials page and give each "
         "worker its secret (in the worker's own keyring or credentials folder), then press "
         "Send again.",
         "draft"),
        ("cancelled",
         "It is cancelled, and a cancelled campaign stays that way (its report keeps what it "
         "sent before).",
         "Duplicate it (Duplicate… on this page) and send the copy.", "cancelled"),
    ],
)  # fmt: skip
def test_a_campaign_that_cannot_be_queued_says_so_why_and_what_to_do(
    qtbot, tmp_path: Path, campaign: str, case: str, reason: str, advice: str, status: str
) -> None:
    with Workspace.open(campaign) as ws:
        if case == "no credential":
            ws.conn.execute("DELETE FROM credentials")
        else:
            cancel_campaign(ws, "W")
    window = _shared_window(qtbot, tmp_path, campaign)
    page = window.campaigns
    page.send("W")
    qtbot.wait_until(lambda: errors.GATE.box is not None, timeout=15_000)
    box = errors.GATE.box
    assert box is not None and box.windowTitle() == NOT_QUEUED_TITLE  # not "Sending stopped"
    text = box.text()
    assert text.startswith("“W” was not queued for the team's workers, so nothing was sent.")
    assert reason in text and advice in text
    assert "pushdeck credentials" not in text and "pushdeck campaigns" not in text  # the CLI's
    # What happened, why, what to do: three paragraphs, none saying what another said.
    _happened, why, what = text.split("\n\n")
    assert why == reason and what == advice
    assert "sent" not in why.replace("sent before", "")  # "nothing was sent" is said once
    assert not page.controller.active and not page.progress.isVisible()
    box.adjustSize()
    assert box.grab().save(str(tmp_path / "not-queued.png"))
    SHOT_DIR.mkdir(exist_ok=True)
    assert box.grab().save(str(SHOT_DIR / f"not-queued-{case.replace(' ', '-')}.png"))
    box.done(0)
    assert _status(campaign) == status  # nothing queued
    with Workspace.open(campaign) as ws:
        assert not ws.scalar("SELECT count(*) FROM journal")
    window.close()


def test_not_queued_for_lack_of_credentials_names_each_credential_the_audience_needs(
    qtbot, tmp_path: Path
) -> None:
    """iOS and Android devices, an opted-out web one, no credential: the why names APNs
    and FCM with their device counts, the what to do says to add both. (A workspace
    file: the words are worked out the same way as on a shared one.)"""
    from pushdeck.app.campaigns.queued import NotQueuedError, why_and_what_to_do

    with Workspace.open(tmp_path / "w.pushdeck") as ws:
        add_app(ws, App("shop", apns_topic=TOPIC))
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(1, 4)])
        add_devices(ws, [{"token": f"fcm-{i}", "provider": "fcm"} for i in range(2)])
        add_devices(ws, [{"token": "https://push.example/1", "provider": "webpush",
                          "opt_in": "denied"}])  # fmt: skip
        doc = {"name": "W", "app": "shop", "audience": {"all": True},
               "message": {"title": "Hi"}}  # fmt: skip
        create_campaign(ws, spec_from_dict(doc))
        refusal = ConfigError("App 'shop' has no credentials, so nothing can be sent.")
        why, what = why_and_what_to_do(ws, "W", refusal)
    assert why == (
        "App “shop” has no credential in this workspace, and the workers need one for each "
        "kind of device: this audience has 3 iOS devices (APNs) and 2 Android devices (FCM)."
    )
    assert what.startswith("Add APNs and FCM credentials for “shop” on the Apps & credentials")
    errors.show_error(None, NotQueuedError("W", why, what), NOT_QUEUED_TITLE)
    box = errors.GATE.box
    assert box is not None
    happened, *rest = box.text().split("\n\n")
    assert rest == [why, what] and "nothing was sent" in happened
    box.adjustSize()
    SHOT_DIR.mkdir(exist_ok=True)
    assert box.grab().save(str(SHOT_DIR / "not-queued-two-platforms.png"))
    box.done(0)


def test_opening_another_workspace_stops_following_and_the_workers_keep_the_campaign(
    qtbot, tmp_path: Path, campaign: str
) -> None:
    window = _queued_with_no_worker(qtbot, tmp_path, campaign)
    page = window.campaigns
    # No waiting for the Reports page to take in 'W' first: its load of 'W' racing the
    # switch is dropped by the runner (tests/app/test_workspace_switch.py).
    other = tmp_path / "other.pushdeck"
    Workspace.open(other).close()
    window.open_workspace(other)
    qtbot.wait_until(lambda: window.runner.workspace_path == other, timeout=15_000)
    assert not page.controller.active and not page.progress.isVisible()
    qtbot.wait(1500)  # a poll or two would have run against the workspace file
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=15_000)
    assert _status(campaign) == "sending"  # still queued for workers
    _close_clean(window)


def test_pause_settles_the_campaign_and_the_banner_queues_it_again(
    qtbot, tmp_path: Path, campaign: str
) -> None:
    window = _queued_with_no_worker(qtbot, tmp_path, campaign)
    page = window.campaigns
    page.progress.pause_button.click()
    qtbot.wait_until(lambda: not page.controller.active, timeout=15_000)
    assert page.progress.title.text().startswith("“W” paused: 0 sent")
    assert _status(campaign) == "paused"
    qtbot.wait_until(lambda: page.resume_button.isVisible(), timeout=15_000)
    page.resume_button.click()  # queued again, and followed again
    qtbot.wait_until(lambda: page.controller.queued, timeout=15_000)
    qtbot.wait_until(lambda: NO_WORKER_NOTE in page.progress.rate.text(), timeout=15_000)
    assert _status(campaign) == "sending"
    _close_clean(window)


def test_a_due_campaign_on_a_shared_workspace_is_left_to_the_workers_scheduler(
    qtbot, tmp_path: Path, due_campaign: str, fake: FakeApns, request: pytest.FixtureRequest
) -> None:
    """The app's own scheduled-send check sends nothing on a shared workspace: with no
    worker running the campaign waits (and the page says who would send it); once a
    worker runs, its scheduler sends it, every device once."""
    window = _shared_window(qtbot, tmp_path, due_campaign)
    page = window.campaigns
    note = page.schedule_note
    qtbot.wait_until(lambda: note.isVisible(), timeout=15_000)
    assert note.text().startswith("“Due” is scheduled: on this shared workspace the team's")
    assert note.text().endswith(NO_WORKER_NOTE)
    with qtbot.wait_signal(page.rows_loaded, timeout=30_000):
        page.run_due()  # the window's 30-second check, now: the campaign is due
    assert sum(fake.accepted.values()) == 0  # the app sent nothing itself
    assert _status(due_campaign, "Due") == "scheduled"
    with Workspace.open(due_campaign) as ws:
        assert ws.scalar("SELECT count(*) FROM journal") == 0
        assert ws.scalar("SELECT count(*) FROM workers") == 0  # nor claimed as a sender
    assert note.isVisible() and NO_WORKER_NOTE in note.text()
    # Nor does the core's send-what-is-due for the app's timer, asked directly.
    with pytest.raises(ConfigError, match="sent by the team's workers"):
        asyncio.run(run_due_in_own_workspace(due_campaign))
    assert sum(fake.accepted.values()) == 0
    window.resize(1100, 600)
    qtbot.wait(100)
    SHOT_DIR.mkdir(exist_ok=True)
    assert page.grab().save(str(SHOT_DIR / "scheduled-no-worker.png"))

    # A worker starts: its scheduler sends the campaign; the note goes at the next check.
    request.getfixturevalue("worker")
    deadline = time.monotonic() + 60
    while _status(due_campaign, "Due") != "sent":
        assert time.monotonic() < deadline, "the worker's scheduler did not send it"
        time.sleep(0.2)
    assert sum(fake.accepted.values()) == DEVICES and max(fake.accepted.values()) == 1
    with qtbot.wait_signal(page.rows_loaded, timeout=30_000):
        page.run_due()
    assert not note.isVisible()
    assert sum(fake.accepted.values()) == DEVICES  # still once each: the app sent nothing
    _close_clean(window)


def test_a_follower_whose_window_went_polls_no_more(qtbot) -> None:
    """The window (and its runner) closed while a queued campaign was followed: the
    follower's timer hands nothing to the deleted runner (it raised in whatever test or
    window came next)."""
    from PySide6.QtCore import QCoreApplication, QEvent

    from pushdeck.app.campaigns.queued import POLL_MS, QueueFollower
    from pushdeck.app.tasks import TaskRunner

    runner = TaskRunner()
    failed: list[BaseException] = []
    follower = QueueFollower(
        runner, "W", on_started=lambda _n: None, on_progress=lambda _p: None,
        on_finished=lambda _s: None, on_failed=failed.append,
    )  # fmt: skip
    follower.timer.start()  # following, as after a queue
    runner.shutdown()
    runner.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(POLL_MS * 3)  # a poll would raise here ("Signal source has been deleted")
    assert not follower.timer.isActive() and not failed
