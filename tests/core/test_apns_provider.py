"""APNs provider end to end against the fake APNs over real TLS + HTTP/2."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.errors import CredentialError, TransportError
from pushdeck.core.common.model import (
    Device,
    Message,
    Platform,
    ProviderKind,
    PushType,
    SendStatus,
)
from pushdeck.core.providers import apns_reasons
from pushdeck.core.providers.apns import ApnsProvider
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import ApnsTokenCredential
from tests.fakes import tls
from tests.fakes.apns_server import STATUS_OF, FakeApns

TOPIC = "com.example.app"
TOKEN = "a1" * 32


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def fake(pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey) -> AsyncIterator[FakeApns]:
    server = FakeApns(
        pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
        public_key=key.public_key(), max_concurrent_streams=10,
    )  # fmt: skip
    await server.start()
    yield server
    await server.aclose()


def credential(
    fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, **kw: str
) -> ApnsTokenCredential:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fields = {"key_id": "KEY1234567", "team_id": "TEAM123456", **kw}
    return ApnsTokenCredential(
        key_pem=pem, topic=TOPIC, endpoint=fake.url, ca_file=str(pki.ca_file), **fields
    )


@pytest.fixture
async def provider(fake, pki, key) -> AsyncIterator[ApnsProvider]:  # type: ignore[no-untyped-def]
    prov = create_provider(credential(fake, pki, key))
    assert isinstance(prov, ApnsProvider)
    yield prov
    await prov.aclose()


def device(token: str = TOKEN) -> Device:
    return Device(app="demo", platform=Platform.IOS, provider=ProviderKind.APNS, token=token)


ALERT = Message(title="Hello", body="World", badge=3, sound="default")


async def test_alert_is_accepted_with_apns_id_and_payload_as_built(provider, fake) -> None:  # type: ignore[no-untyped-def]
    nid = str(uuid.uuid4())
    result = await provider.send(ALERT, device(), notification_id=nid)
    assert result.status is SendStatus.ACCEPTED and result.provider_id == nid
    assert result.http_status == 200
    assert fake.payloads == [
        {"aps": {"alert": {"title": "Hello", "body": "World"}, "badge": 3, "sound": "default"}}
    ]
    headers = fake.server.requests[0].headers
    assert headers["apns-push-type"] == "alert" and headers["apns-priority"] == "10"


async def test_background_and_voip_types_pass_apples_checks(provider, fake) -> None:  # type: ignore[no-untyped-def]
    silent = Message(content_available=True, data={"sync": 1})
    voip = Message(body="call", push_type=PushType.VOIP)
    assert (await provider.send(silent, device())).accepted
    assert (await provider.send(voip, device())).accepted
    assert [r.headers["apns-topic"] for r in fake.server.requests] == [TOPIC, TOPIC + ".voip"]
    assert fake.server.requests[0].headers["apns-priority"] == "5"


@pytest.mark.parametrize("reason", sorted(STATUS_OF))
async def test_every_reason_code_is_mapped(provider, fake, reason: str) -> None:  # type: ignore[no-untyped-def]
    fake.forced[TOKEN] = reason
    result = await provider.send(ALERT, device())
    expected = apns_reasons.REASONS[reason]
    assert result.reason == reason and result.http_status == STATUS_OF[reason]
    assert result.status is expected.status and result.retryable is expected.retryable
    assert result.explanation == expected.explanation
    if STATUS_OF[reason] in (429, 503):
        assert result.retry_after == 30.0


async def test_dead_token_reports_when_apple_saw_it_die(provider, fake) -> None:  # type: ignore[no-untyped-def]
    fake.dead_tokens[TOKEN] = 1_700_000_000_123
    result = await provider.send(ALERT, device())
    assert result.status is SendStatus.TOKEN_DEAD and result.http_status == 410
    assert result.token_dead_since == datetime.fromtimestamp(1_700_000_000.123, UTC)


async def test_wrong_environment_token_is_bad_device_token_in_plain_words(provider) -> None:  # type: ignore[no-untyped-def]
    result = await provider.send(ALERT, device("ab" * 16))  # too short for the fake
    assert result.reason == "BadDeviceToken" and result.status is SendStatus.REJECTED
    assert "other APNs environment (sandbox vs production)" in result.explanation


async def test_non_hex_token_is_rejected_without_sending(provider, fake) -> None:  # type: ignore[no-untyped-def]
    result = await provider.send(ALERT, device("not a token/../"))
    assert result.reason == "BadDeviceToken" and result.http_status is None
    assert fake.server.requests == []


async def test_jwt_is_signed_once_and_reused_then_renewed_after_40_minutes(fake, pki, key) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    fake.clock = clock
    prov = ApnsProvider(credential(fake, pki, key), clock=clock)
    try:
        await asyncio.gather(*(prov.send(ALERT, device()) for _ in range(50)))
        clock.now += 39 * 60
        assert (await prov.send(ALERT, device())).accepted
        assert prov.signer is not None and prov.signer.signatures == 1
        clock.now += 2 * 60
        assert (await prov.send(ALERT, device())).accepted
        assert prov.signer.signatures == 2
    finally:
        await prov.aclose()
    tokens = {r.headers["authorization"] for r in fake.server.requests}
    assert len(tokens) == 2


async def test_expired_provider_token_is_renewed_once_and_retried(fake, pki, key) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    prov = ApnsProvider(credential(fake, pki, key), clock=clock)
    try:
        assert (await prov.send(ALERT, device())).accepted
        fake.expire_before = clock.now + 1  # Apple now considers our cached token expired
        clock.now += 5
        result = await prov.send(ALERT, device())
    finally:
        await prov.aclose()
    assert result.accepted
    assert prov.signer is not None and prov.signer.signatures == 2
    assert fake.rejections["ExpiredProviderToken"] == 1


async def test_auth_failures_are_auth_failure_results(fake, pki, key) -> None:  # type: ignore[no-untyped-def]
    wrong_team = ApnsProvider(credential(fake, pki, key, team_id="OTHERTEAM0"))
    other_key = ApnsProvider(credential(fake, pki, ec.generate_private_key(ec.SECP256R1())))
    try:
        for prov in (wrong_team, other_key):
            result = await prov.send(ALERT, device())
            assert result.status is SendStatus.AUTH_FAILURE
            assert result.reason == "InvalidProviderToken" and not result.retryable
    finally:
        await wrong_team.aclose()
        await other_key.aclose()


async def test_check_proves_credentials_without_notifying_anyone(fake, pki, key, provider) -> None:  # type: ignore[no-untyped-def]
    good = await provider.check()
    bad_prov = ApnsProvider(credential(fake, pki, key, key_id="WRONGKEY00"))
    try:
        bad = await bad_prov.check()
    finally:
        await bad_prov.aclose()
    assert good.ok and "BadDeviceToken" in good.details
    assert not bad.ok and "InvalidProviderToken" in bad.summary
    assert sum(fake.accepted.values()) == 0


async def test_goaway_mid_campaign_loses_and_duplicates_nothing(provider, fake) -> None:  # type: ignore[no-untyped-def]
    fake.server.goaway_after(15, b'{"reason":"Shutdown"}')
    ids = [str(uuid.uuid4()) for _ in range(100)]
    results = await asyncio.gather(
        *(provider.send(ALERT, device(), notification_id=i) for i in ids)
    )
    assert all(r.accepted for r in results)
    assert sorted(fake.accepted) == sorted(ids) and set(fake.accepted.values()) == {1}
    assert fake.server.connections >= 7
    assert fake.server.max_streams_seen <= 10  # the advertised MAX_CONCURRENT_STREAMS


async def test_server_errors_are_retryable_results_not_exceptions(provider, fake) -> None:  # type: ignore[no-untyped-def]
    fake.server.fail_next(1, 503, {"retry-after": "12"}, b'{"reason":"ServiceUnavailable"}')
    result = await provider.send(ALERT, device())
    assert result.retryable and result.retry_after == 12.0 and result.http_status == 503


async def test_unreachable_endpoint_raises_transport_error(pki, key, fake) -> None:  # type: ignore[no-untyped-def]
    cred = credential(fake, pki, key)
    await fake.aclose()
    prov = ApnsProvider(cred)
    with pytest.raises(TransportError):
        await prov.send(ALERT, device())
    await prov.aclose()


def test_unreadable_p8_is_a_credential_error(pki) -> None:  # type: ignore[no-untyped-def]
    cred = ApnsTokenCredential(key_pem=b"nope", key_id="K", team_id="T", topic=TOPIC)
    with pytest.raises(CredentialError, match=r"\.p8"):
        ApnsProvider(cred)


async def test_oversized_raw_payload_is_payload_too_large(provider, fake) -> None:  # type: ignore[no-untyped-def]
    from pushdeck.core.messages.payloads.apns import ApnsRequest

    body = b'{"aps":{"alert":"' + b"x" * 5000 + b'"}}'
    headers = {"apns-push-type": "alert", "apns-topic": TOPIC, "apns-priority": "10"}
    request = ApnsRequest({}, body, headers, PushType.ALERT)
    result = await provider.send_request(TOKEN, request)
    assert result.reason == "PayloadTooLarge" and result.http_status == 413


def test_providers_satisfy_the_protocol(provider) -> None:  # type: ignore[no-untyped-def]
    from pushdeck.core.providers.base import Provider

    assert isinstance(provider, Provider) and provider.kind is ProviderKind.APNS


async def test_a_burst_of_expired_token_answers_re_signs_only_once(fake, pki, key) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    prov = ApnsProvider(credential(fake, pki, key), clock=clock)
    try:
        assert (await prov.send(ALERT, device())).accepted
        fake.expire_before = clock.now + 1
        clock.now += 5
        results = await asyncio.gather(*(prov.send(ALERT, device()) for _ in range(30)))
    finally:
        await prov.aclose()
    assert all(r.accepted for r in results)
    assert prov.signer is not None and prov.signer.signatures == 2  # not one per answer


@pytest.mark.parametrize("reason", ["Shutdown", "IdleTimeout", "UnrelatedKeyIdInToken"])
async def test_reasons_that_need_a_new_connection_get_one(provider, fake, reason: str) -> None:  # type: ignore[no-untyped-def]
    fake.forced[TOKEN] = reason
    first = await provider.send(ALERT, device())
    del fake.forced[TOKEN]
    second = await provider.send(ALERT, device())
    assert first.retryable and first.reason == reason and second.accepted
    assert fake.server.connections == 2


async def test_a_message_using_every_field_passes_apples_checks(provider, fake) -> None:  # type: ignore[no-untyped-def]
    from pushdeck.core.common.model import InterruptionLevel, Priority

    full = Message(
        title="T", subtitle="S", body="B", sound="alarm.caf", critical_sound=True,
        critical_volume=0.4, badge=1, thread_id="th", category="CAT", mutable_content=True,
        interruption_level=InterruptionLevel.CRITICAL, relevance_score=0.9, collapse_id="c1",
        ttl_seconds=600, priority=Priority.NORMAL, url="app://x", data={"k": {"v": 1}},
        title_loc_key="TK", title_loc_args=("a",), body_loc_key="BK", body_loc_args=("b",),
    )  # fmt: skip
    nid = str(uuid.uuid4())
    result = await provider.send(full, device(), notification_id=nid)
    assert result.accepted and fake.accepted[nid] == 1
    headers = fake.server.requests[0].headers
    assert headers["apns-priority"] == "5" and headers["apns-collapse-id"] == "c1"
    assert fake.payloads[0]["aps"]["sound"] == {"critical": 1, "name": "alarm.caf", "volume": 0.4}


async def test_each_device_goes_to_its_own_environments_host(
    pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pushdeck.core.common.model import ApnsEnvironment
    from pushdeck.core.providers import apns

    servers = {}
    for environment in ApnsEnvironment:
        server = FakeApns(
            pki, topic=TOPIC, team_id="TEAM123456", key_id="KEY1234567",
            public_key=key.public_key(),
        )  # fmt: skip
        await server.start()
        servers[environment] = server
    tokens = {env: ("ab" if env is ApnsEnvironment.SANDBOX else "cd") * 32 for env in servers}
    for env, server in servers.items():
        server.device_tokens = {tokens[env]}
    monkeypatch.setattr(apns, "APNS_HOSTS", {env: s.url for env, s in servers.items()})
    cred = credential(servers[ApnsEnvironment.PRODUCTION], pki, key)
    prov = create_provider(dataclasses.replace(cred, endpoint=""))  # Apple's hosts, patched
    try:
        message = Message(title="Hi", body="both environments")
        for env, token in tokens.items():
            dev = Device(
                app="demo", platform=Platform.IOS, provider=ProviderKind.APNS,
                token=token, environment=env,
            )  # fmt: skip
            result = await prov.send(message, dev)
            assert result.status is SendStatus.ACCEPTED, (env, result)
        # a bare token (no device) goes to the credential's own environment
        bare = await prov.send_request(
            tokens[ApnsEnvironment.SANDBOX], apns.build_apns(message, topic=TOPIC)
        )
        assert bare.reason == "BadDeviceToken"
    finally:
        await prov.aclose()
        for server in servers.values():
            await server.aclose()
    assert [sum(s.accepted.values()) for s in servers.values()] == [1, 1]
