"""A provider outage is not a permanent rejection (issue 12), against the real fakes.

Each test drives the local APNs / FCM / Web Push fakes over HTTP/2 + TLS with a
switch file: "answer 503 while this file exists", a 429 storm with Retry-After in
seconds or as an HTTP-date, "accept and never answer", "refuse connections". What is
asserted is what a user reads: the campaign's status and error, the counts by state,
and "possibly duplicated" only where a request was written and not answered.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    Progress,
    SendSummary,
    campaign_status,
    send_campaign_async,
)
from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import Provider, create_provider
from pushdeck.core.providers.credentials import (
    ApnsTokenCredential,
    FcmCredential,
    WebPushCredential,
)
from pushdeck.core.providers.webpush_crypto import generate_vapid_keys
from pushdeck.core.store import Workspace
from pushdeck.core.store.journal import journal_rows
from tests.core.apns_setup import apns_credential, campaign_of, fake_apns
from tests.core.campaign_helpers import add_devices
from tests.fakes import apns_server, fcm_server, tls, webpush_server
from tests.fakes.apns_server import FakeApns
from tests.fakes.h2server import Request

DEVICES = 30
# Small numbers so an outage is noticed, probed and given up on within a second.
OPTIONS = DispatchOptions(
    concurrency=8,
    backoff_base=0.01,
    backoff_cap=0.05,
    max_attempts=3,
    outage_window=10,
    outage_probe_base=0.05,
    outage_probe_cap=0.2,
    outage_pause_after=1.0,
    flush_interval=0.02,
    progress_interval=0.0,
    status_poll=0.05,
)
NOTICE = re.compile(
    r"APNs unavailable since \d\d:\d\d \((?P<why>[^)]*)\); "
    r"(retrying in \d+ s|checking whether it is back)"
)


@pytest.fixture
async def fake(pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey) -> AsyncIterator[FakeApns]:
    async with fake_apns(pki, key) as server:
        yield server


def apns_campaign(ws: Workspace, devices: int = DEVICES) -> None:
    campaign_of(ws, devices, str(_doc()["name"]))


def _doc() -> dict[str, object]:
    return {"name": "R", "app": "shop", "audience": {"all": True}, "message": {"title": "Hi"}}


async def send(
    ws: Workspace,
    providers: dict[ProviderKind, Provider],
    options: DispatchOptions = OPTIONS,
    seen: list[Progress] | None = None,
) -> SendSummary:
    return await send_campaign_async(
        ws,
        "R",
        providers=providers,
        options=options,
        on_progress=seen.append if seen is not None else None,
    )


async def send_apns(
    ws: Workspace,
    credential: ApnsTokenCredential,
    options: DispatchOptions = OPTIONS,
    seen: list[Progress] | None = None,
    timeout: float = 30.0,
) -> SendSummary:
    provider = create_provider(credential, timeout=timeout)
    try:
        return await send(ws, {ProviderKind.APNS: provider}, options, seen)
    finally:
        await provider.aclose()


def assert_waiting(ws: Workspace, summary: SendSummary, devices: int) -> dict[str, object]:
    """Nothing rejected, nothing marked sent: every device still queued for a resume."""
    status = campaign_status(ws, "R")
    assert summary.status == status["status"] == "paused", status
    assert status["counts"]["queued"] == devices, status["counts"]
    assert status["counts"]["rejected"] == status["counts"]["in_flight"] == 0
    assert "campaigns send R" in str(status["error"])
    return status


def accepted_once(fake: FakeApns, devices: int) -> None:
    assert len(fake.accepted) == devices and set(fake.accepted.values()) == {1}


async def test_outage_longer_than_the_bound_pauses_with_the_reason_and_send_resumes(
    ws: Workspace, fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    apns_campaign(ws)
    switch = tmp_path / "apns-down"
    switch.touch()
    fake.server.outage_while(switch, apns_server.outage_response(503))
    credential = apns_credential(key, fake.url, str(pki.ca_file))

    summary = await send_apns(ws, credential)

    status = assert_waiting(ws, summary, DEVICES)
    assert re.search(r"APNs unavailable since \d{4}-\d\d-\d\d \d\d:\d\d", str(status["error"]))
    assert "503 ServiceUnavailable" in str(status["error"])
    assert status["possibly_duplicated"] == 0  # every request was answered (with 503)
    # Stopped spending attempts once APNs was seen down: far fewer requests than
    # devices x max_attempts (90), and every waiting row says why.
    assert fake.server.outage_answers < DEVICES * OPTIONS.max_attempts - DEVICES
    reasons = {r["reason"] for r in journal_rows(ws, 1) if r["attempts"]}
    assert reasons and all("503 ServiceUnavailable" in r for r in reasons), reasons

    switch.unlink()
    summary = await send_apns(ws, credential)
    assert summary.status == "sent" and summary.counts == {"accepted": DEVICES}
    assert summary.possibly_duplicated == 0 and campaign_status(ws, "R")["error"] == ""
    accepted_once(fake, DEVICES)


async def test_outage_then_recovery_within_the_bound_says_so_and_sends_everything_once(
    ws: Workspace, fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    apns_campaign(ws)
    switch = tmp_path / "apns-down"
    switch.touch()
    fake.server.outage_while(switch, apns_server.outage_response(500))
    seen: list[Progress] = []
    loop = asyncio.get_running_loop()

    def on_progress(progress: Progress) -> None:
        seen.append(progress)
        if progress.notice and switch.exists():  # the user sees it: now APNs comes back
            loop.call_later(0.3, switch.unlink, True)

    options = replace(OPTIONS, outage_pause_after=60.0)
    provider = create_provider(apns_credential(key, fake.url, str(pki.ca_file)))
    try:
        summary = await send_campaign_async(
            ws, "R", providers={ProviderKind.APNS: provider}, options=options,
            on_progress=on_progress,
        )  # fmt: skip
    finally:
        await provider.aclose()

    assert summary.status == "sent" and summary.counts == {"accepted": DEVICES}
    assert summary.possibly_duplicated == 0
    accepted_once(fake, DEVICES)
    notices = [p.notice for p in seen if p.notice]
    assert notices, "the outage was never shown"
    match = NOTICE.fullmatch(notices[0])
    assert match and match["why"] == "500 InternalServerError", notices[0]
    assert seen[-1].notice == "" and seen[-1].status == "sent"
    # The journal's attempts are exactly the requests made: one accepted per device
    # plus each 500 answered during the outage (probes included), nothing invented.
    attempts = sum(r["attempts"] for r in journal_rows(ws, 1))
    assert attempts == DEVICES + fake.server.outage_answers


@pytest.mark.parametrize("form", ["seconds", "http-date"])
async def test_429_storm_retry_after_holds_the_whole_provider(
    ws: Workspace,
    fake: FakeApns,
    pki: tls.TestPKI,
    key: ec.EllipticCurvePrivateKey,
    tmp_path: Path,
    form: str,
) -> None:
    apns_campaign(ws, devices=20)
    # At least two seconds away (an HTTP-date has whole seconds): a hold of a second or
    # more means "stop sending", shorter ones only space the retries out.
    not_before = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    value = "2" if form == "seconds" else format_datetime(not_before, usegmt=True)
    switch = tmp_path / "storm"
    switch.touch()
    fake.server.outage_while(switch, apns_server.outage_response(429, value))
    arrivals: list[float] = []
    handler = fake.server.handler

    def timed(req: Request) -> object:
        arrivals.append(time.time())
        return handler(req)

    fake.server.handler = timed  # type: ignore[assignment]
    seen: list[Progress] = []
    asyncio.get_running_loop().call_later(0.5, switch.unlink)  # the storm passes
    options = replace(OPTIONS, outage_pause_after=60.0)
    started = time.time()

    summary = await send_apns(ws, apns_credential(key, fake.url, str(pki.ca_file)), options, seen)

    assert summary.status == "sent" and summary.counts == {"accepted": 20}
    accepted_once(fake, 20)
    # The first 429 told everyone to wait: only the requests already in flight got it.
    assert fake.server.outage_answers <= OPTIONS.concurrency
    # ...and nothing was sent again before the time the provider gave.
    wanted = started + 2 if form == "seconds" else not_before.timestamp()
    assert arrivals and min(arrivals) >= wanted - 0.01
    assert any("429 TooManyRequests, Retry-After" in p.notice for p in seen)


async def test_a_provider_that_never_answers_is_caught_by_the_request_deadline(
    ws: Workspace, fake: FakeApns, pki: tls.TestPKI, key: ec.EllipticCurvePrivateKey, tmp_path: Path
) -> None:
    apns_campaign(ws, devices=12)
    switch = tmp_path / "hang"
    switch.touch()
    fake.server.hang_while(switch)
    credential = apns_credential(key, fake.url, str(pki.ca_file))
    options = replace(OPTIONS, outage_window=6)

    summary = await send_apns(ws, credential, options, timeout=0.3)

    status = assert_waiting(ws, summary, 12)
    assert "did not answer in time" in str(status["error"])
    # Only requests that were written and never answered count as possibly duplicated:
    # exactly the devices the service read.
    swallowed = {r.path for r in fake.server.hung}
    assert swallowed and status["possibly_duplicated"] == len(swallowed)

    switch.unlink()
    summary = await send_apns(ws, credential, timeout=0.3)
    assert summary.status == "sent" and summary.counts == {"accepted": 12}
    accepted_once(fake, 12)  # duplicates (none here) <= reported
    assert summary.possibly_duplicated == len(swallowed)


@pytest.mark.parametrize("failure", ["refused", "dns", "tls"])
async def test_never_reached_the_provider_is_not_sent_and_not_duplicated(
    ws: Workspace,
    fake: FakeApns,
    pki: tls.TestPKI,
    key: ec.EllipticCurvePrivateKey,
    tmp_path: Path,
    failure: str,
) -> None:
    apns_campaign(ws, devices=12)
    endpoint, ca_file = fake.url, str(pki.ca_file)
    switch = tmp_path / "refuse"
    if failure == "refused":
        switch.touch()
        fake.server.refuse_while(switch)
        await asyncio.sleep(0.2)  # the listener is closed
        words = f"Could not connect to 127.0.0.1:{fake.server.port}: connection refused"
    elif failure == "dns":
        endpoint = "https://apns.pushdeck-test.invalid"
        words = "Could not connect to apns.pushdeck-test.invalid: name not resolved"
    else:
        ca_file = ""  # the fake's certificate is not trusted
        words = "its TLS certificate is not trusted"

    summary = await send_apns(ws, apns_credential(key, endpoint, ca_file))

    status = assert_waiting(ws, summary, 12)
    assert words in str(status["error"]), status["error"]
    assert status["possibly_duplicated"] == 0
    assert not fake.server.requests  # nothing reached the service

    if failure == "refused":
        switch.unlink()
        await asyncio.sleep(0.2)  # listening again
        summary = await send_apns(ws, apns_credential(key, endpoint, ca_file))
        assert summary.status == "sent" and summary.possibly_duplicated == 0
        accepted_once(fake, 12)


async def test_fcm_outage_including_googles_token_endpoint_is_not_a_credential_failure(
    ws: Workspace, pki: tls.TestPKI, tmp_path: Path
) -> None:
    fcm = await fcm_server.FakeFcm(pki).start()
    switch = tmp_path / "google-down"
    switch.touch()
    fcm.server.outage_while(switch, fcm_server.outage_response(503))
    add_devices(ws, [{"token": f"fcm-token-{i:020d}", "provider": "fcm"} for i in range(15)])
    create_campaign(ws, spec_from_dict(_doc()))
    credential = FcmCredential(fcm.service_account(), fcm.url, str(pki.ca_file))

    async def run() -> SendSummary:
        provider = create_provider(credential)
        try:
            return await send(ws, {ProviderKind.FCM: provider})
        finally:
            await provider.aclose()

    try:
        summary = await run()  # before the fix: CredentialError, campaign 'failed'
        status = assert_waiting(ws, summary, 15)
        assert "FCM unavailable since" in str(status["error"])
        assert "503 OAUTH_UNAVAILABLE" in str(status["error"])
        switch.unlink()
        summary = await run()
    finally:
        await fcm.aclose()
    assert summary.status == "sent" and summary.counts == {"accepted": 15}
    assert sorted(token for token, _ in fcm.delivered) == [f"fcm-token-{i:020d}" for i in range(15)]


@pytest.mark.usefixtures("allow_local_endpoints")  # the fake push services are on 127.0.0.1
async def test_one_web_push_service_down_does_not_hold_the_others(
    ws: Workspace, pki: tls.TestPKI, tmp_path: Path
) -> None:
    down = await webpush_server.FakeWebPushService(pki).start()
    up = await webpush_server.FakeWebPushService(pki).start()
    switch = tmp_path / "push-service-down"
    switch.touch()
    down.server.outage_while(switch, webpush_server.outage_response(503))
    subs = [down.subscribe() for _ in range(12)] + [up.subscribe() for _ in range(12)]
    add_devices(
        ws,
        [
            {"token": s.endpoint, "provider": "webpush", "p256dh": s.p256dh, "auth": s.auth}
            for s in subs
        ],
    )
    create_campaign(ws, spec_from_dict(_doc()))
    keys = generate_vapid_keys()
    credential = WebPushCredential(
        keys.private_key_pem, keys.public_key, "mailto:t@example.com", str(pki.ca_file)
    )

    async def run() -> SendSummary:
        provider = create_provider(credential)
        try:
            return await send(ws, {ProviderKind.WEBPUSH: provider})
        finally:
            await provider.aclose()

    try:
        first = await run()
        after_first = len(up.received)
        status = campaign_status(ws, "R")
        switch.unlink()
        second = await run()
    finally:
        await down.aclose()
        await up.aclose()
    assert first.status == "paused" and after_first == 12  # the healthy service got all
    assert status["counts"]["accepted"] == 12 and status["counts"]["queued"] == 12
    assert f"Web Push service 127.0.0.1:{down.server.port} unavailable" in str(status["error"])
    assert second.status == "sent" and second.counts == {"accepted": 24}
    assert len(down.received) == 12 and len(up.received) == 12
