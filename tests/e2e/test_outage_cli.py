"""What the CLI says and returns when a provider is down (issue 12), as a user runs it.

The fake APNs runs on its own loop in a thread, like a service in another process; a
switch file turns its outage on and off. ``credentials check`` must tell "refused"
(exit 1) from "could not check" (exit 75); ``campaigns send`` during an outage must
pause with the reason (exit 75), ``campaigns status`` must say why devices wait, and
the next ``campaigns send`` must send each of them once.
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
from tests.fakes.apns_server import FakeApns, outage_response

TOPIC = "com.example.shop"
DEVICES = 30


@pytest.fixture
def pki(tmp_path: Path) -> tls.TestPKI:
    return tls.make_pki(tmp_path / "pki")


@pytest.fixture
def p8(tmp_path: Path) -> Path:
    path = tmp_path / "AuthKey.p8"
    credential_files.p8_key(path)
    return path


@pytest.fixture
def fake(pki: tls.TestPKI, p8: Path) -> Iterator[FakeApns]:
    key = serialization.load_pem_private_key(p8.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    server = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567", public_key=key.public_key()
    )
    with server.server.running_in_thread():
        yield server


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def workspace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, endpoint: str, ca: Path, p8: Path
) -> list[str]:
    w = ["--workspace", str(tmp_path / "w.pushdeck")]
    assert cli(capsys, *w, "apps", "add", "shop", "--topic", TOPIC)[0] == 0
    code, _, err = cli(
        capsys, *w, "credentials", "set-apns", "shop", "--key-file", str(p8),
        "--key-id", "KEY1234567", "--team-id", "TEAM123456", "--endpoint", endpoint,
        "--ca-file", str(ca),
    )  # fmt: skip
    assert code == 0, err
    return w


def test_credentials_check_tells_refused_from_could_not_check(
    fake: FakeApns,
    pki: tls.TestPKI,
    p8: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _keyring_or_skip()
    w = workspace(capsys, tmp_path, fake.url, pki.ca_file, p8)
    code, out, _ = cli(capsys, *w, "credentials", "check", "shop")
    assert code == 0 and out.startswith("apns: OK")

    switch = tmp_path / "apns-down"
    switch.touch()
    fake.server.outage_while(switch, outage_response(503))
    code, out, _ = cli(capsys, *w, "credentials", "check", "shop", "--json")
    [answer] = json.loads(out)
    assert code == 75 and answer["verdict"] == "not_checked" and not answer["ok"]
    assert answer["summary"].startswith("Could not check: APNs answered 503 ServiceUnavailable")
    switch.unlink()

    offline = tmp_path / "offline"
    offline.mkdir()
    w = workspace(capsys, offline, "https://apns.pushdeck-test.invalid", pki.ca_file, p8)
    code, out, err = cli(capsys, *w, "credentials", "check", "shop")
    assert code == 75, err
    assert out.startswith(
        "apns: NOT CHECKED — Could not check: Could not connect to "
        "apns.pushdeck-test.invalid: name not resolved."
    )

    refused = tmp_path / "refused"
    refused.mkdir()
    other = refused / "Other.p8"
    credential_files.p8_key(other)
    w = workspace(capsys, refused, fake.url, pki.ca_file, other)
    code, out, _ = cli(capsys, *w, "credentials", "check", "shop", "--json")
    [answer] = json.loads(out)
    assert code == 1 and answer["verdict"] == "refused"
    assert "APNs refused the credentials: InvalidProviderToken" in answer["summary"]


def test_campaigns_send_during_an_outage_pauses_with_the_reason_then_resumes(
    fake: FakeApns,
    pki: tls.TestPKI,
    p8: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _keyring_or_skip()
    w = workspace(capsys, tmp_path, fake.url, pki.ca_file, p8)
    devices = tmp_path / "devices.csv"
    devices.write_text("token,platform\n" + "".join(f"ab{i:062x},ios\n" for i in range(DEVICES)))
    assert cli(capsys, *w, "devices", "import", str(devices), "--app", "shop")[0] == 0
    spec = tmp_path / "c.json"
    spec.write_text(
        json.dumps({"name": "R", "app": "shop", "audience": {"all": True},
                    "message": {"title": "Hi"}})
    )  # fmt: skip
    assert cli(capsys, *w, "campaigns", "create", "--file", str(spec))[0] == 0
    switch = tmp_path / "apns-down"
    switch.touch()
    fake.server.outage_while(switch, outage_response(503))

    code, out, err = cli(capsys, *w, "campaigns", "send", "R", "--outage-wait", "1")

    assert code == 75, (out, err)
    assert out.startswith(f"R: paused (queued {DEVICES})")
    assert "why: APNs unavailable since" in out and "(503 ServiceUnavailable)" in out
    assert "pushdeck campaigns send R" in out
    assert "APNs unavailable since" in err  # said while it happened, not only at the end
    code, out, _ = cli(capsys, *w, "campaigns", "status", "R")
    assert code == 0 and "R (shop): paused" in out and "why: APNs unavailable" in out
    assert "Not sent yet: 503 ServiceUnavailable" in out  # the waiting devices' reason
    assert "possibly duplicated: 0" in out

    switch.unlink()
    code, out, err = cli(capsys, *w, "campaigns", "send", "R", "--json")
    status = json.loads(out)
    assert code == 0, err
    assert status["status"] == "sent" and status["counts"]["accepted"] == DEVICES
    assert status["error"] == "" and status["waiting"] == []
    assert len(fake.accepted) == DEVICES and set(fake.accepted.values()) == {1}
