"""APNs certificate auth: a .p12 generated here, presented as the TLS client certificate."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from pushdeck.core.common.errors import CredentialError, TransportError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
from pushdeck.core.providers.apns import ApnsProvider
from pushdeck.core.providers.credentials import ApnsCertCredential
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

TOPIC = "com.example.app"
DEVICE = Device(app="demo", platform=Platform.IOS, provider=ProviderKind.APNS, token="c3" * 32)


def make_p12(directory: Path, password: bytes) -> tuple[bytes, Path]:
    """A self-signed 'Apple Push Services' certificate + key as .p12, and the cert as PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Apple Push Services: {TOPIC}")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = directory / "client.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    encryption = serialization.BestAvailableEncryption(password)
    return pkcs12.serialize_key_and_certificates(b"apns", key, cert, None, encryption), pem


async def test_p12_certificate_authenticates_and_no_key_file_is_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pki = tls.make_pki(tmp_path / "pki")
    p12, client_pem = make_p12(tmp_path, b"secret")
    fake = await FakeApns(pki, topic=TOPIC, client_ca=client_pem).start()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    cred = ApnsCertCredential(
        p12=p12, password=b"secret", topic=TOPIC, endpoint=fake.url, ca_file=str(pki.ca_file)
    )
    provider = ApnsProvider(cred)
    try:
        assert list(scratch.iterdir()) == []  # the temporary key file is gone already
        result = await provider.send(Message(title="Hi"), DEVICE)
    finally:
        await provider.aclose()
        await fake.aclose()
    assert result.accepted
    assert "authorization" not in fake.server.requests[0].headers


async def test_certificate_the_server_does_not_trust_fails_the_connection(
    tmp_path: Path,
) -> None:
    pki = tls.make_pki(tmp_path / "pki")
    _, client_pem = make_p12(tmp_path, b"pw")
    (tmp_path / "other").mkdir()
    other, _ = make_p12(tmp_path / "other", b"pw")  # not signed by anything the fake trusts
    fake = await FakeApns(pki, topic=TOPIC, client_ca=client_pem).start()
    cred = ApnsCertCredential(
        p12=other, password=b"pw", topic=TOPIC, endpoint=fake.url, ca_file=str(pki.ca_file)
    )
    provider = ApnsProvider(cred)
    try:
        with pytest.raises(TransportError):
            await provider.send(Message(title="Hi"), DEVICE)
    finally:
        await provider.aclose()
        await fake.aclose()
    assert fake.accepted == {}


def test_wrong_p12_password_is_a_credential_error(tmp_path: Path) -> None:
    p12, _ = make_p12(tmp_path, b"right")
    cred = ApnsCertCredential(p12=p12, password=b"wrong", topic=TOPIC)
    with pytest.raises(CredentialError, match="wrong password"):
        ApnsProvider(cred)
