"""Fetching message images by URL for the previews (``core.media``), against a local server.

Image URLs come from outside, so the fetcher connects only to public addresses
(``core.netguard``); the tests against the local fake server opt in the way a lab would
(``allow_local_endpoints``), and the tests of the rule itself do not.
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import pytest

from pushdeck.core.common.errors import TransportError, ValidationError
from pushdeck.core.messages.media import fetch_image
from pushdeck.core.net import netguard
from pushdeck.core.net.netguard import AddressRefused
from tests.fakes import tls
from tests.fakes.image_server import PNG, image_server
from tests.fakes.resolver import override_dns


@pytest.fixture
def server(allow_local_endpoints: None) -> Iterator[str]:
    with image_server() as url:
        yield url


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule as users get it, whatever the shell running the tests says."""
    monkeypatch.delenv(netguard.ALLOW_LOCAL_ENV, raising=False)


@pytest.fixture
def loopback_plays_public(monkeypatch: pytest.MonkeyPatch, strict: None) -> None:
    """127.0.0.1 (and only it) stands for a public web server; 127.0.0.2 stays loopback."""
    real = netguard.address_problem

    def problem(address: IPv4Address | IPv6Address) -> str:
        return "" if str(address) == "127.0.0.1" else real(address)

    monkeypatch.setattr(netguard, "address_problem", problem)


def test_fetches_an_image_and_follows_redirects(server: str) -> None:
    assert fetch_image(f"{server}/pic.png") == PNG
    assert fetch_image(f"{server}/moved") == PNG


def test_data_urls_need_no_network() -> None:
    import base64

    assert fetch_image("data:image/png;base64," + base64.b64encode(PNG).decode()) == PNG


def test_refuses_what_a_device_would_not_show(server: str) -> None:
    with pytest.raises(TransportError, match="HTTP 404"):
        fetch_image(f"{server}/missing.png")
    with pytest.raises(ValidationError, match="not an image: the server sent text/html"):
        fetch_image(f"{server}/page")
    with pytest.raises(ValidationError, match="larger than"):
        fetch_image(f"{server}/big.png", max_bytes=1000)
    with pytest.raises(ValidationError, match="not an http"):
        fetch_image("ftp://example.com/a.png")
    with pytest.raises(TransportError, match="could not be fetched"):
        fetch_image("http://127.0.0.1:9/nothing-listens-here.png", timeout=2)
    with pytest.raises(ValidationError, match="not an http"):
        fetch_image("file:///etc/passwd")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.png",
        "http://localhost/a.png",
        "https://[::1]/a.png",
        "http://10.1.2.3/a.png",
        "http://192.168.1.1/a.png",
        "http://172.16.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fc00::1]/a.png",
        "http://[fe80::1%25eth0]/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://0.0.0.0/a.png",
        "http://2130706433/a.png",
        "http://0x7f.1/a.png",
        "http://0177.0.0.1/a.png",
        "http://224.0.0.1/a.png",
        "http://user:secret@example.com/a.png",
    ],
)
def test_local_and_private_targets_are_refused_without_a_connection(url: str, strict: None) -> None:
    with pytest.raises(AddressRefused, match=r"public addresses|user name") as caught:
        fetch_image(url, deadline=5)
    assert caught.value.field == "image_url"


def test_a_name_resolving_to_loopback_is_refused_before_connecting(
    strict: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    with image_server(seen=seen) as url:
        port = url.rsplit(":", 1)[1]
        asked = override_dns(monkeypatch, {"images.pushdeck.test": "127.0.0.1"})
        with pytest.raises(AddressRefused, match=r"resolves to 127\.0\.0\.1, a loopback"):
            fetch_image(f"http://images.pushdeck.test:{port}/pic.png")
        assert asked == ["images.pushdeck.test"]  # it was resolved, then refused
        monkeypatch.setenv(netguard.ALLOW_LOCAL_ENV, "1")
        assert fetch_image(f"http://images.pushdeck.test:{port}/pic.png") == PNG
    assert seen == ["/pic.png"]  # only the opted-in fetch reached the server


def test_https_connects_to_the_checked_address_and_verifies_the_host_name(
    allow_local_endpoints: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pki = tls.make_pki(tmp_path)
    override_dns(monkeypatch, {tls.TEST_HOST: "127.0.0.1"})
    with image_server(tls=pki.server_context(alpn=("http/1.1",))) as url:
        port = url.rsplit(":", 1)[1]
        named = f"https://{tls.TEST_HOST}:{port}/pic.png"
        assert fetch_image(named, context=pki.client_context()) == PNG
        with pytest.raises(TransportError, match="could not be fetched"):
            fetch_image(named)  # the system trust store does not know the test CA


def test_a_redirect_to_a_loopback_server_is_refused_at_that_hop(
    loopback_plays_public: None,
) -> None:
    inside: list[str] = []
    with image_server() as public, image_server("127.0.0.2", seen=inside) as private:
        assert fetch_image(f"{public}/moved") == PNG  # redirects between public hosts work
        with pytest.raises(AddressRefused, match=r"127\.0\.0\.2 is a loopback address"):
            fetch_image(f"{public}/to?url={private}/pic.png")
        with pytest.raises(AddressRefused, match=r"169\.254\.169\.254 is a link-local"):
            fetch_image(f"{public}/to?url=http://169.254.169.254/latest/meta-data/")
        with pytest.raises(ValidationError, match="must be an http or https URL"):
            fetch_image(f"{public}/to?url=file:///etc/passwd")
    assert inside == []  # the private server never saw a request


def test_a_drip_feeding_server_is_cut_off_at_the_deadline(server: str) -> None:
    # Every byte comes within the per-read timeout; only an overall deadline ends it.
    with pytest.raises(TransportError, match="took longer than the 1 s allowed for one image"):
        fetch_image(f"{server}/drip.png", deadline=1.0)
    assert fetch_image(f"{server}/pic.png", deadline=1.0) == PNG  # the next image is fine
