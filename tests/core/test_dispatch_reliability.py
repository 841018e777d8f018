"""The dispatcher against the fake APNs (real TLS + HTTP/2) with injected faults.

5 % 500/503, 5 % 429 with Retry-After, GOAWAY every 1,000 streams: every device ends
accepted and the fake saw no duplicate apns-id. Size: PUSHDECK_RELIABILITY_DEVICES.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    campaign_status,
    send_campaign_async,
)
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import CredentialError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import ApnsTokenCredential
from pushdeck.core.store import Workspace
from tests.core.apns_setup import apns_credential, campaign_of, fake_apns
from tests.core.campaign_helpers import add_devices
from tests.fakes import tls
from tests.fakes.apns_server import FakeApns
from tests.fakes.h2server import Request, Response

DEVICES = int(os.environ.get("PUSHDECK_RELIABILITY_DEVICES", "3000"))
# The default window: concurrency follows what the fake advertises (1, then 1,000 streams).
OPTIONS = DispatchOptions(
    backoff_base=0.005, backoff_cap=0.05, retry_after_cap=0.002, max_attempts=8
)


@pytest.fixture
async def fake(pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey) -> AsyncIterator[FakeApns]:
    async with fake_apns(pki, key, record=False, apns_like=True) as server:
        yield server


def credential(
    fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey
) -> ApnsTokenCredential:
    return apns_credential(key, fake.url, str(pki.ca_file))


def inject_faults(fake: FakeApns, seed: int = 11) -> dict[int, int]:
    rng = random.Random(seed)
    original = fake.server.handler
    injected = {500: 0, 503: 0, 429: 0}

    def faulty(req: Request) -> object:
        roll = rng.random()
        apns_id = req.headers.get("apns-id", "")
        for limit, status, reason in (
            (0.025, 500, "InternalServerError"),
            (0.05, 503, "ServiceUnavailable"),
            (0.10, 429, "TooManyRequests"),
        ):
            if roll < limit:
                injected[status] += 1
                headers = {"apns-id": apns_id, "retry-after": "1"} if status != 500 else {}
                return Response(status, headers, json.dumps({"reason": reason}).encode())
        return original(req)

    fake.server.handler = faulty  # type: ignore[assignment]
    fake.server.goaway_after(1000)
    return injected


def make_campaign(ws: Workspace) -> None:
    campaign_of(ws, DEVICES, "R")


async def test_faults_and_goaway_every_device_accepted_once(
    ws: Workspace, fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey
) -> None:
    make_campaign(ws)
    injected = inject_faults(fake)
    provider = create_provider(credential(fake, pki, key))
    try:
        summary = await send_campaign_async(
            ws, "R", providers={ProviderKind.APNS: provider}, options=OPTIONS
        )
    finally:
        await provider.aclose()
    rejected = ws.query("SELECT reason, attempts FROM journal WHERE state != 'accepted'")
    assert summary.counts == {"accepted": DEVICES}, [tuple(r) for r in rejected]
    assert len(fake.accepted) == DEVICES
    assert set(fake.accepted.values()) == {1}  # no apns-id accepted twice
    assert min(injected.values()) > 0 and fake.server.connections >= 2  # faults did happen
    # Each injected fault cost exactly one more attempt of that device.
    attempts = ws.scalar("SELECT sum(attempts) FROM journal")
    assert attempts == DEVICES + sum(injected.values())


async def test_auth_failure_stops_against_fake_apns(
    ws: Workspace, fake: FakeApns, pki: tls.TestPKI
) -> None:
    make_campaign(ws)
    other_key = ec.generate_private_key(ec.SECP256R1())
    provider = create_provider(credential(fake, pki, other_key))
    try:
        with pytest.raises(CredentialError, match="InvalidProviderToken"):
            await send_campaign_async(
                ws, "R", providers={ProviderKind.APNS: provider}, options=OPTIONS
            )
    finally:
        await provider.aclose()
    assert sum(fake.rejections.values()) <= OPTIONS.chunk_size  # not one per device
    status = campaign_status(ws, "R")
    assert status["status"] == "failed" and status["counts"]["queued"] == DEVICES


@pytest.mark.usefixtures("allow_local_endpoints")  # the fake push service is on 127.0.0.1
async def test_fcm_and_web_push_fakes_with_faults(ws: Workspace, pki: tls.TestPKI) -> None:
    """The same faults against FCM (OAuth + validation) and Web Push (VAPID + decryption)."""
    from collections import Counter

    from pushdeck.core.providers.credentials import FcmCredential, WebPushCredential
    from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
    from tests.fakes.fcm_server import FakeFcm
    from tests.fakes.webpush_server import FakeWebPushService

    fcm = await FakeFcm(pki).start()
    web = await FakeWebPushService(pki).start()
    try:
        subs = [web.subscribe() for _ in range(150)]
        add_devices(ws, [{"token": f"fcm-token-{i:020d}", "provider": "fcm"} for i in range(300)])
        add_devices(
            ws,
            [
                {"token": s.endpoint, "provider": "webpush", "p256dh": s.p256dh, "auth": s.auth}
                for s in subs
            ],
        )
        doc = {"name": "R", "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}
        create_campaign(ws, spec_from_dict(doc))
        injected = [inject_faults(fcm, seed=3), inject_faults(web, seed=5)]  # type: ignore[arg-type]
        fcm.server.goaway_after(100)
        web.server.goaway_after(100)
        keys = generate_vapid_keys()
        providers = {
            ProviderKind.FCM: create_provider(
                FcmCredential(fcm.service_account(), fcm.url, str(pki.ca_file))
            ),
            ProviderKind.WEBPUSH: create_provider(
                WebPushCredential(
                    keys.private_key_pem, keys.public_key, "mailto:t@example.com", str(pki.ca_file)
                )
            ),
        }
        try:
            summary = await send_campaign_async(ws, "R", providers=providers, options=OPTIONS)
        finally:
            for provider in providers.values():
                await provider.aclose()
    finally:
        await fcm.aclose()
        await web.aclose()
    assert summary.counts == {"accepted": 450}
    fcm_seen = Counter(token for token, _ in fcm.delivered)
    web_seen = Counter(r.subscription_id for r in web.received)
    assert len(fcm_seen) == 300 and set(fcm_seen.values()) == {1}
    assert len(web_seen) == 150
    assert all(sum(i.values()) > 0 for i in injected)
    # A request written but never answered (connection lost) has an unknown outcome;
    # the dispatcher retries it and counts the device as possibly duplicated, so every
    # duplicate the service could have seen is in the report.
    endpoints = {s.endpoint.rsplit("/", 1)[1]: s.endpoint for s in subs}
    flagged = {
        r[0]
        for r in ws.query(
            "SELECT d.token FROM journal j JOIN devices d ON d.id = j.device_id"
            " WHERE j.possibly_duplicated > 0"
        )
    }
    duplicated = {endpoints[sub] for sub, count in web_seen.items() if count > 1}
    assert duplicated <= flagged
    assert campaign_status(ws, "R")["possibly_duplicated"] == len(flagged)
