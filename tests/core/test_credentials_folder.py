"""A headless worker's credentials folder (PUSHDECK_CREDENTIALS_DIR): owner-only files with
the keyring's secrets, looser permissions refused with the chmod to run, a send that finds
its secret only there, and a clear error for a missing file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.cli import main
from pushdeck.core.common.errors import CredentialError
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.credentials.folder import (
    CREDENTIALS_DIR_ENV,
    CredentialsFolder,
    file_name,
    write_secret,
)
from pushdeck.core.credentials.on_this_machine import has_secret
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.conftest import MemoryKeyring
from tests.core import credential_files as files
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

TOPIC = "com.example.shop"
TOKEN = "ab" * 32
REFERENCE = "0b7c9a5e-ws/shop/apns"
SECRET = json.dumps({"key_pem": "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n"})


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "creds"
    write_secret(root, REFERENCE, SECRET)
    return root


def test_export_writes_owner_only_files_that_read_back(folder: Path) -> None:
    path = folder / file_name(REFERENCE)
    assert path.name == "0b7c9a5e-ws--shop--apns.json"
    assert (folder.stat().st_mode & 0o777, path.stat().st_mode & 0o777) == (0o700, 0o600)
    assert CredentialsFolder(folder).read(REFERENCE) == SECRET
    assert [p.name for p in folder.iterdir()] == [path.name]  # no partial file left


def test_a_group_or_other_readable_file_is_refused_with_the_chmod(folder: Path) -> None:
    path = folder / file_name(REFERENCE)
    path.chmod(0o644)
    with pytest.raises(CredentialError) as refused:
        CredentialsFolder(folder).read(REFERENCE)
    assert str(path) in refused.value.message and "mode 0644" in refused.value.message
    assert refused.value.hint == f"Run: chmod 600 {path}"
    assert not CredentialsFolder(folder).has(REFERENCE)
    path.chmod(0o600)
    assert CredentialsFolder(folder).read(REFERENCE) == SECRET


def test_a_folder_open_to_others_is_refused_with_the_chmod(folder: Path) -> None:
    folder.chmod(0o755)
    with pytest.raises(CredentialError) as refused:
        CredentialsFolder(folder).read(REFERENCE)
    assert f"The credentials folder {folder} is open to group or others (mode 0755)" in str(
        refused.value.message
    )
    assert refused.value.hint == f"Run: chmod 700 {folder}"
    # Nor does export write into it.
    with pytest.raises(CredentialError, match="open to group or others"):
        write_secret(folder, "ws/other/fcm", SECRET)
    assert not (folder / file_name("ws/other/fcm")).exists()


def test_a_symlink_is_judged_by_the_file_it_points_to(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    loose = elsewhere / "secret.json"
    loose.write_text(SECRET)
    loose.chmod(0o644)
    link = folder / file_name(REFERENCE)
    link.unlink()
    link.symlink_to(loose)
    with pytest.raises(CredentialError) as refused:
        CredentialsFolder(folder).read(REFERENCE)
    assert "readable by group or others" in refused.value.message
    assert str(loose) in refused.value.message and refused.value.hint == f"Run: chmod 600 {loose}"
    loose.chmod(0o600)  # a mounted secret (symlinks into ..data) that is tight is fine
    assert CredentialsFolder(folder).read(REFERENCE) == SECRET


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a file to another user")
def test_a_symlink_to_someone_elses_file_is_refused(folder: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.json"
    theirs.write_text(SECRET)
    theirs.chmod(0o600)
    os.chown(theirs, 65534, 65534)  # nobody
    link = folder / file_name(REFERENCE)
    link.unlink()
    link.symlink_to(theirs)
    with pytest.raises(CredentialError) as refused:
        CredentialsFolder(folder).read(REFERENCE)
    assert f"{theirs} belongs to user id 65534" in refused.value.message
    assert refused.value.hint == f"Run: chown 0 {theirs}"


def test_a_missing_file_or_folder_is_a_clear_error(folder: Path, tmp_path: Path) -> None:
    with pytest.raises(CredentialError) as missing:
        CredentialsFolder(folder).read("0b7c9a5e-ws/shop/fcm")
    assert f"{folder} has no file 0b7c9a5e-ws--shop--fcm.json" in missing.value.message
    assert "export-to-dir" in (missing.value.hint or "")
    with pytest.raises(CredentialError, match="does not exist"):
        CredentialsFolder(tmp_path / "nope").read(REFERENCE)


def test_the_folder_replaces_the_keyring_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    with Workspace.open(tmp_path / "w.pushdeck") as ws:
        add_app(ws, App(name="shop", apns_topic=TOPIC))
        pem = files.p8_key(tmp_path / "AuthKey.p8")
        facts = {"key_id": "KEY1234567", "team_id": "TEAM123456", "environment": "production"}
        secrets.store_credential(
            ws, "shop", ProviderKind.APNS, "apns-token", {"key_pem": pem.decode()}, facts
        )
        record = secrets.get_record(ws, "shop", ProviderKind.APNS)
        monkeypatch.setenv(CREDENTIALS_DIR_ENV, str(tmp_path / "creds"))
        write_secret(tmp_path / "creds", record.keyring_username, json.dumps({"key_pem": "x"}))
        # The folder's secret is used, not the keyring's (which still has the real one).
        assert secrets.load_credential(ws, "shop", ProviderKind.APNS).key_pem == b"x"  # type: ignore[attr-defined]
        assert has_secret(record)
        (tmp_path / "creds" / file_name(record.keyring_username)).unlink()
        assert not has_secret(record)
        with pytest.raises(CredentialError, match="has no file"):
            secrets.load_credential(ws, "shop", ProviderKind.APNS)
        # Entering a credential still goes to the keyring, never into the folder.
        assert not list((tmp_path / "creds").iterdir())


def _env_without_keyring(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND")
        and not k.startswith("GNOME_KEYRING")
    }
    home = tmp_path / "worker-home"
    home.mkdir(exist_ok=True)
    # keyring.backends.fail: this "server" has no keyring at all.
    env |= {"HOME": str(home), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    return env | {"PUSHDECK_ALLOW_LOCAL_ENDPOINTS": "1", **extra}


def test_a_worker_without_a_keyring_sends_with_the_folder_s_secret(
    tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    pki = tls.make_pki(tmp_path / "pki")
    pem = files.p8_key(tmp_path / "AuthKey.p8")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    fake = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567", public_key=key.public_key()
    )
    workspace, creds = tmp_path / "w.pushdeck", tmp_path / "creds"
    push = [
        sys.executable, "-m", "pushdeck", "--workspace", str(workspace),
        "push", "shop", "--token", TOKEN, "--title", "From the folder", "--json",
    ]  # fmt: skip
    with fake.server.running_in_thread():
        with Workspace.open(workspace) as ws:  # entered on the admin's machine (its keyring)
            add_app(ws, App(name="shop", apns_topic=TOPIC))
            facts = {"key_id": "KEY1234567", "team_id": "TEAM123456", "environment": "production"}
            secrets.store_credential(
                ws, "shop", ProviderKind.APNS, "apns-token", {"key_pem": pem.decode()}, facts,
                endpoint=fake.url, ca_file=str(pki.ca_file),
            )  # fmt: skip
        # The admin exports (the CLI in-process: the memory keyring is this process's).
        export = ["--workspace", str(workspace), "credentials", "export-to-dir", str(creds)]
        assert main(export) == 0
        # Without the folder this machine has no secret at all: refused, nothing sent.
        bare = subprocess.run(
            push, env=_env_without_keyring(tmp_path), capture_output=True, text=True, timeout=120
        )
        assert bare.returncode != 0 and "Traceback" not in bare.stderr, bare.stderr
        assert "No usable OS keyring" in bare.stderr, bare.stderr
        assert not fake.payloads
        env = _env_without_keyring(tmp_path, **{CREDENTIALS_DIR_ENV: str(creds)})
        sent = subprocess.run(push, env=env, capture_output=True, text=True, timeout=120)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert json.loads(sent.stdout)["status"] == "accepted"
        assert fake.payloads[-1]["aps"]["alert"]["title"] == "From the folder"
        # A loosened file stops the worker with the fix, before anything is sent.
        next(creds.iterdir()).chmod(0o640)
        loose = subprocess.run(push, env=env, capture_output=True, text=True, timeout=120)
        assert loose.returncode != 0 and "Traceback" not in loose.stderr
        assert "chmod 600" in loose.stderr and "mode 0640" in loose.stderr, loose.stderr
        assert len(fake.payloads) == 1
