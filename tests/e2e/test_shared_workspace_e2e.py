"""Two clients on one shared PostgreSQL workspace (issue 17's end-to-end test).

Client A is the CLI, run as real processes, as a teammate at a terminal: it adds the app,
imports the devices and builds a segment. Client B is the desktop app (driven with
pytest-qt), open on the same workspace all along: it sees A's devices and segment arrive
without reopening anything, adds the APNs key on its own machine (keyring), and sends a
campaign to that segment (queued; A's ``campaigns send`` works it as one more worker)
through the fake APNs (real HTTP/2 over TLS on 127.0.0.1).
Every device of the segment reaches the fake exactly once, the others never; and A's
report (``pushdeck report``, another process) shows the send."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["PUSHDECK_THREAD_CHECKS"] = "1"

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.credentials.forms import ApnsTokenForm
from pushdeck.app.main import build_window
from pushdeck.app.main_window import PAGES, MainWindow
from pushdeck.app.workspace_target import SharedWorkspace
from pushdeck.core.common.errors import KeyringUnavailableError
from pushdeck.core.credentials import secrets
from tests.core import credential_files
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns
from tests.fakes.h2server import Request, Response

TOPIC = "com.example.shop"
PRO, FREE = 9, 5  # devices in the segment, and outside it


def _token(i: int) -> str:
    return f"{i + 1:064x}"


@pytest.fixture
def real_keyring() -> None:
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise
        pytest.skip("no Secret Service here; run through scripts/test")


@pytest.fixture
def apns(tmp_path: Path) -> Iterator[tuple[FakeApns, Path, tls.TestPKI, Counter[str]]]:
    """The fake APNs in its own thread; ``delivered`` counts accepted sends per token."""
    pki = tls.make_pki(tmp_path / "pki")
    p8 = tmp_path / "AuthKey_KEY1234567.p8"
    credential_files.p8_key(p8)
    key = serialization.load_pem_private_key(p8.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    fake = FakeApns(pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
                    public_key=key.public_key())  # fmt: skip
    delivered: Counter[str] = Counter()
    answer = fake.server.handler

    def counting(req: Request) -> Response:
        response = answer(req)
        if response.status == 200:
            delivered[req.path.rsplit("/", 1)[-1]] += 1
        return response

    fake.server.handler = counting
    with fake.server.running_in_thread():
        yield fake, p8, pki, delivered


def client_a(uri: str, *args: str) -> str:
    """The CLI in its own process, as a teammate types it."""
    env = {k: v for k, v in os.environ.items() if k != "PUSHDECK_WORKSPACE"}
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", uri, *args],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def _devices_csv(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["token", "platform", "provider", "environment", "attr.plan"])
        for i in range(PRO + FREE):
            out.writerow([_token(i), "ios", "apns", "production", "pro" if i < PRO else "free"])
    return path


def _settle(qtbot: Any, window: MainWindow) -> None:
    qtbot.wait_until(lambda: window.runner.pending == 0, timeout=30_000)


def _no_error_shown() -> None:
    from pushdeck.app import errors

    box = errors.GATE.box  # this test's: the gate is fresh for each (tests/conftest.py)
    details = getattr(box, "details", None)
    assert box is None, details.toPlainText() if details is not None else box.text()


def _add_apns_key(qtbot: Any, window: MainWindow, fake: FakeApns, p8: Path, pki: Any) -> None:
    """Client B's admin adds the APNs key on B's machine: the row for everyone, the
    secret in B's keyring."""
    credentials = window.credentials
    window.go_to(PAGES.index("Apps & credentials"))
    qtbot.wait_until(lambda: credentials.current_app() == "shop", timeout=15_000)
    apns = next(f for f in credentials.forms if isinstance(f, ApnsTokenForm))
    apns.line("file").setText(str(p8))
    apns.line("key_id").setText("KEY1234567")
    apns.line("team_id").setText("TEAM123456")
    apns.advanced.setChecked(True)
    apns.line("endpoint").setText(fake.url)
    apns.line("ca_file").setText(str(pki.ca_file))
    with qtbot.wait_signal(credentials.saved, timeout=15_000):
        credentials.save_form(apns)
    _settle(qtbot, window)


