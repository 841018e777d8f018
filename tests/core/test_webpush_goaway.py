"""Web Push under GOAWAY and dropped connections: no request is delivered twice.

Real HTTP/2 over TLS to the fake push service, which decrypts every body it accepts, so
``service.received`` is exactly what a browser would have been handed.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from pushdeck.core.common.errors import TransportError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind, SendResult
from pushdeck.core.providers.credentials import WebPushCredential
from pushdeck.core.providers.webpush import WebPushProvider
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
from tests.fakes import tls
from tests.fakes.webpush_server import FakeWebPushService

KEYS = generate_vapid_keys()
COUNT = 100

# The fake push service listens on 127.0.0.1: opt in, as a lab would (core.netguard).
pytestmark = pytest.mark.usefixtures("allow_local_endpoints")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def service(pki: tls.TestPKI) -> AsyncIterator[FakeWebPushService]:
    fake = await FakeWebPushService(pki).start()
    yield fake
    await fake.aclose()


@pytest.fixture
async def provider(pki: tls.TestPKI) -> AsyncIterator[WebPushProvider]:
    credential = WebPushCredential(
        KEYS.private_key_pem, KEYS.public_key, "mailto:ops@example.com", ca_file=str(pki.ca_file)
    )
    p = WebPushProvider(credential)
    yield p
    await p.aclose()


async def send_all(
    service: FakeWebPushService, provider: WebPushProvider, count: int
) -> tuple[list[str], list[SendResult | BaseException]]:
    """``count`` concurrent sends, each to its own subscription, with its own body."""
    subs = [service.subscribe() for _ in range(count)]
    sends = [
        provider.send(
            Message(title="Sale", body=f"n{i}"),
            Device("site", Platform.WEB, ProviderKind.WEBPUSH, s.endpoint, subscription=s),
        )
        for i, s in enumerate(subs)
    ]
    results = await asyncio.gather(*sends, return_exceptions=True)
    return [s.endpoint.rsplit("/", 1)[1] for s in subs], results


def delivered(service: FakeWebPushService) -> Counter[str]:
    """How many times each subscription's browser was handed a decrypted message."""
    return Counter(r.subscription_id for r in service.received)


async def test_goaway_retries_only_unprocessed_requests(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    # Every connection: 20 requests answered, then GOAWAY(last_stream_id = the 20th).
    # Streams the client opened after it were never processed and must be sent again.
    service.server.goaway_after(20, b"shutting down")
    ids, results = await send_all(service, provider, COUNT)

    seen = delivered(service)
    assert max(seen.values()) == 1  # no browser got a message twice
    for sub_id, result in zip(ids, results, strict=True):
        if isinstance(result, BaseException):
            # Only a request the service may have processed may end without an answer.
            assert isinstance(result, TransportError), result
            assert "unknown" in result.hint
            assert seen[sub_id] <= 1
        else:
            assert result.accepted, result
            assert seen[sub_id] == 1
    # Here every request at or below a last_stream_id was answered before the GOAWAY, so
    # none is unknown: all 100 are accepted, each exactly once, over several connections.
    accepted = [r for r in results if isinstance(r, SendResult) and r.accepted]
    assert len(accepted) == COUNT and len(seen) == COUNT
    assert len({r.provider_id for r in accepted}) == COUNT
    bodies = {json.loads(r.plaintext)["body"] for r in service.received}
    assert bodies == {f"n{i}" for i in range(COUNT)}
    assert service.server.connections >= COUNT // 20
    # The service handled every request once: the retried ones were never processed.
    assert len(service.server.requests) == COUNT


async def test_dropped_connection_reports_unknown_and_sends_nothing_twice(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    # The service processes 29 requests, then on the 30th the connection dies before any
    # answer leaves it (a crash, or a reset behind a load balancer): every request was
    # written and none answered, so delivery is unknown for all of them, processed or not.
    service.server.drop_after(30)
    ids, results = await send_all(service, provider, COUNT)

    seen = delivered(service)
    assert len(seen) >= 29 and max(seen.values()) == 1
    for sub_id, result in zip(ids, results, strict=True):
        if isinstance(result, BaseException):
            assert isinstance(result, TransportError), result
            assert "unknown" in result.hint
        else:  # an answered request was processed exactly once
            assert result.accepted and seen[sub_id] == 1
    # Nothing written was sent again behind the caller's back: each request reached the
    # service's handler at most once.
    assert max(Counter(r.path for r in service.server.requests).values()) == 1
    # The provider recovers on a fresh connection.
    service.server.drop_after(None)
    _, again = await send_all(service, provider, 10)
    assert all(isinstance(r, SendResult) and r.accepted for r in again)


async def test_goaway_then_the_provider_keeps_working(
    service: FakeWebPushService, provider: WebPushProvider
) -> None:
    service.server.goaway_after(5)
    _, first = await send_all(service, provider, 12)
    service.server.goaway_after(None)
    _, second = await send_all(service, provider, 12)
    results = [*first, *second]
    assert all(isinstance(r, SendResult) and r.accepted for r in results)
    assert sum(delivered(service).values()) == 24
