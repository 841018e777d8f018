"""Priorities that do not get an app penalised, and lint that agrees with the builders."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import (
    Device,
    LiveActivityEvent,
    Message,
    Platform,
    Priority,
    ProviderKind,
    PushType,
)
from pushdeck.core.messages.payloads import Severity, build_apns, build_fcm, build_webpush, lint
from pushdeck.core.messages.payloads.apns import ApnsRequest, build_headers
from tests.core.fidelity.conftest import APNS_TOKEN, FCM_TOKEN, TOPIC, web_device

ALERT = Message(title="Order shipped")
DATA_ONLY = Message(data={"sync": "1"})
BACKGROUND = Message(content_available=True, data={"sync": "1"})
LIVE = Message(live_activity_event=LiveActivityEvent.UPDATE, content_state={"score": "2-1"})


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ALERT, "10"),
        (Message(title="x", priority=Priority.NORMAL), "5"),
        (Message(title="x", priority=Priority.LOW), "1"),
        (Message(title="x", priority=Priority.VERY_LOW), "1"),
        (BACKGROUND, "5"),
        (Message(content_available=True, priority=Priority.HIGH), "5"),  # Apple's rule wins
        (LIVE, "10"),
        (replace(LIVE, priority=Priority.LOW), "5"),
        (Message(push_type=PushType.LOCATION, priority=Priority.VERY_LOW), "5"),
    ],
)
def test_apns_priority(message: Message, expected: str) -> None:
    assert build_apns(message, topic=TOPIC).headers["apns-priority"] == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (ALERT, "HIGH"),
        (DATA_ONLY, "NORMAL"),  # Firebase deprioritises high priority that shows nothing
        (BACKGROUND, "NORMAL"),
        (Message(data={"x": "1"}, priority=Priority.HIGH), "HIGH"),  # asked for: honoured
        (Message(title="x", priority=Priority.NORMAL), "NORMAL"),
        (Message(title="x", priority=Priority.VERY_LOW), "NORMAL"),
    ],
)
def test_android_priority(message: Message, expected: str) -> None:
    assert build_fcm(message, FCM_TOKEN).payload["message"]["android"]["priority"] == expected


@pytest.mark.parametrize(
    ("priority", "urgency"),
    [
        (None, "normal"),
        (Priority.HIGH, "high"),
        (Priority.NORMAL, "normal"),
        (Priority.LOW, "low"),
        (Priority.VERY_LOW, "very-low"),
    ],
)
def test_web_push_urgency(priority: Priority | None, urgency: str) -> None:
    message = Message(title="x", priority=priority)
    assert build_webpush(message).headers["Urgency"] == urgency
    fcm_web = build_fcm(message, FCM_TOKEN).payload["message"]["webpush"]
    assert fcm_web["headers"]["Urgency"] == urgency


SAMPLES = [
    ALERT,
    DATA_ONLY,
    BACKGROUND,
    LIVE,
    Message(content_available=True, priority=Priority.HIGH),
    Message(content_available=True, priority=Priority.LOW),
    Message(title="x", priority=Priority.VERY_LOW, ttl_seconds=60),
    Message(push_type=PushType.LOCATION, priority=Priority.LOW),
    Message(push_type=PushType.WIDGETS),
    Message(badge=3),
    Message(sound="default"),
    Message(title="x", push_type=PushType.BACKGROUND, content_available=True),
    Message(title="x", push_type=PushType.CONTROLS),
]


@pytest.mark.parametrize("message", SAMPLES)
def test_lint_blocks_exactly_what_the_apns_builder_refuses(message: Message) -> None:
    errors = [w for w in lint(message) if w.severity is Severity.ERROR]
    try:
        build_apns(message, topic=TOPIC)
    except PayloadError:
        assert errors, "the builder refuses it, so lint must say so"
    else:
        assert errors == [], f"no blocking error for what the builder sends right: {errors}"


def test_background_at_high_priority_is_explained_not_blocked() -> None:
    message = Message(content_available=True, priority=Priority.HIGH)
    (warning,) = [w for w in lint(message) if w.code == "background-high-priority"]
    assert warning.severity is Severity.WARNING and "priority 5" in warning.message


async def test_apns_accepts_what_the_builder_chose(apns, fake_apns) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.IOS, ProviderKind.APNS, APNS_TOKEN)
    live_token = "b2" * 32
    fake_apns.live_activity_tokens.add(live_token)
    background = Message(content_available=True, priority=Priority.HIGH)
    result = await apns.send(background, device)
    assert result.accepted, result
    live = replace(LIVE, priority=Priority.LOW)
    result = await apns.send(live, replace(device, token=live_token))
    assert result.accepted, result
    assert [r.headers["apns-priority"] for r in fake_apns.server.requests] == ["5", "5"]


async def test_fake_apns_refuses_priority_1_for_live_activities(apns, fake_apns) -> None:  # type: ignore[no-untyped-def]
    message = LIVE
    built = build_apns(message, topic=TOPIC)
    headers = {**build_headers(message, PushType.LIVEACTIVITY, TOPIC), "apns-priority": "1"}
    result = await apns.send_request(
        APNS_TOKEN, ApnsRequest(built.payload, built.body, headers, PushType.LIVEACTIVITY)
    )
    assert not result.accepted and result.reason == "BadPriority"


async def test_fcm_receives_normal_priority_for_data_only(fcm, fake_fcm) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.ANDROID, ProviderKind.FCM, FCM_TOKEN)
    assert (await fcm.send(DATA_ONLY, device)).accepted
    assert (await fcm.send(ALERT, device)).accepted
    assert [m["android"]["priority"] for _, m in fake_fcm.delivered] == ["NORMAL", "HIGH"]


async def test_push_service_gets_normal_urgency_unless_asked(webpush, push_service) -> None:  # type: ignore[no-untyped-def]
    device = web_device(push_service.subscribe())
    assert (await webpush.send(ALERT, device)).accepted
    assert (await webpush.send(Message(title="x", priority=Priority.VERY_LOW), device)).accepted
    assert [r.headers["urgency"] for r in push_service.received] == ["normal", "very-low"]
