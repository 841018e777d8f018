"""`pushdeck push` and `pushdeck credentials check` from the CLI against the local fakes.

The fakes run on their own event loop in a thread, as a real service would run in
another process; the CLI runs exactly as a user types it (keyring included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.cli import main
from tests.core import credential_files
from tests.core.test_secrets import _keyring_or_skip
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

TOKEN = "ab" * 32
TOPIC = "com.example.shop"


def _p8(path: Path) -> Path:
    credential_files.p8_key(path)
    return path


@pytest.fixture
def pki(tmp_path: Path) -> tls.TestPKI:
    return tls.make_pki(tmp_path / "pki")


@pytest.fixture
def apns(pki: tls.TestPKI, tmp_path: Path) -> Iterator[tuple[FakeApns, Path]]:
    p8 = _p8(tmp_path / "AuthKey.p8")
    key = serialization.load_pem_private_key(p8.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    fake = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567", public_key=key.public_key()
    )
    with fake.server.running_in_thread():
        yield fake, p8


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _workspace_with_apns(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    fake: FakeApns,
    pki: tls.TestPKI,
    key_file: Path,
) -> list[str]:
    """A workspace whose app 'shop' sends to the fake APNs with ``key_file``."""
    w = ["--workspace", str(tmp_path / "w.pushdeck")]
    assert _cli(capsys, *w, "apps", "add", "shop", "--topic", TOPIC)[0] == 0
    code, _, err = _cli(
        capsys,
        *w,
        "credentials",
        "set-apns",
        "shop",
        "--key-file",
        str(key_file),
        "--key-id",
        "KEY1234567",
        "--team-id",
        "TEAM123456",
        "--endpoint",
        fake.url,
        "--ca-file",
        str(pki.ca_file),
    )
    assert code == 0, err
    return w


def test_push_and_check_against_fake_apns(
    apns: tuple[FakeApns, Path],
    pki: tls.TestPKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _keyring_or_skip()
    fake, p8 = apns
    w = _workspace_with_apns(capsys, tmp_path, fake, pki, p8)

    code, out, _ = _cli(capsys, *w, "credentials", "check", "shop", "--json")
    assert code == 0 and json.loads(out)[0]["ok"] is True

    code, out, _ = _cli(
        capsys,
        *w,
        "push",
        "shop",
        "--token",
        TOKEN,
        "--title",
        "Hello",
        "--body",
        "From the CLI",
        "--json",
    )
    result = json.loads(out)
    assert code == 0 and result["status"] == "accepted" and result["provider_id"]
    assert fake.payloads[-1]["aps"]["alert"] == {"title": "Hello", "body": "From the CLI"}

    fake.dead_tokens[TOKEN] = 1_700_000_000_000
    code, out, _ = _cli(capsys, *w, "push", "shop", "--token", TOKEN, "--title", "Again")
    assert code == 1 and "TOKEN_DEAD" in out and "Unregistered" in out

    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps({"aps": {"alert": {"title": "Raw"}, "badge": 2}, "k": "v"}))
    code, out, _ = _cli(capsys, *w, "push", "shop", "--token", "cd" * 32, "--payload", str(raw))
    assert code == 0 and "ACCEPTED" in out
    assert fake.payloads[-1] == {"aps": {"alert": {"title": "Raw"}, "badge": 2}, "k": "v"}


def test_push_check_fails_with_a_wrong_key(
    apns: tuple[FakeApns, Path],
    pki: tls.TestPKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _keyring_or_skip()
    fake, _ = apns
    w = _workspace_with_apns(capsys, tmp_path, fake, pki, _p8(tmp_path / "Other.p8"))
    code, out, _ = _cli(capsys, *w, "credentials", "check", "shop")
    assert code == 1 and "FAILED" in out
    code, out, _ = _cli(capsys, *w, "push", "shop", "--token", TOKEN, "--title", "x")
    assert code == 1 and "AUTH_FAILURE" in out


def test_push_through_sandbox_needs_no_keyring(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w = ["--workspace", str(tmp_path / "w.pushdeck")]
    _cli(capsys, *w, "apps", "add", "shop")
    _cli(capsys, *w, "credentials", "set-sandbox", "shop", "--failure-rate", "0")
    code, out, _ = _cli(
        capsys,
        *w,
        "push",
        "shop",
        "--token",
        "sbx-device-1",
        "--platform",
        "android",
        "--title",
        "Hi",
        "--json",
    )
    assert code == 0 and json.loads(out)["provider"] == "sandbox"
    bad = tmp_path / "bad.json"
    bad.write_text('{"titel": "typo"}')
    code, _, err = _cli(
        capsys,
        *w,
        "push",
        "shop",
        "--token",
        "sbx-1",
        "--platform",
        "android",
        "--payload",
        str(bad),
    )
    assert code == 1 and "titel is not a message field" in err


def test_a_hostile_answer_is_printed_as_capped_plain_text(
    apns: tuple[FakeApns, Path],
    pki: tls.TestPKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _keyring_or_skip()
    fake, p8 = apns
    w = _workspace_with_apns(capsys, tmp_path, fake, pki, p8)
    hostile = "=cmd|' /C calc'!A0<b>bold</b>\x1b[2J\x1b]0;pwned\x07" + "R" * 200_000
    fake.server.fail_next(2, 400, {}, json.dumps({"reason": hostile}).encode())

    code, out, _ = _cli(capsys, *w, "push", "shop", "--token", TOKEN, "--title", "x")
    assert code == 1 and "REJECTED" in out
    assert "\x1b" not in out and "\x07" not in out and len(out) < 5_000
    reason = next(line for line in out.splitlines() if line.startswith("  reason: "))
    assert reason.startswith("  reason: =cmd|' /C calc'!A0<b>bold</b>") and len(reason) <= 520

    code, out, _ = _cli(capsys, *w, "push", "shop", "--token", TOKEN, "--title", "x", "--json")
    result = json.loads(out)
    assert code == 1 and len(out) < 10_000
    assert result["reason"].startswith("=cmd|") and len(result["reason"]) <= 2_000
