"""The set-up tests sending through the fake APNs share: its key and PKI (the ``pki``
and ``key`` fixtures live in tests/core/conftest.py), the server itself, a credential
for it, and a campaign of N devices of app 'shop'."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.providers.credentials import ApnsTokenCredential
from pushdeck.core.store import Workspace
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns

TOPIC = "com.example.shop"
TEAM_ID = "TEAM123456"
KEY_ID = "KEY1234567"


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The .p8 file's bytes of ``key`` (PKCS#8 PEM, as Apple hands them out)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@asynccontextmanager
async def fake_apns(
    pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, **options: Any
) -> AsyncIterator[FakeApns]:
    """A running fake APNs trusting ``key`` for TEAM_ID/KEY_ID and TOPIC; ``options`` go
    to FakeApns (latency, apns_like, record …)."""
    server = FakeApns(
        pki, topic=TOPIC, team_id=TEAM_ID, key_id=KEY_ID, public_key=key.public_key(), **options
    )
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


def apns_credential(
    key: ec.EllipticCurvePrivateKey, endpoint: str, ca_file: str
) -> ApnsTokenCredential:
    """A token credential signing with ``key``, sending to ``endpoint``."""
    return ApnsTokenCredential(
        key_pem(key), KEY_ID, TEAM_ID, TOPIC, endpoint=endpoint, ca_file=ca_file
    )


def campaign_of(ws: Workspace, devices: int, name: str, token_prefix: str = "ab") -> None:
    """``devices`` iOS devices of app 'shop' (tokens ``token_prefix`` + a hex number) and
    campaign ``name`` sending 'Hi' to all of them."""
    add_devices(ws, [{"token": f"{token_prefix}{i:062x}"} for i in range(devices)])
    doc = {"name": name, "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}
    create_campaign(ws, spec_from_dict(doc))
