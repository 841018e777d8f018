"""FCM HTTP v1 provider end to end against the fake FCM (OAuth + messages:send)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from pushdeck.core.common.errors import CredentialError, TransportError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind, SendStatus
from pushdeck.core.messages.payloads.fcm import FcmRequest
from pushdeck.core.providers import fcm_errors
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import FcmCredential
from pushdeck.core.providers.fcm import FcmProvider
from tests.fakes import tls
from tests.fakes.fcm_server import ERRORS, FakeFcm

TOKEN = "dGVzdC10b2tlbg:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def fake(pki: tls.TestPKI) -> AsyncIterator[FakeFcm]:
    server = await FakeFcm(pki).start()
    yield server
    await server.aclose()


def credential(fake: FakeFcm, pki: tls.TestPKI, **overrides: str) -> FcmCredential:
    account = fake.service_account(**overrides)
    return FcmCredential(service_account=account, endpoint=fake.url, ca_file=str(pki.ca_file))


@pytest.fixture
async def provider(fake: FakeFcm, pki: tls.TestPKI) -> AsyncIterator[FcmProvider]:
    prov = create_provider(credential(fake, pki))
    assert isinstance(prov, FcmProvider)
    yield prov
    await prov.aclose()


def device(token: str = TOKEN) -> Device:
    return Device(app="demo", platform=Platform.ANDROID, provider=ProviderKind.FCM, token=token)


HELLO = Message(title="Hello", body="World", data={"n": 1, "deal": {"id": 7}}, ttl_seconds=60)


async def test_send_is_accepted_with_the_message_name(provider, fake) -> None:  # type: ignore[no-untyped-def]
    result = await provider.send(HELLO, device())
    assert result.status is SendStatus.ACCEPTED
    assert result.provider_id.startswith("projects/demo-project/messages/0:")
    ((token, message),) = fake.delivered
    assert token == TOKEN and message["notification"] == {"title": "Hello", "body": "World"}
    assert message["data"] == {"n": "1", "deal": '{"id": 7}'} and message["android"]["ttl"] == "60s"


async def test_validate_only_is_a_dry_run(provider, fake) -> None:  # type: ignore[no-untyped-def]
    result = await provider.send(HELLO, device(), validate_only=True)
    assert result.accepted and fake.delivered == [] and len(fake.validated) == 1


async def test_many_sends_share_one_access_token_and_one_connection(provider, fake) -> None:  # type: ignore[no-untyped-def]
    # As many as the fake's SETTINGS_MAX_CONCURRENT_STREAMS (100, Google's front ends):
    # more may rightly open a second connection once the first is full and answered.
    results = await asyncio.gather(*(provider.send(HELLO, device()) for _ in range(100)))
    assert all(r.accepted for r in results)
    assert fake.assertions == 1 and provider.tokens.fetches == 1
    assert fake.server.connections == 2  # one to the send endpoint, one to token_uri


async def test_access_token_is_refreshed_five_minutes_before_expiry(fake, pki) -> None:  # type: ignore[no-untyped-def]
    clock = Clock()
    fake.clock = clock
    prov = FcmProvider(credential(fake, pki), clock=clock)
    try:
        assert (await prov.send(HELLO, device())).accepted
        clock.now += 3599 - 301  # still more than five minutes left: reuse
        assert (await prov.send(HELLO, device())).accepted
        assert fake.assertions == 1
        clock.now += 2  # now inside the five-minute margin: refresh first
        assert (await prov.send(HELLO, device())).accepted
        assert fake.assertions == 2 and fake.unauthorized == 0
    finally:
        await prov.aclose()


async def test_401_refreshes_the_token_once_and_retries(provider, fake) -> None:  # type: ignore[no-untyped-def]
    assert (await provider.send(HELLO, device())).accepted
    fake.expire_all_tokens()  # e.g. revoked on Google's side before its expiry
    result = await provider.send(HELLO, device())
    assert result.accepted and fake.unauthorized == 1 and fake.assertions == 2


@pytest.mark.parametrize("code", sorted(ERRORS))
async def test_every_fcm_error_code_is_mapped(provider, fake, code: str) -> None:  # type: ignore[no-untyped-def]
    fake.forced[TOKEN] = code
    result = await provider.send(HELLO, device())
    expected = fcm_errors.ERROR_CODES[code]
    assert result.reason == code and result.http_status == ERRORS[code][0]
    assert result.status is expected.status and result.retryable is expected.retryable
    if ERRORS[code][0] in (429, 503):
        assert result.retry_after == 17.0


async def test_unregistered_token_is_dead(provider, fake) -> None:  # type: ignore[no-untyped-def]
    fake.dead_tokens.add(TOKEN)
    result = await provider.send(HELLO, device())
    assert result.status is SendStatus.TOKEN_DEAD and result.reason == "UNREGISTERED"


async def test_malformed_token_is_dead_and_says_why(provider) -> None:  # type: ignore[no-untyped-def]
    result = await provider.send(HELLO, device("short"))
    assert result.status is SendStatus.TOKEN_DEAD and result.reason == "INVALID_ARGUMENT"
    assert "not a valid FCM token" in result.explanation


async def test_third_party_auth_error_stops_the_campaign(provider, fake) -> None:  # type: ignore[no-untyped-def]
    fake.forced[TOKEN] = "THIRD_PARTY_AUTH_ERROR"
    result = await provider.send(HELLO, device())
    assert result.status is SendStatus.AUTH_FAILURE and "APNs" in result.explanation
    assert fake.assertions == 1  # a 401 with an FcmError detail is not an expired token


async def test_wrong_project_is_an_auth_failure(fake, pki) -> None:  # type: ignore[no-untyped-def]
    prov = FcmProvider(credential(fake, pki, project_id="other-project"))
    try:
        result = await prov.send(HELLO, device())
    finally:
        await prov.aclose()
    assert result.status is SendStatus.AUTH_FAILURE and result.reason == "NOT_FOUND"


async def test_refused_service_account_is_an_auth_failure_result(fake, pki) -> None:  # type: ignore[no-untyped-def]
    prov = FcmProvider(credential(fake, pki, client_email="someone@else.iam"))
    try:
        result = await prov.send(HELLO, device())
        check = await prov.check()
    finally:
        await prov.aclose()
    assert result.status is SendStatus.AUTH_FAILURE and result.reason == "OAUTH_TOKEN_REFUSED"
    assert "Invalid JWT Signature" in result.explanation
    assert not check.ok


async def test_check_is_a_validate_only_send(provider, fake) -> None:  # type: ignore[no-untyped-def]
    check = await provider.check()
    assert check.ok and "validate_only" in check.details
    assert fake.delivered == [] and len(fake.validated) == 1


async def test_server_side_validation_errors_name_the_field(provider, fake) -> None:  # type: ignore[no-untyped-def]
    bad = {"message": {"token": TOKEN, "android": {"ttl": "3 days"}}}
    request = FcmRequest(bad, json.dumps(bad).encode())
    result = await provider.send_request(request)
    assert result.status is SendStatus.REJECTED and "message.android.ttl" in result.explanation


async def test_unreachable_endpoint_raises_transport_error(fake, pki) -> None:  # type: ignore[no-untyped-def]
    cred = credential(fake, pki)
    await fake.aclose()
    prov = FcmProvider(cred)
    with pytest.raises(TransportError):
        await prov.send(HELLO, device())
    await prov.aclose()


def test_service_account_without_key_is_a_credential_error() -> None:
    account = {"project_id": "p", "client_email": "a@b", "token_uri": "https://x/token"}
    with pytest.raises(CredentialError, match="private_key"):
        FcmProvider(FcmCredential(service_account=account))


async def test_unknown_message_field_is_rejected_like_google(provider) -> None:  # type: ignore[no-untyped-def]
    bad = {"message": {"token": TOKEN, "priority": "high"}}
    result = await provider.send_request(FcmRequest(bad, json.dumps(bad).encode()))
    assert result.status is SendStatus.REJECTED and 'Unknown name "priority"' in result.explanation


def test_fcm_provider_satisfies_the_protocol(provider) -> None:  # type: ignore[no-untyped-def]
    from pushdeck.core.providers.base import Provider

    assert isinstance(provider, Provider) and provider.kind is ProviderKind.FCM


async def test_a_message_using_every_field_passes_googles_checks(provider, fake) -> None:  # type: ignore[no-untyped-def]
    from pushdeck.core.common.model import Action, AndroidVisibility, Priority

    full = Message(
        title="T", body="B", image_url="https://img/x.png", url="https://shop.example/d",
        sound="default", badge=2, category="OPEN", collapse_id="deal", ttl_seconds=3600,
        priority=Priority.NORMAL, android_channel_id="deals", android_icon="ic",
        android_color="#112233", android_visibility=AndroidVisibility.SECRET, android_tag="t",
        web_icon="https://img/i.png", web_require_interaction=True, actions=(Action("a", "A"),),
        title_loc_key="TK", body_loc_key="BK", body_loc_args=("x",), data={"n": [1, 2]},
    )  # fmt: skip
    assert (await provider.send(full, device())).accepted
    ((_, message),) = fake.delivered
    assert message["android"]["notification"]["visibility"] == "SECRET"


async def test_non_json_error_from_a_proxy_falls_back_on_the_http_status(provider, fake) -> None:  # type: ignore[no-untyped-def]
    await provider.send(HELLO, device())  # get the access token first
    fake.server.fail_next(1, 502, {"content-type": "text/html"}, b"<html>Bad gateway</html>")
    result = await provider.send(HELLO, device())
    assert result.status is SendStatus.REJECTED and result.retryable
    assert result.reason == "502" and result.raw["body"] == {"text": "<html>Bad gateway</html>"}
