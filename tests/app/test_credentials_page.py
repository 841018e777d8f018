"""Apps & credentials page: app identities, per-provider forms with field-level problems,
secrets kept out of the page after saving, keyring banner, and the provider check."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PySide6.QtWidgets import QApplication

from pushdeck.app.async_loop import AsyncLoop
from pushdeck.app.credentials.forms import ApnsTokenForm, FcmForm, WebPushForm
from pushdeck.app.credentials.page import AppDialog, CredentialsPage
from pushdeck.app.tasks import TaskRunner


@pytest.fixture
def runner(qtbot, tmp_path):
    from pushdeck.core.demo.workspace import create_demo

    runner = TaskRunner()
    opened: list[object] = []
    runner.open_workspace(create_demo(tmp_path / "d.pushdeck", devices=50), opened.append)
    qtbot.wait_until(lambda: bool(opened), timeout=10_000)
    yield runner
    runner.shutdown()


@pytest.fixture
def page(qtbot, runner):
    loop = AsyncLoop()
    page = CredentialsPage(runner, loop)
    qtbot.addWidget(page)
    with qtbot.wait_signal(page.loaded, timeout=10_000):
        page.reload()
    yield page
    loop.shutdown()


def form_of(page, kind):
    return next(f for f in page.forms if isinstance(f, kind))


def p8(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "AuthKey_ABC123DEFG.p8"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))  # fmt: skip
    return path


def test_no_keyring_shows_a_banner_and_the_backend_in_the_status(qtbot, runner, monkeypatch):
    monkeypatch.setattr(
        "pushdeck.core.credentials.secrets.backend_name", lambda: "no keyring available"
    )
    page = CredentialsPage(runner, AsyncLoop())
    qtbot.addWidget(page)
    with qtbot.wait_signal(page.keyring_changed, timeout=10_000) as status:
        page.reload()
    assert status.args[0] == "Keyring: no keyring available"
    assert page.banner.isVisibleTo(page) and "Secret Service" in page.banner.text()
    page.loop.shutdown()


def test_problems_show_next_to_the_field_at_fault(qtbot, page, tmp_path, memory_keyring):
    form = form_of(page, ApnsTokenForm)
    form.line("file").setText(str(p8(tmp_path)))
    form.line("key_id").setText("short")
    form.line("team_id").setText("TEAM123456")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("key_id")), timeout=10_000)
    assert "10 capital letters" in form.problem("key_id") and not form.problem("team_id")
    form.line("key_id").setText("ABC123DEFG")
    form.advanced.setChecked(True)
    form.line("endpoint").setText("http://insecure")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("endpoint")), timeout=10_000)
    assert "https://" in form.problem("endpoint")


def test_saved_secret_is_not_shown_again_and_facts_are(qtbot, page, tmp_path, memory_keyring):
    form = form_of(page, ApnsTokenForm)
    form.line("file").setText(str(p8(tmp_path)))
    form.line("key_id").setText("ABC123DEFG")
    form.line("team_id").setText("TEAM123456")
    with qtbot.wait_signal(page.saved, timeout=10_000):
        page.save_form(form)
    assert form.text("file") == ""
    qtbot.wait_until(lambda: page.records.rowCount() == 2, timeout=10_000)
    shown = " ".join(page.records.item(r, 2).text() for r in range(2))
    assert "key id: ABC123DEFG" in shown and "PRIVATE KEY" not in shown
    assert any("PRIVATE KEY" in v for v in memory_keyring.store.values())


def test_webpush_generates_a_key_and_copies_the_public_key(qtbot, page, memory_keyring):
    form = form_of(page, WebPushForm)
    form.generate()
    public = form.public_key.text()
    assert len(public) == 87  # base64url of a 65-byte point, unpadded
    form.copy_public_key()
    assert QApplication.clipboard().text() == public
    form.line("subject").setText("ops@example.com")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("subject")), timeout=10_000)
    form.line("subject").setText("mailto:ops@example.com")
    with qtbot.wait_signal(page.saved, timeout=10_000) as saved:
        page.save_form(form)
    assert saved.args[0].record.facts["public_key"] == public


def test_fcm_file_shows_project_and_client(qtbot, page, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    path = tmp_path / "sa.json"
    path.write_text(json.dumps({"type": "service_account", "project_id": "shop-123",
                                "private_key": pem, "client_email": "push@shop-123.iam",
                                "token_uri": "https://oauth2.googleapis.com/token"}))  # fmt: skip
    form = form_of(page, FcmForm)
    form.line("file").setText(str(path))
    qtbot.wait_until(lambda: "shop-123" in form.account.text(), timeout=10_000)
    assert "push@shop-123.iam" in form.account.text()


def test_check_answers_in_plain_words(qtbot, page):
    page.records.selectRow(0)
    with qtbot.wait_signal(page.checked, timeout=10_000) as checked:
        page.check_selected()
    assert checked.args[0].ok
    assert "Works" in page.check_result.text()


def test_add_app_validates_identities(qtbot, page, runner):
    dialog = AppDialog(runner, page)
    qtbot.addWidget(dialog)
    dialog.edits["name"].setText("Shop")
    dialog.edits["web_origin"].setText("http://shop.example.com/path")
    dialog.add()
    qtbot.wait_until(lambda: dialog.errors["web_origin"].isVisibleTo(dialog), timeout=10_000)
    dialog.edits["web_origin"].setText("https://shop.example.com")
    with qtbot.wait_signal(dialog.added, timeout=10_000):
        dialog.add()


def _shown_texts(widget) -> str:
    from PySide6.QtWidgets import QLabel

    return "\n".join(
        label.text() for label in widget.findChildren(QLabel) if label.isVisibleTo(widget)
    )


def test_a_problem_and_its_hint_are_shown_once(qtbot, page, tmp_path, memory_keyring):
    form = form_of(page, ApnsTokenForm)
    bad = tmp_path / "AuthKey_ABC123DEFG.p8"
    bad.write_text("not a key")
    form.line("file").setText(str(bad))
    form.line("key_id").setText("ABC123DEFG")
    form.line("team_id").setText("TEAM123456")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("file")), timeout=10_000)
    shown = _shown_texts(page)
    assert shown.count("not a PEM private key") == 1
    assert shown.count("Apple Developer > Keys") == 1  # the hint, once
    assert "→" not in form.problem("file")  # not the CLI's "message → hint" form


def test_a_stale_problem_goes_when_the_field_is_edited(qtbot, page, tmp_path, memory_keyring):
    form = form_of(page, ApnsTokenForm)
    form.line("file").setText(str(p8(tmp_path)))
    form.line("key_id").setText("short")
    form.line("team_id").setText("TEAM123456")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("key_id")), timeout=10_000)
    form.line("key_id").setFocus()
    qtbot.keyClicks(form.line("key_id"), "X")  # the user starts fixing it
    assert form.problem("key_id") == ""
    assert "10 capital letters" not in _shown_texts(page)
    # A problem under another field stays until that one is edited.
    form.line("team_id").setText("bad")
    form.line("key_id").setText("ABC123DEFG")
    page.save_form(form)
    qtbot.wait_until(lambda: bool(form.problem("team_id")), timeout=10_000)
    qtbot.keyClicks(form.line("key_id"), "Z")
    assert form.problem("team_id")


def test_a_check_is_remembered_and_its_answer_stays_on_screen(qtbot, page):
    page.records.selectRow(0)
    with qtbot.wait_signal(page.checked, timeout=10_000):
        page.check_selected()
    # Remembering the answer changes the workspace; the page reloads and keeps showing it.
    with qtbot.wait_signal(page.loaded, timeout=10_000):
        pass
    assert "Works" in page.check_result.text()
    assert "last check: works" in page.records.item(0, 2).text()
