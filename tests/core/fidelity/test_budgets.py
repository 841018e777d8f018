"""Budgets measured the way each provider measures them, and title/body sent once."""

from __future__ import annotations

import json

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
from pushdeck.core.messages.payloads import build_fcm, preview_payloads
from pushdeck.core.messages.payloads.budget import fcm_android_payload, fcm_apns_payload
from pushdeck.core.messages.payloads.fcm import FcmRequest
from tests.core.fidelity.conftest import FCM_TOKEN

LONG = "Your order is on its way. " * 135  # 3,510 bytes


def test_a_3500_byte_android_body_fits_the_builder() -> None:
    message = Message(title="Shipping update", body=LONG, data={"order": "1234"})
    assert len(LONG.encode()) > 3500
    request = build_fcm(message, FCM_TOKEN)
    assert request.budget is not None and 3500 < request.budget.size <= 4096
    assert len(request.body) > request.budget.size  # the request is bigger; it does not count
    fcm = request.payload["message"]
    # The body travels once: FCM copies the common notification into iOS and web forms.
    assert request.body.count(b"Your order is on its way.") == 135
    assert "alert" not in fcm["apns"]["payload"]["aps"]
    assert "notification" not in fcm["webpush"]


def test_what_each_platform_receives_is_counted_and_limited() -> None:
    fcm = build_fcm(Message(title="T", body="B", data={"k": "v"}), FCM_TOKEN).payload["message"]
    assert fcm_android_payload(fcm) == {
        "notification": {"title": "T", "body": "B"},
        "data": {"k": "v"},
    }
    assert fcm_apns_payload(fcm) == {"aps": {"alert": {"title": "T", "body": "B"}}, "k": "v"}
    # iOS through FCM still has APNs' own 4096 bytes: subtitle + a long body is too much.
    with pytest.raises(PayloadError, match=r"FCM → APNs payload is \d+ bytes"):
        build_fcm(Message(title="T", body=LONG, subtitle="s" * 700), FCM_TOKEN)
    # And FCM's own limit still holds.
    with pytest.raises(PayloadError, match=r"The FCM payload is \d+ bytes; the limit is 4096"):
        build_fcm(Message(body=LONG, data={"extra": "x" * 700}), FCM_TOKEN)


def test_overrides_that_differ_stay_in_their_block() -> None:
    fcm = build_fcm(Message(title="T", body="B", web_icon="https://i/x.png"), FCM_TOKEN)
    web = fcm.payload["message"]["webpush"]
    assert web["notification"] == {"icon": "https://i/x.png"}


def test_composer_meter_shows_the_counted_size() -> None:
    previews = preview_payloads(Message(title="Shipping update", body=LONG))
    android = previews["android"]
    assert android.ok and 3500 < android.size <= android.limit == 4096
    assert android.size < len(json.dumps(json.loads(android.text), separators=(",", ":")))
    assert previews["ios"].ok and previews["web"].ok


async def test_fake_fcm_accepts_the_long_body_and_refuses_what_fcm_refuses(fcm, fake_fcm) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.ANDROID, ProviderKind.FCM, FCM_TOKEN)
    message = Message(title="Shipping update", body=LONG, data={"tracking": "x" * 380})
    request = build_fcm(message, FCM_TOKEN)
    # The request is over 4096 bytes; the payload FCM counts is not.
    assert request.budget is not None and request.budget.size <= 4096 < len(request.body)
    result = await fcm.send(message, device)
    assert result.accepted, result
    ((_, delivered),) = fake_fcm.delivered
    assert delivered["notification"]["body"] == LONG
    # A hand-written body over FCM's count is refused by the fake, as by FCM.
    body = {"message": {"token": FCM_TOKEN, "data": {"blob": "x" * 4100}}}
    raw = FcmRequest(body, json.dumps(body).encode())
    refused = await fcm.send_request(raw)
    assert refused.reason == "INVALID_ARGUMENT" and "too big" in refused.explanation
