"""Credentials: checks on entry, secrets only in the (real) keyring, never in SQLite."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from pushdeck.cli import main
from pushdeck.core.common.errors import CredentialError, KeyringUnavailableError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.credentials import checks, secrets
from pushdeck.core.providers.credentials import (
    ApnsCertCredential,
    ApnsTokenCredential,
    FcmCredential,
    WebPushCredential,
)
from pushdeck.core.store import Workspace
from tests.core import credential_files as files


def _keyring_or_skip() -> None:
    try:
        secrets.keyring_backend()
    except KeyringUnavailableError:
        if os.environ.get("CI"):
            raise  # CI runs a real Secret Service; its absence is a failure there
        pytest.skip("no Secret Service here; run through scripts/test")


@pytest.fixture
def workspace_file(tmp_path: Path) -> Path:
    path = tmp_path / "w.pushdeck"
    assert (
        main(["--workspace", str(path), "apps", "add", "shop", "--topic", "com.example.shop"]) == 0
    )
    return path


def test_every_credential_kind_round_trips_and_no_secret_reaches_sqlite(
    workspace_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _keyring_or_skip()
    caplog.set_level(logging.DEBUG)
    w = ["--workspace", str(workspace_file)]
    pem = files.p8_key(tmp_path / "AuthKey.p8")
    account = files.service_account(tmp_path / "sa.json")
    vapid = checks.generate_vapid_key()
    (tmp_path / "vapid.pem").write_bytes(vapid)
    assert (
        main(
            [
                *w,
                "credentials",
                "set-apns",
                "shop",
                "--key-file",
                str(tmp_path / "AuthKey.p8"),
                "--key-id",
                "ABC123DEFG",
                "--team-id",
                "TEAM123456",
                "--environment",
                "sandbox",
            ]
        )
        == 0
    )
    assert (
        main([*w, "credentials", "set-fcm", "shop", "--service-account", str(tmp_path / "sa.json")])
        == 0
    )
    assert (
        main(
            [
                *w,
                "credentials",
                "set-webpush",
                "shop",
                "--key-file",
                str(tmp_path / "vapid.pem"),
                "--subject",
                "mailto:ops@example.com",
            ]
        )
        == 0
    )
    assert main([*w, "credentials", "list", "--json"]) == 0
    assert main([*w, "devices", "export", str(tmp_path / "out.csv")]) == 0
    printed = capsys.readouterr()

    with Workspace.open(workspace_file) as ws:
        apns = secrets.load_credential(ws, "shop", ProviderKind.APNS)
        fcm = secrets.load_credential(ws, "shop", ProviderKind.FCM)
        web = secrets.load_credential(ws, "shop", ProviderKind.WEBPUSH)
    assert isinstance(apns, ApnsTokenCredential) and apns.key_pem == pem
    assert apns.topic == "com.example.shop" and apns.environment.value == "sandbox"
    assert isinstance(fcm, FcmCredential) and fcm.service_account == account
    assert isinstance(web, WebPushCredential) and web.private_key_pem == vapid

    secret_bits = [_body(pem), _body(account["private_key"].encode()), _body(vapid)]
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("w.pushdeck*"))
    stored += (tmp_path / "out.csv").read_bytes()
    visible = (printed.out + printed.err + caplog.text).encode()
    for bit in secret_bits:
        assert bit not in stored and bit not in visible
    assert repr(apns).count("BEGIN") == 0

    assert main([*w, "credentials", "remove", "shop", "fcm"]) == 0
    with Workspace.open(workspace_file) as ws, pytest.raises(Exception, match="no fcm"):
        secrets.load_credential(ws, "shop", ProviderKind.FCM)


def _body(pem: bytes) -> bytes:
    """A 40-byte slice from the middle of the base64 body of a PEM."""
    lines = [ln for ln in pem.splitlines() if ln and not ln.startswith(b"-----")]
    return lines[1][:40]


def test_p12_round_trip_with_expiry_and_topic(
    workspace_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _keyring_or_skip()
    files.apns_p12(tmp_path / "cert.p12", b"s3cret", days=10)
    monkeypatch.setenv("P12_PW", "s3cret")
    assert (
        main(
            [
                "--workspace",
                str(workspace_file),
                "credentials",
                "set-apns-cert",
                "shop",
                "--cert-file",
                str(tmp_path / "cert.p12"),
                "--password-env",
                "P12_PW",
            ]
        )
        == 0
    )
    with Workspace.open(workspace_file) as ws:
        record = secrets.get_record(ws, "shop", ProviderKind.APNS)
        credential = secrets.load_credential(ws, "shop", ProviderKind.APNS)
    assert record.facts["topic"] == "com.example.shop" and "expires" in record.facts
    assert isinstance(credential, ApnsCertCredential) and credential.password == b"s3cret"
    assert b"s3cret" not in b"".join(p.read_bytes() for p in tmp_path.glob("w.pushdeck*"))


def test_checks_name_the_file_and_the_problem(tmp_path: Path) -> None:
    rsa_pem = json.loads(json.dumps(files.service_account(tmp_path / "sa.json")))["private_key"]
    with pytest.raises(CredentialError, match="not a P-256"):
        checks.check_p8(rsa_pem.encode(), "ABC123DEFG", "TEAM123456", "AuthKey.p8")
    with pytest.raises(CredentialError, match="not a PEM"):
        checks.check_p8(b"hello", "ABC123DEFG", "TEAM123456", "AuthKey.p8")
    with pytest.raises(CredentialError, match="key id"):
        checks.check_p8(files.p8_key(tmp_path / "k.p8"), "short", "TEAM123456")
    p12 = files.apns_p12(tmp_path / "c.p12", b"pw")
    with pytest.raises(CredentialError, match="password is wrong"):
        checks.check_p12(p12, b"nope", "c.p12")
    with pytest.raises(CredentialError, match="expired"):
        checks.check_p12(files.apns_p12(tmp_path / "old.p12", b"pw", days=-1), b"pw")
    with pytest.raises(CredentialError, match="not an APNs certificate"):
        checks.check_p12(files.apns_p12(tmp_path / "tls.p12", b"pw", apns=False), b"pw")
    soon = checks.check_p12(files.apns_p12(tmp_path / "soon.p12", b"pw", days=5), b"pw")
    assert soon.warnings and "renew" in soon.warnings[0]
    with pytest.raises(CredentialError, match="lacks project_id"):
        checks.check_service_account(
            json.dumps({"type": "service_account"})
            .encode()
            .replace(b"}", b', "private_key": "x", "client_email": "e", "token_uri": "u"}')
        )
    with pytest.raises(CredentialError, match="not JSON"):
        checks.check_service_account(b"\x00\x01")
    with pytest.raises(CredentialError, match="mailto"):
        checks.check_vapid(checks.generate_vapid_key(), "ops@example.com")


def test_no_keyring_is_a_clear_refusal_never_plaintext(
    workspace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        code = main(
            [
                "--workspace",
                str(workspace_file),
                "credentials",
                "set-webpush",
                "shop",
                "--generate",
                "--subject",
                "mailto:ops@example.com",
            ]
        )
    finally:
        keyring.set_keyring(previous)
    err = capsys.readouterr().err
    assert code == 1
    assert "No usable OS keyring" in err and "PYTHON_KEYRING_BACKEND" in err
    with Workspace.open(workspace_file) as ws:
        assert ws.scalar("SELECT count(*) FROM credentials") == 0


def _files_holding(home: Path, needle: str) -> list[Path]:
    """Files under ``home`` holding ``needle`` as written or base64-encoded (the way
    keyrings.alt's plain-text file keeps values)."""
    found = []
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        squeezed = "".join(text.split())  # base64 split over indented lines
        decoded = ""
        for chunk in squeezed.replace("=", "= ").split():
            try:
                decoded += base64.b64decode(chunk + "=" * (-len(chunk) % 4)).decode("latin-1")
            except ValueError:
                continue
        if needle in text or needle in decoded:
            found.append(path)
    return found


def _set_apns_in_fresh_process(
    tmp_path: Path, home: Path, key_file: Path, extra_env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND", "XDG_DATA_HOME")
        and not k.startswith(("XDG_CONFIG", "GNOME_KEYRING"))
    }
    env.update({"HOME": str(home), **extra_env})
    run = [sys.executable, "-m", "pushdeck", "--workspace", str(tmp_path / "w.pushdeck")]
    if not (tmp_path / "w.pushdeck").exists():
        subprocess.run([*run, "apps", "add", "shop", "--topic", "com.ex.a"], env=env, check=True)
    return subprocess.run(
        [
            *run, "credentials", "set-apns", "shop", "--key-file", str(key_file),
            "--key-id", "ABC123DEFG", "--team-id", "TEAM123456",
        ],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_plaintext_keyring_is_refused_unless_chosen_explicitly(tmp_path: Path) -> None:
    pytest.importorskip("keyrings.alt", reason="installed with the dev extras")
    home = tmp_path / "home"
    home.mkdir()
    key_file = tmp_path / "keys" / "AuthKey.p8"
    key_file.parent.mkdir()
    pem = files.p8_key(key_file).decode()
    body_line = pem.splitlines()[1]  # random base64, unique to this key

    # No Secret Service (no D-Bus session): keyring would pick keyrings.alt's plain file.
    refused = _set_apns_in_fresh_process(tmp_path, home, key_file, {})
    assert refused.returncode == 1, refused.stderr
    assert "keeps secrets unencrypted" in refused.stderr
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _files_holding(home, body_line) == []
    with Workspace.open(tmp_path / "w.pushdeck") as ws:
        assert ws.scalar("SELECT count(*) FROM credentials") == 0

    # The user's explicit choice is honoured, with one warning saying what it means.
    chosen = _set_apns_in_fresh_process(
        tmp_path,
        home,
        key_file,
        {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring"},
    )
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stderr.count("UNENCRYPTED") == 1
    assert len(_files_holding(home, body_line)) == 1  # where the user chose to keep it
