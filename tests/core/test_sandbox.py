"""The sandbox provider and its engagement simulation: realistic, deterministic."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import (
    Device,
    EngagementKind,
    Message,
    Platform,
    ProviderKind,
    SendResult,
    SendStatus,
    WebPushSubscription,
)
from pushdeck.core.providers.base import create_provider
from pushdeck.core.providers.credentials import SandboxCredential
from pushdeck.core.providers.sandbox import (
    SandboxProvider,
    SentNotification,
    simulate_engagement,
)

MESSAGE = Message(title="Hi", body="Sandbox")
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SLEPT: list[float] = []


async def fake_sleep(seconds: float) -> None:
    SLEPT.append(seconds)


def provider(**changes: object) -> SandboxProvider:
    cred = replace(SandboxCredential(latency_ms=0, failure_rate=0, dead_rate=0), **changes)  # type: ignore[arg-type]
    return SandboxProvider(cred, sleep=fake_sleep)


def device(token: str, platform: Platform = Platform.WEB) -> Device:
    sub = WebPushSubscription("https://push.example/" + token, "x", "y")
    return Device(
        "demo",
        platform,
        ProviderKind.SANDBOX,
        token,
        subscription=sub if platform is Platform.WEB else None,
    )


async def send_all(p: SandboxProvider, n: int, nid: str = "n1") -> list[SendResult]:
    return [await p.send(MESSAGE, device(f"tok{i}"), notification_id=nid) for i in range(n)]


async def test_clean_sandbox_accepts_everything_with_stable_ids() -> None:
    results = await send_all(provider(), 50)
    assert all(
        r.status is SendStatus.ACCEPTED and r.provider_id.startswith("sandbox-") for r in results
    )
    again = await send_all(provider(), 50)
    assert [r.provider_id for r in again] == [r.provider_id for r in results]


async def test_registry_and_check() -> None:
    p = create_provider(SandboxCredential(latency_ms=0))
    assert isinstance(p, SandboxProvider)
    assert (await p.check()).ok
    assert not (await provider(failure_rate=1.5).check()).ok
    await p.aclose()


async def test_rates_are_roughly_honoured_and_reproducible() -> None:
    p = provider(failure_rate=0.2, dead_rate=0.1, seed=7)
    results = await send_all(p, 2000)
    counts = Counter(r.status for r in results)
    assert 120 < counts[SendStatus.TOKEN_DEAD] < 280
    rejected = [r for r in results if r.status is SendStatus.REJECTED]
    assert 250 < len(rejected) < 450
    retryable = sum(r.retryable for r in rejected)
    assert 0.6 < retryable / len(rejected) < 0.9
    # Scattered transient failures carry no service-wide Retry-After (see _unavailable).
    assert all(r.http_status == 503 and r.retry_after is None for r in rejected if r.retryable)
    replay = await send_all(provider(failure_rate=0.2, dead_rate=0.1, seed=7), 2000)
    assert [r.status for r in replay] == [r.status for r in results]
    other_seed = await send_all(provider(failure_rate=0.2, dead_rate=0.1, seed=8), 2000)
    assert [r.status for r in other_seed] != [r.status for r in results]


async def test_dead_tokens_stay_dead_and_retries_usually_succeed() -> None:
    p = provider(failure_rate=0.5, dead_rate=0.2, seed=3)
    first = await send_all(p, 300)
    dead = {i for i, r in enumerate(first) if r.status is SendStatus.TOKEN_DEAD}
    later = await send_all(p, 300, nid="n2")
    assert {i for i, r in enumerate(later) if r.status is SendStatus.TOKEN_DEAD} == dead
    retry_ok = 0
    for i, r in enumerate(first):
        if r.retryable:
            retry = await p.send(MESSAGE, device(f"tok{i}"), notification_id="n1")
            retry_ok += retry.accepted
    assert retry_ok > 0  # a retry is a new attempt, not a replay of the failure


async def test_platform_specific_answers_and_demo_tokens() -> None:
    p = provider()
    ios = await p.send(MESSAGE, device("dead-1", Platform.IOS))
    assert (ios.status, ios.http_status, ios.reason) == (SendStatus.TOKEN_DEAD, 410, "Unregistered")
    assert ios.token_dead_since is not None
    android = await p.send(MESSAGE, device("dead-2", Platform.ANDROID))
    assert (android.http_status, android.reason) == (404, "UNREGISTERED")
    web = await p.send(MESSAGE, device("fail-1"))
    assert (web.status, web.retryable, web.reason) == (SendStatus.REJECTED, False, "BadRequest")
    assert "simulated" in web.explanation


async def test_budget_is_enforced_with_the_real_builders() -> None:
    with pytest.raises(PayloadError, match="Web Push"):
        await provider().send(replace(MESSAGE, body="x" * 5000), device("t"))
    with pytest.raises(PayloadError):
        await provider().send(replace(MESSAGE, body="x" * 5000), device("t", Platform.IOS))


async def test_latency_is_simulated_through_the_injected_sleep() -> None:
    SLEPT.clear()
    await send_all(provider(latency_ms=20), 200)
    assert len(SLEPT) == 200 and all(s > 0 for s in SLEPT)
    median = sorted(SLEPT)[100]
    assert 0.012 < median < 0.03


# -- engagement ----------------------------------------------------------------------
def sends(n: int, variant: str = "", actions: tuple[str, ...] = ()) -> list[SentNotification]:
    ok = SendResult(SendStatus.ACCEPTED, ProviderKind.SANDBOX, 200)
    return [
        SentNotification("spring", f"d{variant}{i}", T0, ok, variant, actions) for i in range(n)
    ]


def test_engagement_funnel_and_timing() -> None:
    events = simulate_engagement(sends(4000), open_rate=0.2, now=T0 + timedelta(days=3))
    kinds = Counter(e.kind for e in events)
    assert 0.93 < kinds[EngagementKind.DELIVERED] / 4000 < 0.97
    assert 0.17 < kinds[EngagementKind.OPENED] / kinds[EngagementKind.DELIVERED] < 0.23
    assert kinds[EngagementKind.DISMISSED] > 0
    opens = [e.at - T0 for e in events if e.kind is EngagementKind.OPENED]
    assert all(timedelta(0) < d <= timedelta(hours=96) for d in opens)
    within_hour = sum(d <= timedelta(hours=1) for d in opens) / len(opens)
    assert 0.5 < within_hour < 0.95  # most early, a tail over the following hours
    assert any(d > timedelta(hours=3) for d in opens)
    assert events == sorted(events, key=lambda e: (e.at, e.event_id))
    assert len({e.event_id for e in events}) == len(events)


def test_engagement_is_deterministic_and_grows_with_now() -> None:
    early = simulate_engagement(sends(500), open_rate=0.3, now=T0 + timedelta(minutes=30), seed=1)
    late = simulate_engagement(sends(500), open_rate=0.3, now=T0 + timedelta(days=3), seed=1)
    assert early == simulate_engagement(
        sends(500), open_rate=0.3, now=T0 + timedelta(minutes=30), seed=1
    )
    assert set(early) < set(late)
    assert simulate_engagement(sends(500), open_rate=0.3, now=T0, seed=2) != early
    assert all(e.at <= T0 + timedelta(minutes=30) for e in early)


def test_actions_variants_and_only_accepted_sends() -> None:
    rates = {"A": 0.1, "B": 0.4}
    events = simulate_engagement(
        sends(1500, "A", ("buy", "later")) + sends(1500, "B", ("buy", "later")),
        open_rate=rates,
        now=T0 + timedelta(days=3),
    )
    engaged = Counter(
        e.variant for e in events if e.kind in (EngagementKind.OPENED, EngagementKind.ACTION)
    )
    assert engaged["B"] > 2.5 * engaged["A"]
    actions = [e for e in events if e.kind is EngagementKind.ACTION]
    assert actions and {e.action_id for e in actions} == {"buy", "later"}
    rejected = SendResult(SendStatus.REJECTED, ProviderKind.SANDBOX, 503)
    dead = [replace(s, result=rejected) for s in sends(100)]
    assert simulate_engagement(dead, open_rate=1.0, now=T0 + timedelta(days=3)) == []


async def test_android_budget_is_enforced_by_the_fcm_builder() -> None:
    ok = await provider().send(MESSAGE, device("a1", Platform.ANDROID))
    assert ok.accepted and ok.raw["bytes"] > 0
    with pytest.raises(PayloadError):
        await provider().send(replace(MESSAGE, body="x" * 5000), device("a1", Platform.ANDROID))
