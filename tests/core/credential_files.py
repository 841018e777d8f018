"""Generators of realistic credential files for tests (keys are created fresh each run)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

APNS_DEV_OID = x509.ObjectIdentifier("1.2.840.113635.100.6.3.1")
UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")


def p8_key(path: Path) -> bytes:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    return pem


def apns_p12(
    path: Path,
    password: bytes,
    *,
    days: int = 365,
    apns: bool = True,
    topic: str = "com.example.shop",
) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(UID, topic),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"Apple Development IOS Push Services: {topic}" if apns else "Some TLS",
            ),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if apns:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(APNS_DEV_OID, b"\x05\x00"), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    data = pkcs12.serialize_key_and_certificates(
        b"apns", key, cert, None, serialization.BestAvailableEncryption(password)
    )
    path.write_bytes(data)
    return data


def service_account(path: Path, token_uri: str = "https://oauth2.googleapis.com/token") -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    account = {
        "type": "service_account",
        "project_id": "shop-123",
        "private_key_id": "abc",
        "private_key": pem,
        "client_email": "pushdeck@shop-123.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(account))
    return account
