"""Sound per platform and the per-platform fields firebase-admin and APNs can express,
carried by the campaign file's JSON form."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.errors import PayloadError, ValidationError
from pushdeck.core.common.model import (
    AndroidNotificationPriority,
    AndroidVisibility,
    Device,
    Message,
    Platform,
    ProviderKind,
)
from pushdeck.core.messages.json_form import message_from_dict, message_to_dict
from pushdeck.core.messages.payloads import build_apns, build_fcm, build_webpush
from pushdeck.core.messages.payloads.fcm import FcmRequest
from tests.core.fidelity.conftest import APNS_TOKEN, FCM_TOKEN, TOPIC

FULL = Message(
    title="Order shipped",
    body="It arrives Tuesday",
    ios_title="📦 Shipped",
    android_title="Shipped (Android)",
    android_body="Track it in the app",
    web_body="Track it on the site",
    sound="chime.caf",
    android_sound="chime",
    analytics_label="order-shipped_v2",
    android_notification_priority=AndroidNotificationPriority.HIGH,
    android_visibility=AndroidVisibility.PRIVATE,
    android_sticky=True,
    android_event_time="2026-05-01T11:30:00+02:00",
    android_bandwidth_constrained_ok=True,
    target_content_id="order-1234",
    filter_criteria="work",
)


def fcm_of(message: Message) -> dict[str, Any]:
    return dict(build_fcm(message, FCM_TOKEN).payload["message"])


def test_sound_is_per_platform() -> None:
    ios_file = Message(title="x", sound="chime.caf")
    assert build_apns(ios_file, topic=TOPIC).payload["aps"]["sound"] == "chime.caf"
    assert "sound" not in fcm_of(ios_file)["android"].get("notification", {})  # .caf: iOS only
    both = Message(title="x", sound="chime.caf", android_sound="chime")
    assert fcm_of(both)["android"]["notification"]["sound"] == "chime"
    default = Message(title="x", sound="default")
    assert fcm_of(default)["android"]["notification"]["sound"] == "default"
    android_only = Message(title="x", android_sound="ding")
    assert "sound" not in build_apns(android_only, topic=TOPIC).payload["aps"]


def test_per_platform_text() -> None:
    aps = build_apns(FULL, topic=TOPIC).payload["aps"]
    assert aps["alert"] == {"title": "📦 Shipped", "body": "It arrives Tuesday"}
    assert aps["target-content-id"] == "order-1234" and aps["filter-criteria"] == "work"
    fcm = fcm_of(FULL)
    assert fcm["notification"] == {"title": "Order shipped", "body": "It arrives Tuesday"}
    android = fcm["android"]["notification"]
    assert (android["title"], android["body"]) == ("Shipped (Android)", "Track it in the app")
    assert fcm["apns"]["payload"]["aps"]["alert"] == {"title": "📦 Shipped"}  # only what differs
    assert fcm["webpush"]["notification"] == {"body": "Track it on the site"}
    web = build_webpush(FULL).notification
    assert (web["title"], web["body"]) == ("Order shipped", "Track it on the site")


def test_firebase_admin_fields() -> None:
    fcm = fcm_of(FULL)
    assert fcm["fcm_options"] == {"analytics_label": "order-shipped_v2"}
    assert fcm["android"]["bandwidth_constrained_ok"] is True
    android = fcm["android"]["notification"]
    assert android["notification_priority"] == "PRIORITY_HIGH"
    assert android["visibility"] == "PRIVATE" and android["sticky"] is True
    assert android["event_time"] == "2026-05-01T09:30:00.000000Z"  # RFC 3339, UTC


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"analytics_label": "has space"}, "analytics_label"),
        ({"analytics_label": "x" * 51}, "analytics_label"),
        ({"android_event_time": "yesterday"}, "android_event_time"),
        ({"android_event_time": "2026-05-01T09:30:00"}, "android_event_time"),  # no offset
    ],
)
def test_bad_values_are_refused_naming_the_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadError, match=rf"\(field: {field}\)"):
        build_fcm(Message(title="x", **changes), FCM_TOKEN)


def test_text_for_other_platforms_only_is_refused_for_ios() -> None:
    with pytest.raises(PayloadError, match=r"\(field: ios_title\)"):
        build_apns(Message(android_title="Android only"), topic=TOPIC)


def test_the_campaign_file_carries_every_field() -> None:
    doc = message_to_dict(FULL)
    assert doc["android_notification_priority"] == "high" and doc["android_sticky"] is True
    assert json.loads(json.dumps(doc)) == doc
    assert message_from_dict(doc) == FULL
    spec = spec_from_dict({"name": "n", "app": "shop", "audience": {"all": True}, "message": doc})
    assert spec.message == FULL
    with pytest.raises(ValidationError, match="android_notification_priority"):
        message_from_dict({"android_notification_priority": "urgent"})
    with pytest.raises(ValidationError, match="android_sticky must be true or false"):
        message_from_dict({"android_sticky": "yes"})


async def test_fake_fcm_accepts_them_and_refuses_bad_ones(fcm, fake_fcm) -> None:  # type: ignore[no-untyped-def]
    device = Device("shop", Platform.ANDROID, ProviderKind.FCM, FCM_TOKEN)
    result = await fcm.send(FULL, device)
    assert result.accepted, result
    ((_, delivered),) = fake_fcm.delivered
    assert delivered["android"]["notification"]["notification_priority"] == "PRIORITY_HIGH"
    bad = {"message": {"token": FCM_TOKEN, "notification": {"title": "x"},
                       "fcm_options": {"analytics_label": "no spaces allowed"}}}  # fmt: skip
    refused = await fcm.send_request(FcmRequest(bad, json.dumps(bad).encode()))
    assert refused.reason == "INVALID_ARGUMENT" and "analytics_label" in refused.explanation


async def test_apns_receives_target_content_id(apns, fake_apns) -> None:  # type: ignore[no-untyped-def]
    assert (
        await apns.send(FULL, Device("shop", Platform.IOS, ProviderKind.APNS, APNS_TOKEN))
    ).accepted
    (payload,) = fake_apns.payloads
    assert payload["aps"]["target-content-id"] == "order-1234"
