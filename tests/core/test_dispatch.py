"""The sending loop against a scripted fake provider and the sandbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    Progress,
    SendControl,
    campaign_status,
    cancel_campaign,
    pause_campaign,
    send_campaign_async,
)
from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.campaigns.spec import CampaignStatus, spec_from_dict
from pushdeck.core.campaigns.variants import notification_id
from pushdeck.core.common.errors import ConfigError, CredentialError, TransportError
from pushdeck.core.common.model import CAMPAIGN_KEY, ProviderKind, SendStatus
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import SandboxCredential
from pushdeck.core.store import Workspace
from pushdeck.core.store.devices import find_device
from pushdeck.core.store.journal import journal_rows, recover_in_flight
from tests.core.campaign_helpers import FakeProvider, add_devices, result

FAST = DispatchOptions(
    backoff_base=0.001, backoff_cap=0.01, flush_interval=0.01, chunk_size=8, progress_interval=0
)


def make_campaign(ws: Workspace, **extra: Any) -> str:
    doc = {
        "name": "C1",
        "app": "shop",
        "audience": {"all": True},
        "message": {"title": "Hi {{ first_name | default: 'there' }}", "body": "b"},
        **extra,
    }
    return create_campaign(ws, spec_from_dict(doc)).name


def states(ws: Workspace, name: str = "C1") -> dict[str, str]:
    campaign = get_campaign(ws, name)
    tokens = {r["id"]: r["token"] for r in ws.query("SELECT id, token FROM devices")}
    return {tokens[r["device_id"]]: r["state"] for r in journal_rows(ws, campaign.id)}


async def test_sends_every_eligible_device_once(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}", "attributes": {"first_name": f"N{i}"}} for i in range(50)])
    add_devices(ws, [{"token": "out", "opt_in": "denied"}, {"token": "web", "provider": "webpush"}])
    make_campaign(ws)
    fake = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.status == "sent"
    assert summary.counts == {"accepted": 50, "excluded": 2}
    assert set(fake.received.values()) == {1} and len(fake.received) == 50
    assert fake.messages["t7"].title == "Hi N7"
    assert fake.messages["t7"].data[CAMPAIGN_KEY] == "C1"
    assert notification_id("C1", "shop", "t7") in fake.received
    reasons = {r["reason"] for r in journal_rows(ws, 1) if r["state"] == "excluded"}
    assert reasons == {"opted_out", "no_credential"}
    # Sending a sent campaign again sends nothing.
    await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert sum(fake.received.values()) == 50


async def test_control_group_is_not_sent(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(400)])
    make_campaign(
        ws,
        variants=[{"name": "A", "percent": 50}, {"name": "B", "percent": 50}],
        control_percent=20,
    )
    fake = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    control = summary.counts["control"]
    assert 40 < control < 120
    assert summary.counts["accepted"] == 400 - control == len(fake.received)
    variants = {r["variant"] for r in journal_rows(ws, 1) if r["state"] == "accepted"}
    assert variants == {"A", "B"}


async def test_retryable_errors_are_retried_then_wait_never_rejected(ws: Workspace) -> None:
    add_devices(ws, [{"token": "flaky"}, {"token": "down"}, {"token": "net"}, {"token": "ok"}])
    make_campaign(ws)
    unavailable = result(
        SendStatus.REJECTED, http_status=503, reason="ServiceUnavailable", retryable=True
    )
    throttled = result(
        SendStatus.REJECTED,
        http_status=429,
        reason="TooManyRequests",
        retryable=True,
        retry_after=0.01,
    )
    fake = FakeProvider(
        script={
            "flaky": [unavailable, throttled, result(SendStatus.ACCEPTED, http_status=200)],
            "down": [*[unavailable] * 4, result(SendStatus.ACCEPTED)],
            "net": [TransportError("reset"), result(SendStatus.ACCEPTED)],  # type: ignore[list-item]
        }
    )
    options = DispatchOptions(backoff_base=0.001, flush_interval=0.01, max_attempts=4)
    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: fake}, options=options
    )
    # A device that only ever failed transiently is not rejected and the campaign is
    # not 'sent': it waits, paused with the reason, for the next send.
    assert summary.counts == {"accepted": 3, "queued": 1} and summary.status == "paused"
    assert "1 device got only temporary failures (last: 503 ServiceUnavailable)" in summary.error
    ids = dict(ws.query("SELECT token, id FROM devices").__iter__())
    rows = {r["device_id"]: r for r in journal_rows(ws, 1)}
    flaky, down, net = rows[ids["flaky"]], rows[ids["down"]], rows[ids["net"]]
    assert flaky["attempts"] == 3 and flaky["state"] == "accepted"
    assert down["state"] == "queued" and down["attempts"] == 4
    assert "Waiting after 4 temporary failures" in down["reason"]
    assert fake.attempts["down"] == 4
    assert net["state"] == "accepted" and net["attempts"] == 2
    # The transport error left the first send's fate unknown: reported, not hidden.
    assert net["possibly_duplicated"] == 1 and summary.possibly_duplicated == 1
    # The next send retries it (its fifth answer is an acceptance).
    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: fake}, options=options
    )
    assert summary.status == "sent" and summary.counts == {"accepted": 4} and not summary.error
    assert fake.attempts["down"] == 5 and len(fake.received) == 4


async def test_auth_failure_stops_at_once_and_resume_finishes(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i:03}"} for i in range(300)])
    make_campaign(ws)
    denied = result(
        SendStatus.AUTH_FAILURE,
        http_status=403,
        reason="InvalidProviderToken",
        explanation="The signing key was revoked.",
    )
    bad = FakeProvider(script={f"t{i:03}": [denied] for i in range(300)})
    with pytest.raises(CredentialError, match="InvalidProviderToken"):
        await send_campaign_async(
            ws,
            "C1",
            providers={ProviderKind.APNS: bad},
            options=DispatchOptions(concurrency=4, chunk_size=8),
        )
    status = campaign_status(ws, "C1")
    assert status["status"] == "failed" and "revoked" in status["error"]
    assert sum(bad.attempts.values()) <= 8  # stopped within one chunk, not 300 failures
    assert status["counts"]["queued"] == 300 and status["counts"]["in_flight"] == 0
    good = FakeProvider()
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: good}, options=FAST)
    assert summary.counts == {"accepted": 300} and summary.possibly_duplicated == 0


async def test_dead_tokens_unregister_devices_respecting_apns_timestamp(ws: Workspace) -> None:
    add_devices(
        ws,
        [
            {"token": "gone", "last_seen": "2026-01-01T00:00:00Z"},
            {"token": "back", "last_seen": "2026-06-01T00:00:00Z"},
        ],
    )
    make_campaign(ws)
    died = datetime(2026, 3, 1, tzinfo=UTC)
    dead = result(
        SendStatus.TOKEN_DEAD, http_status=410, reason="Unregistered", token_dead_since=died
    )
    fake = FakeProvider(script={"gone": [dead], "back": [dead]})
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.counts == {"dead": 2}
    gone = find_device(ws, "shop", "gone")
    back = find_device(ws, "shop", "back")
    assert gone is not None and back is not None
    assert gone.status.value == "unregistered" and "Unregistered" in gone.status_reason
    assert gone.status_at == died
    assert back.status.value == "active"  # re-registered after Apple's timestamp


async def test_over_budget_recipient_is_skipped_with_reason(ws: Workspace) -> None:
    add_devices(ws, [{"token": "big", "attributes": {"first_name": "x" * 5000}}, {"token": "ok"}])
    make_campaign(ws)
    sandbox = create_provider(SandboxCredential(latency_ms=0, failure_rate=0, dead_rate=0))
    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: sandbox}, options=FAST
    )
    assert summary.counts == {"accepted": 1, "skipped": 1}
    skipped = next(r for r in journal_rows(ws, 1) if r["state"] == "skipped")
    assert "limit is 4096 bytes" in skipped["reason"]


async def test_concurrency_is_bounded_per_provider(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(120)])
    make_campaign(ws)
    fake = FakeProvider(delay=0.002)
    await send_campaign_async(
        ws,
        "C1",
        providers={ProviderKind.APNS: fake},
        options=DispatchOptions(concurrency=5, flush_interval=0.01),
    )
    assert fake.max_in_flight == 5


async def test_progress_events_count_by_state(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(40)])
    make_campaign(ws)
    events: list[Progress] = []
    await send_campaign_async(
        ws,
        "C1",
        providers={ProviderKind.APNS: FakeProvider()},
        on_progress=events.append,
        options=FAST,
    )
    assert events[-1].status == "sent"
    assert events[-1].counts == {"accepted": 40}
    assert events[-1].remaining == 0 and events[-1].done == 40


async def test_pause_and_resume_in_process(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(60)])
    make_campaign(ws)
    control = SendControl()
    fake = FakeProvider(delay=0.001)
    seen: list[str] = []

    def on_progress(p: Progress) -> None:
        seen.append(p.status)
        if p.done >= 10 and not control.paused and "paused" not in seen:
            control.pause()

    async def resume_later() -> None:
        async with asyncio.timeout(10):
            while "paused" not in seen:
                await asyncio.sleep(0.005)
        assert get_campaign(ws, "C1").status is CampaignStatus.PAUSED
        control.resume()

    resumer = asyncio.create_task(resume_later())
    summary = await send_campaign_async(
        ws,
        "C1",
        providers={ProviderKind.APNS: fake},
        control=control,
        on_progress=on_progress,
        options=DispatchOptions(
            concurrency=2, chunk_size=4, flush_every=2, flush_interval=0.001, progress_interval=0
        ),
    )
    await resumer
    assert "paused" in seen
    assert summary.counts == {"accepted": 60} and len(fake.received) == 60


async def test_pause_and_cancel_from_the_workspace(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(60)])
    make_campaign(ws)
    fake = FakeProvider(delay=0.001)
    options = DispatchOptions(
        concurrency=2, chunk_size=4, flush_interval=0.001, status_poll=0, progress_interval=0
    )

    paused: list[int] = []

    def pause_once(p: Progress) -> None:
        if p.done >= 10 and not paused:
            paused.append(p.done)
            pause_campaign(ws, "C1")

    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: fake}, on_progress=pause_once, options=options
    )
    assert summary.status == "paused"
    assert 10 <= summary.counts["accepted"] < 60 and summary.counts.get("in_flight", 0) == 0
    cancel_campaign(ws, "C1")
    status = campaign_status(ws, "C1")
    assert status["status"] == "cancelled"
    assert status["counts"]["cancelled"] == 60 - summary.counts["accepted"]
    with pytest.raises(ConfigError, match="cancelled"):
        await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake})


async def test_resume_after_crash_counts_possible_duplicates(ws: Workspace) -> None:
    add_devices(ws, [{"token": f"t{i}"} for i in range(10)])
    make_campaign(ws)
    fake = FakeProvider()
    # Simulate a crash: journal materialized, two rows left in flight, one accepted.
    from pushdeck.core.campaigns.dispatch import materialize

    campaign = get_campaign(ws, "C1")
    materialize(ws, campaign, {ProviderKind.APNS})
    ws.conn.execute("UPDATE journal SET state = 'in_flight' WHERE device_id IN (1, 2)")
    ws.conn.execute("UPDATE journal SET state = 'accepted' WHERE device_id = 3")
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.counts == {"accepted": 10}
    assert summary.possibly_duplicated == 2
    assert "t2" not in fake.received and len(fake.received) == 9  # t2 (id 3) never re-sent
    assert recover_in_flight(ws, campaign.id) == 0


def test_notification_ids_are_uuids() -> None:
    assert uuid.UUID(notification_id("C1", "shop", "t1")).version == 5


async def test_throttle_spaces_send_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from pushdeck.core.campaigns import dispatch

    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))

    monkeypatch.setattr(dispatch.time, "monotonic", lambda: 100.0)
    monkeypatch.setattr(dispatch.asyncio, "sleep", fake_sleep)
    throttle = dispatch._Throttle(600)  # one start every 0.1 s
    for _ in range(4):
        await throttle.wait()
    assert slept == [0.1, 0.2, 0.3]  # the first goes at once; each later one has its own slot
    unlimited = dispatch._Throttle(0)
    await unlimited.wait()
    assert slept == [0.1, 0.2, 0.3]


async def test_unexpected_provider_error_is_recorded_not_lost(ws: Workspace) -> None:
    add_devices(ws, [{"token": "boom"}, {"token": "ok"}])
    make_campaign(ws)
    fake = FakeProvider(script={"boom": [ValueError("bug in a provider")]})  # type: ignore[list-item]
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.status == "sent"
    assert summary.counts == {"accepted": 1, "rejected": 1}
    reasons = [r["reason"] for r in journal_rows(ws, 1) if r["state"] == "rejected"]
    assert reasons == ["Internal error: ValueError('bug in a provider')"]


async def test_a_second_sender_is_refused_while_the_first_is_alive(ws: Workspace) -> None:
    if ws.dialect.is_postgres:
        pytest.skip("a shared workspace has several senders (claims): tests/core/test_workers.py")
    import json as _json
    import os
    import socket
    import time as _time

    add_devices(ws, [{"token": "t1"}])
    make_campaign(ws)
    campaign = get_campaign(ws, "C1")
    live = {"token": "x", "pid": os.getpid(), "host": socket.gethostname(), "at": _time.time()}
    key = f"campaign_sender:{campaign.id}"
    ws.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, _json.dumps(live)))
    fake = FakeProvider()
    with pytest.raises(ConfigError, match="being sent by another Pushdeck process"):
        await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert not fake.received
    # A lease left by a killed process (no such pid) is taken over.
    dead = {**live, "pid": 2**22 + 4321}
    ws.conn.execute("UPDATE meta SET value = ? WHERE key = ?", (_json.dumps(dead), key))
    summary = await send_campaign_async(ws, "C1", providers={ProviderKind.APNS: fake}, options=FAST)
    assert summary.counts == {"accepted": 1}
    assert ws.scalar("SELECT count(*) FROM meta WHERE key = ?", (key,)) == 0  # released


async def test_a_local_time_run_leaves_waiting_devices_scheduled_for_the_next_run_due(
    ws: Workspace,
) -> None:
    add_devices(ws, [{"token": f"p{i}", "timezone": "Europe/Paris"} for i in range(3)])
    add_devices(ws, [{"token": f"t{i}", "timezone": "Asia/Tokyo"} for i in range(3)])
    make_campaign(ws)
    unavailable = result(
        SendStatus.REJECTED, http_status=503, reason="ServiceUnavailable", retryable=True
    )
    fake = FakeProvider(script={"p0": [unavailable, unavailable, result(SendStatus.ACCEPTED)]})
    options = DispatchOptions(backoff_base=0.001, flush_interval=0.01, max_attempts=2)
    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: fake}, options=options, timezones={"Europe/Paris"}
    )
    # Paris is due: two sent, one waits on its provider; Tokyo's turn has not come.
    assert summary.status == "scheduled" and summary.counts == {"accepted": 2, "queued": 4}
    assert "1 device got only temporary failures" in summary.error
    summary = await send_campaign_async(
        ws, "C1", providers={ProviderKind.APNS: fake}, options=options, timezones={"Europe/Paris"}
    )
    assert summary.counts == {"accepted": 3, "queued": 3} and summary.error == ""
