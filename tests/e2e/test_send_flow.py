"""End to end, through the window: an empty workspace, an app with a sandbox and an APNs
credential (against the fake APNs server), a CSV import, a segment built in the builder,
a message typed in the composer, a test send, the real send, and the counts."""

from __future__ import annotations

import csv
import os
from pathlib import Path

os.environ["PUSHDECK_THREAD_CHECKS"] = "1"

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.app.campaigns.review import ReviewDialog
from pushdeck.app.credentials.forms import ApnsTokenForm, SandboxForm
from pushdeck.app.credentials.page import AppDialog
from pushdeck.app.main import build_window
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

TOPIC = "com.example.shop"
APNS_DEVICES = 6
SANDBOX_DEVICES = 14


def devices_csv(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["token", "platform", "provider", "environment", "test", "attr.plan"])
        for i in range(APNS_DEVICES):
            out.writerow([f"{i + 1:064x}", "ios", "apns", "production", i == 0, "pro"])
        for i in range(SANDBOX_DEVICES):
            plan = "pro" if i % 2 else "free"
            out.writerow([f"sbx-android-e2e-{i:03d}", "android", "sandbox", "", i == 1, plan])
        out.writerow(["", "ios", "apns", "", "", "pro"])  # rejected: no token
    return path


def test_import_segment_compose_test_send_and_send(qtbot, tmp_path, memory_keyring):
    window = build_window(None, config_dir=tmp_path / "cfg", demo_path=tmp_path / "demo.pushdeck")
    qtbot.addWidget(window)
    runner = window.runner

    def settle() -> None:
        qtbot.wait_until(lambda: runner.pending == 0, timeout=20_000)

    window.open_workspace(tmp_path / "shop.pushdeck")
    qtbot.wait_until(lambda: window.root.currentIndex() == 1, timeout=20_000)
    settle()

    # --- an app and its credentials ---------------------------------------------------------
    pki = tls.make_pki(tmp_path / "pki")
    key = ec.generate_private_key(ec.SECP256R1())
    p8 = tmp_path / "AuthKey_KEY1234567.p8"
    p8.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))  # fmt: skip
    fake = FakeApns(pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
                    public_key=key.public_key())  # fmt: skip
    started: list[object] = []
    window.loop.submit(fake.start(), started.append)
    qtbot.wait_until(lambda: bool(started), timeout=10_000)

    credentials = window.credentials
    window.go_to(4)
    dialog = AppDialog(runner, credentials)
    dialog.edits["name"].setText("Shop")
    dialog.edits["topic"].setText(TOPIC)
    with qtbot.wait_signal(credentials.loaded, timeout=10_000):
        dialog.added.connect(lambda name: credentials.reload(select=name))
        dialog.add()
    assert credentials.current_app() == "Shop"
    sandbox = next(f for f in credentials.forms if isinstance(f, SandboxForm))
    sandbox.failure.setValue(0)
    with qtbot.wait_signal(credentials.saved, timeout=10_000):
        credentials.save_form(sandbox)
    apns = next(f for f in credentials.forms if isinstance(f, ApnsTokenForm))
    apns.line("file").setText(str(p8))
    apns.line("key_id").setText("KEY1234567")
    apns.line("team_id").setText("TEAM123456")
    apns.advanced.setChecked(True)
    apns.line("endpoint").setText(fake.url)
    apns.line("ca_file").setText(str(pki.ca_file))
    with qtbot.wait_signal(credentials.saved, timeout=10_000):
        credentials.save_form(apns)
    settle()
    providers = [
        credentials.records.item(r, 0).text() for r in range(credentials.records.rowCount())
    ]
    credentials.records.selectRow(providers.index("apns"))
    with qtbot.wait_signal(credentials.checked, timeout=20_000) as checked:
        credentials.check_selected()
    assert checked.args[0].ok, checked.args[0]

    # --- import devices ---------------------------------------------------------------------
    window.go_to(2)
    audience = window.audience.devices
    wizard = audience.open_import()
    qtbot.wait_until(lambda: wizard.app_box.currentText() == "Shop", timeout=10_000)
    with qtbot.wait_signal(wizard.previewed, timeout=10_000):
        wizard.load_file(devices_csv(tmp_path / "devices.csv"))
    with qtbot.wait_signal(wizard.finished_import, timeout=20_000) as imported:
        wizard.start_import()
    report = imported.args[0]
    assert (report.inserted, report.rejected_count) == (APNS_DEVICES + SANDBOX_DEVICES, 1)
    assert wizard.rejected_table.item(0, 1).text() == "token"
    wizard.accept()
    qtbot.wait_until(lambda: audience.model.total == APNS_DEVICES + SANDBOX_DEVICES, timeout=10_000)

    # --- build a segment --------------------------------------------------------------------
    segments = window.audience.segments
    window.audience.setCurrentWidget(segments)
    segments.new_segment()
    segments.name.setText("Pro users")
    root = segments.builder.root
    root.clear()
    with qtbot.wait_signal(segments.counted, timeout=10_000) as counted:
        root.add_condition({"field": "attr.plan", "op": "=", "value": "pro"})
    pro = APNS_DEVICES + SANDBOX_DEVICES // 2
    assert counted.args[0] == pro
    with qtbot.wait_signal(segments.segments_changed, timeout=10_000):
        segments.save()

    # --- compose ----------------------------------------------------------------------------
    window.go_to(1)
    form = window.composer.form.bindings
    form["title"].widget.setFocus()
    form["title"].widget.clear()
    qtbot.keyClicks(form["title"].widget, "Pro week")
    form["body"].widget.clear()
    qtbot.keyClicks(form["body"].widget, "Everything 20% off for pros")
    assert window.composer.model.draft.message.title == "Pro week"

    # --- campaign: create, review, test send, send ------------------------------------------
    window.go_to(0)
    page = window.campaigns
    new = page.new_campaign()
    qtbot.wait_until(lambda: new.audience.findText("Segment: Pro users") >= 0, timeout=10_000)
    new.name.setText("Pro week")
    new.app.setCurrentText("Shop")
    new.audience.setCurrentIndex(new.audience.findText("Segment: Pro users"))
    new.create_campaign()
    qtbot.wait_until(lambda: bool(page.findChildren(ReviewDialog)), timeout=10_000)
    review = page.findChildren(ReviewDialog)[-1]
    qtbot.wait_until(lambda: review.review is not None, timeout=10_000)
    assert review.review.eligible == pro
    assert review.review.by_platform == {"ios": APNS_DEVICES, "android": SANDBOX_DEVICES // 2}
    assert '"title": "Pro week"' in review.review.payloads["ios"].text
    with qtbot.wait_signal(review.tested, timeout=20_000) as tested:
        review.send_test()
    results = tested.args[0]
    assert [r.ok for r in results] == [True, True], [r.answer for r in results]
    with qtbot.wait_signal(page.controller.finished, timeout=60_000) as finished:
        review._on_send_button_clicked()
        review.confirmation.send_button.click()  # the "Send now?" question
    summary = finished.args[0]
    assert summary.status == "sent"
    assert summary.counts["accepted"] == pro
    assert sum(fake.accepted.values()) == APNS_DEVICES + 1  # the test send + the campaign
    qtbot.wait_until(lambda: page.model.row_named("Pro week") >= 0
                     and page.model.rows[page.model.row_named("Pro week")].accepted == pro,
                     timeout=10_000)  # fmt: skip
    assert page.progress.counts["accepted"].text() == f"{pro:,}"

    stopped: list[object] = []
    window.loop.submit(fake.aclose(), stopped.append)
    qtbot.wait_until(lambda: bool(stopped), timeout=10_000)
    settle()
    window.loop.shutdown()
    runner.shutdown()
