"""The public-address rule (core.netguard) on its own, and its one opt-in as a user meets it.

The provider and image tests show the rule at connect time (tests/core/test_webpush_provider.py,
tests/core/test_media.py); the import tests show it on device files (tests/core/test_import.py).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.net import netguard


@pytest.fixture(autouse=True)
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(netguard.ALLOW_LOCAL_ENV, raising=False)


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.255.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.1.2.3", "a private address"),
        ("172.31.255.1", "a private address"),
        ("192.168.0.1", "a private address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a unique-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("fec0::1", "a site-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address, not a public one"),
        ("255.255.255.255", "a reserved address, not a public one"),
        ("192.0.2.1", "a reserved address, not a public one"),
        ("2001:db8::1", "a reserved address, not a public one"),
        ("::ffff:127.0.0.1", "a loopback address (as 127.0.0.1)"),
        ("::ffff:192.168.1.1", "a private address (as 192.168.1.1)"),
        ("64:ff9b::a9fe:a9fe", "a link-local address (as 169.254.169.254)"),
        ("2002:7f00:1::1", "a loopback address (as 127.0.0.1)"),
    ],
)
def test_non_public_addresses_are_named(address: str, problem: str) -> None:
    assert netguard.address_problem(ip_address(address)) == problem


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "142.250.74.10", "2606:4700::1", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert netguard.address_problem(ip_address(address)) == ""


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7F000001", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::1]", "::1"),
        ("fe80::1%25eth0", "fe80::1%eth0"),
        ("999.1.1.1", "0.0.0.0"),  # numeric but invalid: never resolved as a name either
    ],
)
def test_every_spelling_of_an_address_is_read_as_that_address(host: str, address: str) -> None:
    assert netguard.literal_address(host) == ip_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://web.push.apple.com/QGx1",
        "https://db5p.notify.windows.com/w/?token=abc",
        "https://push.example.net:8443/sub",
        "https://[2606:4700::1]/sub",
    ],
)
def test_push_services_and_public_hosts_pass_the_static_check(url: str) -> None:
    assert netguard.url_problem(url) == ""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://fcm.googleapis.com/x", "must be an https URL"),
        ("https://user@fcm.googleapis.com/x", "user name or password"),
        ("https://:@fcm.googleapis.com/x", "user name or password"),
        ("https://LOCALHOST./x", "names this machine"),
        ("https://api.localhost/x", "names this machine"),
        ("https://ｌｏｃａｌｈｏｓｔ/x", "names this machine"),
        ("https://nas.local/x", "names this machine or the local network"),
        ("https://intranet/x", "single-label name"),
        ("https://fcm.googleapis.com:99999/x", "not a valid URL"),
    ],
)
def test_names_and_forms_that_only_mean_local_are_refused(url: str, problem: str) -> None:
    assert problem in netguard.url_problem(url)


def test_resolution_checks_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakes.resolver import override_dns

    override_dns(
        monkeypatch,
        {"public.pushdeck.test": "8.8.8.8", "mixed.pushdeck.test": ["8.8.4.4", "10.0.0.7"]},
    )
    assert netguard.resolve_public_sync("public.pushdeck.test", 443) == ["8.8.8.8"]
    with pytest.raises(netguard.AddressRefused, match=r"resolves to 10\.0\.0\.7, a private"):
        netguard.resolve_public_sync("mixed.pushdeck.test", 443)


def _web_rows(endpoints: list[str]) -> str:
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    p256dh = base64.urlsafe_b64encode(point).rstrip(b"=").decode()
    auth = base64.urlsafe_b64encode(b"0123456789abcdef").rstrip(b"=").decode()
    return "platform,endpoint,p256dh,auth\n" + "".join(
        f"web,{e},{p256dh},{auth}\n" for e in endpoints
    )


def test_the_cli_refuses_local_endpoints_and_the_opt_in_says_so_once(tmp_path: Path) -> None:
    devices = tmp_path / "web.csv"
    devices.write_text(
        _web_rows(["https://127.0.0.1:8443/p/1", "https://192.168.1.5/p/2", "https://10.0.0.1/p/3"])
    )
    env = {k: v for k, v in os.environ.items() if k != netguard.ALLOW_LOCAL_ENV}
    cli = [sys.executable, "-m", "pushdeck", "--workspace", str(tmp_path / "w.pushdeck")]
    subprocess.run([*cli, "apps", "add", "site"], env=env, check=True, capture_output=True)
    imported = [*cli, "devices", "import", str(devices), "--app", "site"]

    refused = subprocess.run(imported, env=env, capture_output=True, text=True, check=True)
    assert "0 added" in refused.stdout and "3 rejected" in refused.stdout
    assert "line 2: endpoint: 127.0.0.1 is a loopback address" in refused.stderr
    assert "line 3: endpoint: 192.168.1.5 is a private address" in refused.stderr
    assert f"{netguard.ALLOW_LOCAL_ENV}=1:" not in refused.stderr  # no opt-in, no warning

    lab = {**env, netguard.ALLOW_LOCAL_ENV: "1"}
    allowed = subprocess.run(imported, env=lab, capture_output=True, text=True, check=True)
    assert "3 added" in allowed.stdout
    assert allowed.stderr.count(f"{netguard.ALLOW_LOCAL_ENV}=1:") == 1  # once per process