def test_one_client_builds_the_audience_the_other_sends_every_device_once(
    qtbot, tmp_path: Path, pg_database: str, apns, real_keyring, allow_local_endpoints
):
    fake, p8, pki, delivered = apns

    # Client B, the app, opens the shared workspace first (creating it) and stays open.
    window = build_window(None, config_dir=tmp_path / "cfg", demo_path=tmp_path / "d.pushdeck")
    qtbot.addWidget(window)
    window.show()
    window.open_workspace(SharedWorkspace.from_uri(pg_database, create=True))
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=30_000)
    _settle(qtbot, window)

    # Client A, the CLI: the app, the devices, a segment.
    client_a(pg_database, "apps", "add", "shop", "--topic", TOPIC)
    client_a(
        pg_database, "devices", "import", str(_devices_csv(tmp_path / "d.csv")), "--app", "shop"
    )
    client_a(pg_database, "segments", "add", "Pro users", "--rule", "attr.plan = pro")

    # B sees them arrive, without reopening: the device count and the segment list.
    total = PRO + FREE
    qtbot.wait_until(
        lambda: window.workspace_label.text().endswith(f"· {total} devices"), timeout=20_000
    )
    segments = window.audience.segments
    qtbot.wait_until(
        lambda: (
            [segments.list.item(i).text() for i in range(segments.list.count())] == ["Pro users"]
        ),
        timeout=20_000,
    )

    # B adds the key on its machine, composes and sends to A's segment.
    _add_apns_key(qtbot, window, fake, p8, pki)
    window.go_to(PAGES.index("Compose"))
    fields = window.composer.form.bindings
    fields["title"].widget.clear()
    qtbot.keyClicks(fields["title"].widget, "Pro week")
    fields["body"].widget.clear()
    qtbot.keyClicks(fields["body"].widget, "Everything 20% off for pros")
    window.go_to(PAGES.index("Campaigns"))
    page = window.campaigns
    new = page.new_campaign()
    qtbot.wait_until(lambda: new.audience.findText("Segment: Pro users") >= 0, timeout=15_000)
    new.name.setText("Pro week")
    new.app.setCurrentText("shop")
    new.audience.setCurrentIndex(new.audience.findText("Segment: Pro users"))
    new.create_campaign()
    qtbot.wait_until(lambda: bool(page.findChildren(ReviewDialog)), timeout=15_000)
    review = page.findChildren(ReviewDialog)[-1]
    qtbot.wait_until(lambda: review.review is not None, timeout=15_000)
    assert review.review.eligible == PRO and review.review.missing_here == []
    assert review.send_button.isEnabled()
    # On a shared workspace the app's Send queues the campaign for the team's workers
    # (issue 18) and follows it; A's `campaigns send` is the worker here (another process,
    # its own connection, the key from the shared keyring).
    with qtbot.wait_signal(page.controller.finished, timeout=90_000) as finished:
        with qtbot.wait_signal(page.controller.started, timeout=30_000):
            review._on_send_button_clicked()
            review.confirmation.send_button.click()
        assert page.controller.queued
        client_a(pg_database, "campaigns", "send", "Pro week")
    summary = finished.args[0]
    assert summary.status == "sent" and summary.counts["accepted"] == PRO

    # Every device of the segment exactly once at the fake; none outside it.
    assert delivered == Counter({_token(i): 1 for i in range(PRO)})

    # A's report, from another process, shows B's send.
    report = client_a(pg_database, "report", "Pro week", "--format", "csv", "-o", "-")
    rows = list(csv.DictReader(io.StringIO(report)))
    assert rows, report
    flat = " ".join(f"{k}={v}" for row in rows for k, v in row.items())
    assert f"={PRO}" in flat, report
    _check_report_counts(rows, report)
    _settle(qtbot, window)
    _no_error_shown()
    window.close()


def _check_report_counts(rows: list[dict[str, str]], text: str) -> None:
    """The report's accepted count for the campaign is the segment's size."""
    accepted = [
        v for row in rows for k, v in row.items() if k and "accepted" in k.lower() and v.isdigit()
    ]
    assert accepted and int(accepted[0]) == PRO, text
