"""Web Push provider end to end: real HTTP/2 over TLS to a fake service that decrypts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from pushdeck.core.common.errors import TransportError
from pushdeck.core.common.model import (
    Device,
    Message,
    Platform,
    Priority,
    ProviderKind,
    SendStatus,
    WebPushSubscription,
)
from pushdeck.core.messages.payloads import build_webpush
from pushdeck.core.net import netguard
from pushdeck.core.providers.base import Provider, create_provider
from pushdeck.core.providers.credentials import WebPushCredential
from pushdeck.core.providers.webpush import WebPushProvider, retry_after_seconds
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
from tests.fakes import tls
from tests.fakes.resolver import override_dns
from tests.fakes.webpush_server import FakeWebPushService

MESSAGE = Message(
    title="Hello",
    body="From Pushdeck",
    url="https://example.com/a",
    collapse_id="greeting",
    ttl_seconds=600,
    priority=Priority.NORMAL,
)
KEYS = generate_vapid_keys()

# The fake push service listens on 127.0.0.1: opt in, as a lab would (core.netguard).
pytestmark = pytest.mark.usefixtures("allow_local_endpoints")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def credential(pki: tls.TestPKI) -> WebPushCredential:
    return WebPushCredential(
        KEYS.private_key_pem, KEYS.public_key, "mailto:ops@example.com", ca_file=str(pki.ca_file)
    )


@pytest.fixture
async def service(pki: tls.TestPKI) -> AsyncIterator[FakeWebPushService]:
    fake = await FakeWebPushService(pki).start()
    yield fake
    await fake.aclose()


@pytest.fixture
async def provider(credential: WebPushCredential) -> AsyncIterator[WebPushProvider]:
    p = WebPushProvider(credential)
    yield p
    await p.aclose()


def device(sub: WebPushSubscription) -> Device:
    return Device("site", Platform.WEB, ProviderKind.WEBPUSH, sub.endpoint, subscription=sub)


async def test_accepted_and_decrypted_by_independent_implementation(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = service.subscribe(application_server_key=KEYS.public_key)
    result = await provider.send(MESSAGE, device(sub))
    assert result.status is SendStatus.ACCEPTED and result.accepted
    assert result.http_status == 201
    assert result.provider_id.startswith(f"{service.url}/message/")
    (received,) = service.received
    assert received.plaintext == build_webpush(MESSAGE).body
    assert json.loads(received.plaintext)["title"] == "Hello"
    headers = received.headers
    assert (headers["ttl"], headers["urgency"], headers["topic"]) == ("600", "normal", "greeting")
    assert headers["content-encoding"] == "aes128gcm"
    assert received.jwt_claims["aud"] == service.url
    assert received.jwt_claims["sub"] == "mailto:ops@example.com"


async def test_vapid_jwt_reused_and_encryption_fresh(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    subs = [service.subscribe() for _ in range(3)]
    for sub in subs:
        for _ in range(2):
            assert (await provider.send(MESSAGE, device(sub))).accepted
    requests = service.server.requests
    assert len(requests) == 6
    assert len(service.server.count_header("authorization")) == 1
    assert len({r.body for r in requests}) == 6
    assert service.server.connections == 1  # one shared HTTP/2 connection


async def test_registry_builds_the_provider(
    service: FakeWebPushService, credential: WebPushCredential
) -> None:
    provider = create_provider(credential, timeout=5.0)
    assert isinstance(provider, Provider) and isinstance(provider, WebPushProvider)
    try:
        assert (await provider.send(MESSAGE, device(service.subscribe()))).accepted
    finally:
        await provider.aclose()


async def test_gone_subscription_is_token_dead(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = service.subscribe()
    service.unsubscribe(sub)
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.http_status, result.reason) == (
        SendStatus.TOKEN_DEAD,
        410,
        "Unregistered",
    )
    assert "remove" in result.explanation


async def test_unknown_subscription_is_token_dead(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = replace(service.subscribe(), endpoint=f"{service.url}/push/nope")
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.http_status) == (SendStatus.TOKEN_DEAD, 404)
    assert not result.retryable


async def test_wrong_auth_secret_is_a_permanent_rejection(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = replace(service.subscribe(), auth="AAAAAAAAAAAAAAAAAAAAAA")
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.http_status, result.reason) == (
        SendStatus.REJECTED,
        400,
        "DecryptionFailed",
    )
    assert not result.retryable and result.explanation


async def test_too_large_is_413(pki: tls.TestPKI, provider: WebPushProvider) -> None:
    fake = await FakeWebPushService(pki, max_body=300).start()
    try:
        result = await provider.send(replace(MESSAGE, body="x" * 400), device(fake.subscribe()))
    finally:
        await fake.aclose()
    assert (result.status, result.http_status, result.reason) == (
        SendStatus.REJECTED,
        413,
        "PayloadTooLarge",
    )
    assert not result.retryable


async def test_subscription_made_with_another_key_is_auth_failure(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = service.subscribe(application_server_key=generate_vapid_keys().public_key)
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.http_status) == (SendStatus.AUTH_FAILURE, 403)
    assert "applicationServerKey" in result.explanation


async def test_malformed_subject_is_refused_like_apple(
    service: FakeWebPushService, credential: WebPushCredential
) -> None:
    provider = WebPushProvider(replace(credential, subject="mailto: <ops@example.com>"))
    try:
        result = await provider.send(MESSAGE, device(service.subscribe()))
    finally:
        await provider.aclose()
    assert (result.status, result.reason) == (SendStatus.AUTH_FAILURE, "BadJwtToken")


async def test_401_is_auth_failure(service: FakeWebPushService, provider: WebPushProvider) -> None:
    service.server.fail_next(1, 401)
    result = await provider.send(MESSAGE, device(service.subscribe()))
    assert (result.status, result.http_status) == (SendStatus.AUTH_FAILURE, 401)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"retry-after": "7"}, 7.0), (500, {}, None), (503, {"retry-after": "30"}, 30.0)],
)
async def test_throttling_and_server_errors_are_retryable(
    service: FakeWebPushService,
    provider: WebPushProvider,
    status: int,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    service.server.fail_next(1, status, headers)
    sub = service.subscribe()
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.http_status, result.retryable) == (
        SendStatus.REJECTED,
        status,
        True,
    )
    assert result.retry_after == retry_after
    assert (await provider.send(MESSAGE, device(sub))).accepted  # and the retry works


async def test_invalid_subscription_keys_are_rejected_without_a_request(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = replace(service.subscribe(), p256dh="BAAA")
    result = await provider.send(MESSAGE, device(sub))
    assert (result.status, result.reason) == (SendStatus.REJECTED, "InvalidSubscription")
    no_keys = Device("site", Platform.WEB, ProviderKind.WEBPUSH, sub.endpoint)
    assert (await provider.send(MESSAGE, no_keys)).reason == "InvalidSubscription"
    assert service.server.requests == []


async def test_untrusted_server_is_a_transport_error(
    service: FakeWebPushService, credential: WebPushCredential
) -> None:
    provider = WebPushProvider(replace(credential, ca_file=""))  # system CAs only
    try:
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
            await provider.send(MESSAGE, device(service.subscribe()))
    finally:
        await provider.aclose()


async def test_dropped_connection_is_a_transport_error(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    service.server.drop_after(1)
    with pytest.raises(TransportError, match="lost before the server answered") as info:
        await provider.send(MESSAGE, device(service.subscribe()))
    assert service.url in info.value.message  # which push service, of the many
    assert "unknown" in info.value.hint  # written, never answered: not retried blindly


async def test_check_good_mismatched_and_bad_subject(credential: WebPushCredential) -> None:
    async def check(cred: WebPushCredential) -> tuple[bool, str]:
        p = WebPushProvider(cred)
        try:
            r = await p.check()
        finally:
            await p.aclose()
        return r.ok, r.summary

    assert (await check(credential))[0]
    other = generate_vapid_keys().public_key
    ok, summary = await check(replace(credential, public_key=other))
    assert not ok and "does not belong" in summary
    ok, summary = await check(replace(credential, subject="ops@example.com"))
    assert not ok and "subject" in summary
    ok, summary = await check(replace(credential, private_key_pem=b"junk"))
    assert not ok and "unusable" in summary


def test_retry_after_http_date() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Thu, 01 Jan 2026 12:00:10 GMT", now) == 10.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None) is None


def test_ca_file_path_is_used(credential: WebPushCredential) -> None:
    assert Path(credential.ca_file).exists()


# -- the fake itself is strict (so passing tests above mean something) ----------------
async def _raw_post(
    service: FakeWebPushService, pki: tls.TestPKI, headers: dict[str, str], body: bytes = b"x"
) -> tuple[int, str]:
    import httpx

    sub = service.subscribe()
    async with httpx.AsyncClient(http2=True, verify=pki.client_context()) as client:
        response = await client.post(sub.endpoint, headers=headers, content=body)
    return response.status_code, response.text


def _jwt(audience: str, exp_in: int, sub: str = "mailto:a@example.com") -> str:
    import time

    import jwt as pyjwt

    from pushdeck.core.providers.webpush_crypto import load_vapid_private_key

    claims = {"aud": audience, "exp": int(time.time()) + exp_in, "sub": sub}
    token = pyjwt.encode(claims, load_vapid_private_key(KEYS.private_key_pem), algorithm="ES256")
    return f"vapid t={token}, k={KEYS.public_key}"


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"authorization": None}, 401, "MissingAuthorization"),
        ({"authorization": "aud"}, 403, "BadJwtToken"),
        ({"authorization": "exp"}, 403, "BadJwtToken"),
        ({"authorization": "expired"}, 403, "BadJwtToken"),
        ({"ttl": None}, 400, "MissingOrBadTTL"),
        ({"content-encoding": "aesgcm"}, 400, "UnsupportedContentEncoding"),
        ({"topic": "x" * 33}, 400, "BadTopic"),
        ({"urgency": "urgent"}, 400, "BadUrgency"),
        ({}, 400, "DecryptionFailed"),
    ],
)
async def test_fake_rejects_what_real_services_reject(
    service: FakeWebPushService,
    pki: tls.TestPKI,
    change: dict[str, str | None],
    status: int,
    reason: str,
) -> None:
    auth = {
        "aud": _jwt("https://elsewhere.example", 3600),
        "exp": _jwt(service.url, 25 * 3600),
        "expired": _jwt(service.url, -60),
    }
    headers = {
        "ttl": "60",
        "content-encoding": "aes128gcm",
        "authorization": _jwt(service.url, 3600),
    }
    for name, value in change.items():
        if value is None:
            headers.pop(name)
        else:
            headers[name] = auth.get(value, value) if name == "authorization" else value
    got_status, text = await _raw_post(service, pki, headers)
    assert (got_status, reason in text) == (status, True)
    assert service.received == []


def test_subscription_from_json(service: FakeWebPushService) -> None:
    from pushdeck.core.common.errors import ValidationError
    from pushdeck.core.providers.webpush import subscription_from_json

    sub = service.subscribe()
    text = json.dumps(
        {
            "endpoint": sub.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": sub.p256dh, "auth": sub.auth},
        }
    )
    assert subscription_from_json(text) == sub
    assert subscription_from_json(json.loads(text)) == sub
    bad = [
        ("{", "subscription"),
        ('{"endpoint": "https://x"}', "subscription"),
        (text.replace("https://", "http://"), "endpoint"),
        (text.replace(sub.auth, "AAAA"), "auth"),
    ]
    for payload, field in bad:
        with pytest.raises(ValidationError) as info:
            subscription_from_json(payload)
        assert info.value.field == field


async def test_concurrent_sends_multiplex_on_one_connection(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    import asyncio

    subs = [service.subscribe() for _ in range(40)]
    messages = [replace(MESSAGE, body=f"n{i}") for i in range(40)]
    results = await asyncio.gather(
        *(provider.send(m, device(s)) for m, s in zip(messages, subs, strict=True))
    )
    assert all(r.accepted for r in results)
    assert len({r.provider_id for r in results}) == 40
    got = {json.loads(r.plaintext)["body"] for r in service.received}
    assert got == {f"n{i}" for i in range(40)}
    assert service.server.connections == 1
    assert service.server.max_streams_seen > 1


async def test_plain_http_endpoint_is_rejected_without_a_request(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    sub = service.subscribe()
    insecure = replace(sub, endpoint=sub.endpoint.replace("https://", "http://"))
    result = await provider.send(MESSAGE, device(insecure))
    assert (result.status, result.reason) == (SendStatus.REJECTED, "InvalidSubscription")
    assert service.server.requests == [] and provider.origins == []


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:{port}",
        "localhost:{port}",
        "[::1]:{port}",
        "2130706433:{port}",
        "[::ffff:127.0.0.1]:{port}",
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "[fc00::1]",
        "0.0.0.0:{port}",
        "user:pass@push.pushdeck.test:{port}",
    ],
)
async def test_local_endpoints_are_refused_without_a_connection(
    service: FakeWebPushService,
    provider: WebPushProvider,
    monkeypatch: pytest.MonkeyPatch,
    host: str,
) -> None:
    monkeypatch.delenv(netguard.ALLOW_LOCAL_ENV)
    sub = service.subscribe()
    path = sub.endpoint.split("/", 3)[3]
    hostile = replace(sub, endpoint=f"https://{host.format(port=service.server.port)}/{path}")
    result = await provider.send(MESSAGE, device(hostile))
    assert (result.status, result.reason) == (SendStatus.REJECTED, "EndpointNotAllowed")
    assert "public addresses" in result.explanation or "user:password" in result.explanation
    assert not result.retryable
    assert service.server.connections == 0 and provider.origins == []


async def test_a_name_resolving_to_loopback_is_refused_before_connecting_unless_opted_in(
    service: FakeWebPushService,
    provider: WebPushProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A public-looking name whose DNS answer is 127.0.0.1: only the resolved address,
    # checked at connect time, can tell.
    monkeypatch.delenv(netguard.ALLOW_LOCAL_ENV)
    asked = override_dns(monkeypatch, {tls.TEST_HOST: "127.0.0.1"})
    sub = service.subscribe(application_server_key=KEYS.public_key)
    named = replace(sub, endpoint=sub.endpoint.replace("127.0.0.1", tls.TEST_HOST))
    refused = await provider.send(MESSAGE, device(named))
    assert (refused.status, refused.reason) == (SendStatus.REJECTED, "EndpointNotAllowed")
    assert f"{tls.TEST_HOST} resolves to 127.0.0.1, a loopback address" in refused.explanation
    assert asked == [tls.TEST_HOST]
    assert service.server.connections == 0 and service.received == []

    monkeypatch.setenv(netguard.ALLOW_LOCAL_ENV, "1")  # a lab, on purpose
    accepted = await provider.send(MESSAGE, device(named))
    assert accepted.accepted, accepted
    # Connected to the checked address, with TLS and :authority naming the host (the
    # certificate was verified for it and the fake checked the VAPID audience against it).
    assert service.server.connections == 1 and len(service.received) == 1
    assert service.received[0].jwt_claims["aud"] == f"https://{tls.TEST_HOST}:{service.server.port}"


async def test_one_client_per_origin_bounded_and_closed(
    pki: tls.TestPKI, credential: WebPushCredential
) -> None:
    import asyncio

    fakes = [await FakeWebPushService(pki).start() for _ in range(3)]
    a, b, c = fakes
    provider = WebPushProvider(credential, max_origins=2)
    try:
        for fake in fakes:  # three push services, one after the other
            assert (await provider.send(MESSAGE, device(fake.subscribe()))).accepted
        assert provider.origins == [b.url, c.url]  # the least recently used one was closed
        assert (await provider.send(MESSAGE, device(a.subscribe()))).accepted
        assert a.server.connections == 2  # a was reopened; b is now the one closed
        assert provider.origins == [c.url, a.url]
        # Concurrent sends to all three: none is closed under a request in flight.
        results = await asyncio.gather(
            *(provider.send(MESSAGE, device(f.subscribe())) for f in fakes for _ in range(5))
        )
        assert all(r.accepted for r in results)
        assert len(provider.origins) <= 2
        assert [len(f.received) for f in fakes] == [7, 6, 6]
    finally:
        await provider.aclose()
        for fake in fakes:
            await fake.aclose()
    assert provider.origins == []
    with pytest.raises(TransportError, match="closed"):
        await provider.send(MESSAGE, device(a.subscribe()))


async def test_unanswered_request_is_a_timeout_with_delivery_unknown(
    service: FakeWebPushService, pki: tls.TestPKI, credential: WebPushCredential
) -> None:
    import asyncio

    from pushdeck.core.common.errors import ProviderTimeoutError
    from tests.fakes.h2server import H2Server, Request, Response

    never = asyncio.Event()

    async def hang(request: Request) -> Response:
        await never.wait()
        return Response(201)

    silent = await H2Server(hang, pki.server_context()).start()
    provider = WebPushProvider(credential, timeout=0.3)
    sub = replace(service.subscribe(), endpoint=f"{silent.url}/push/x")
    try:
        with pytest.raises(ProviderTimeoutError, match="did not answer in time") as info:
            await provider.send(MESSAGE, device(sub))
    finally:
        never.set()
        await provider.aclose()
        await silent.aclose()
    assert silent.url in info.value.message and "unknown" in info.value.hint
    assert len(silent.requests) == 1  # sent once, not retried behind the caller's back


async def test_the_address_check_once_per_origin_gives_the_same_answers(
    service: FakeWebPushService, provider: WebPushProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue 19: worked out once per push-service origin (and opt-in state), not per send.
    subs = [service.subscribe(application_server_key=KEYS.public_key) for _ in range(3)]
    port = service.server.port
    monkeypatch.delenv(netguard.ALLOW_LOCAL_ENV)
    for sub in subs:  # every endpoint of a loopback origin: refused, no connection
        refused = await provider.send(MESSAGE, device(sub))
        assert (refused.status, refused.reason) == (SendStatus.REJECTED, "EndpointNotAllowed")
    hostile = replace(subs[0], endpoint=subs[0].endpoint.replace("://", "://u:p@"))
    refused = await provider.send(MESSAGE, device(hostile))
    assert "user:password" in refused.explanation
    assert service.server.connections == 0
    monkeypatch.setenv(netguard.ALLOW_LOCAL_ENV, "1")  # the lab opts in: the same provider
    for sub in subs:
        accepted = await provider.send(MESSAGE, device(sub))
        assert accepted.accepted, accepted
    still = await provider.send(MESSAGE, device(hostile))  # credentials in a URL: never
    assert "user:password" in still.explanation
    assert len(service.received) == 3 and f":{port}" in subs[0].endpoint
