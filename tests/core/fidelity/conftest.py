"""Fakes and providers for the platform-fidelity tests (issue 14): each payload rule is
checked by a builder test and, where a provider can see it, end to end against the fake
APNs / FCM / push service over real TLS + HTTP/2."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.model import Device, Platform, ProviderKind, WebPushSubscription
from pushdeck.core.providers.apns import ApnsProvider
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import (
    ApnsTokenCredential,
    FcmCredential,
    WebPushCredential,
)
from pushdeck.core.providers.fcm import FcmProvider
from pushdeck.core.providers.webpush import WebPushProvider
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns
from tests.fakes.fcm_server import FakeFcm
from tests.fakes.webpush_server import FakeWebPushService

TOPIC = "com.example.app"
APNS_TOKEN = "a1" * 32
FCM_TOKEN = "dGVzdC10b2tlbg:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx" + "x" * 100


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def apns_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def fake_apns(
    pki: tls.TestPKI, apns_key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[FakeApns]:
    server = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
        public_key=apns_key.public_key(),
    )  # fmt: skip
    await server.start()
    yield server
    await server.aclose()


def apns_credential(
    fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey
) -> ApnsTokenCredential:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ApnsTokenCredential(
        key_pem=pem, key_id="KEY1234567", team_id="TEAM123456", topic=TOPIC,
        endpoint=fake.url, ca_file=str(pki.ca_file),
    )  # fmt: skip


@pytest.fixture
async def apns(
    fake_apns: FakeApns, pki: tls.TestPKI, apns_key: ec.EllipticCurvePrivateKey
) -> AsyncIterator[ApnsProvider]:
    provider = create_provider(apns_credential(fake_apns, pki, apns_key))
    assert isinstance(provider, ApnsProvider)
    yield provider
    await provider.aclose()


@pytest.fixture
async def fake_fcm(pki: tls.TestPKI) -> AsyncIterator[FakeFcm]:
    server = await FakeFcm(pki).start()
    yield server
    await server.aclose()


def fcm_credential(fake: FakeFcm, pki: tls.TestPKI) -> FcmCredential:
    return FcmCredential(
        service_account=fake.service_account(), endpoint=fake.url, ca_file=str(pki.ca_file)
    )


@pytest.fixture
async def fcm(fake_fcm: FakeFcm, pki: tls.TestPKI) -> AsyncIterator[FcmProvider]:
    provider = create_provider(fcm_credential(fake_fcm, pki))
    assert isinstance(provider, FcmProvider)
    yield provider
    await provider.aclose()


@pytest.fixture
async def push_service(
    pki: tls.TestPKI, allow_local_endpoints: None
) -> AsyncIterator[FakeWebPushService]:
    # The fake listens on 127.0.0.1, which core.netguard refuses unless a lab opts in.
    service = await FakeWebPushService(pki).start()
    yield service
    await service.aclose()


@pytest.fixture
async def webpush(pki: tls.TestPKI) -> AsyncIterator[WebPushProvider]:
    keys = generate_vapid_keys()
    credential = WebPushCredential(
        keys.private_key_pem, keys.public_key, "mailto:ops@shop.example.com",
        ca_file=str(pki.ca_file),
    )  # fmt: skip
    provider = WebPushProvider(credential)
    yield provider
    await provider.aclose()


def web_device(subscription: WebPushSubscription) -> Device:
    return Device(
        "shop", Platform.WEB, ProviderKind.WEBPUSH, subscription.endpoint, subscription=subscription
    )
