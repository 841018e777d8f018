"""The pure APNs builder: payload keys, headers consistent with the push type, budgets."""

from __future__ import annotations

import json

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import (
    InterruptionLevel,
    LiveActivityEvent,
    Message,
    Priority,
    PushType,
)
from pushdeck.core.messages.payloads.apns import build_apns

TOPIC = "com.example.app"
NOW = 1_700_000_000.0


def build(message: Message, **kw: str):  # type: ignore[no-untyped-def]
    return build_apns(message, topic=TOPIC, now=NOW, **kw)


def test_full_alert_has_every_aps_key_and_custom_data_at_top_level() -> None:
    message = Message(
        title="T", subtitle="S", body="B", badge=0, sound="ping.caf", thread_id="chat-1",
        category="REPLY", mutable_content=True, interruption_level=InterruptionLevel.TIME_SENSITIVE,
        relevance_score=0.5, title_loc_key="TK", title_loc_args=("a",), body_loc_key="BK",
        body_loc_args=("b", "c"), url="myapp://open/1", data={"order": {"id": 7}},
    )  # fmt: skip
    request = build(message)
    assert request.payload == {
        "aps": {
            "alert": {
                "title": "T", "subtitle": "S", "body": "B", "title-loc-key": "TK",
                "title-loc-args": ["a"], "loc-key": "BK", "loc-args": ["b", "c"],
            },
            "badge": 0, "sound": "ping.caf", "thread-id": "chat-1", "category": "REPLY",
            "mutable-content": 1, "interruption-level": "time-sensitive", "relevance-score": 0.5,
        },
        "url": "myapp://open/1",
        "order": {"id": 7},
    }  # fmt: skip
    assert json.loads(request.body) == request.payload
    assert request.body == json.dumps(request.payload, separators=(",", ":")).encode()


def test_alert_headers() -> None:
    nid = "3F2504E0-4F89-11D3-9A0C-0305E82C3301"
    message = Message(title="x", ttl_seconds=3600, collapse_id="score")
    headers = build(message, notification_id=nid).headers
    assert headers == {
        "apns-push-type": "alert",
        "apns-topic": TOPIC,
        "apns-priority": "10",
        "apns-expiration": str(int(NOW) + 3600),
        "apns-collapse-id": "score",
        "apns-id": nid.lower(),
    }


@pytest.mark.parametrize(
    ("priority", "expected"), [(Priority.HIGH, "10"), (Priority.NORMAL, "5"), (Priority.LOW, "1")]
)
def test_priority_mapping(priority: Priority, expected: str) -> None:
    assert build(Message(body="x", priority=priority)).headers["apns-priority"] == expected


def test_silent_update_becomes_background_with_priority_5() -> None:
    request = build(Message(content_available=True, data={"sync": True}))
    assert request.push_type is PushType.BACKGROUND
    assert request.headers["apns-priority"] == "5"
    assert request.payload == {"aps": {"content-available": 1}, "sync": True}


@pytest.mark.parametrize(
    ("push_type", "topic"),
    [
        (PushType.VOIP, TOPIC + ".voip"),
        (PushType.COMPLICATION, TOPIC + ".complication"),
        (PushType.FILEPROVIDER, TOPIC + ".pushkit.fileprovider"),
        (PushType.LIVEACTIVITY, TOPIC + ".push-type.liveactivity"),
        (PushType.LOCATION, TOPIC + ".location-query"),
        (PushType.PUSHTOTALK, TOPIC + ".voip-ptt"),
        (PushType.MDM, TOPIC),
    ],
)
def test_topic_suffix_follows_push_type(push_type: PushType, topic: str) -> None:
    message = Message(body="x", push_type=push_type)
    if push_type is PushType.LIVEACTIVITY:  # a Live Activity is an event with its state
        message = Message(
            push_type=push_type, live_activity_event=LiveActivityEvent.UPDATE,
            content_state={"eta": 5},
        )  # fmt: skip
    request = build(message)
    assert request.headers["apns-topic"] == topic
    assert request.headers["apns-push-type"] == push_type.value


def test_critical_sound_uses_the_dict_form() -> None:
    message = Message(body="x", sound="alarm.caf", critical_sound=True, critical_volume=0.8)
    aps = build(message).payload["aps"]
    assert aps["sound"] == {"critical": 1, "name": "alarm.caf", "volume": 0.8}


def test_ttl_zero_means_deliver_now_or_never() -> None:
    assert build(Message(body="x", ttl_seconds=0)).headers["apns-expiration"] == "0"


def test_non_uuid_notification_id_is_not_sent_as_apns_id() -> None:
    assert "apns-id" not in build(Message(body="x"), notification_id="campaign-7/device-9").headers


def test_voip_may_use_5120_bytes_but_alerts_only_4096() -> None:
    big = {"blob": "x" * 4500}
    assert len(build(Message(body="x", push_type=PushType.VOIP, data=big)).body) > 4096
    with pytest.raises(PayloadError, match=r"APNs payload is \d+ bytes; the limit is 4096.*blob"):
        build(Message(body="x", data=big))


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Message(), "body"),
        (Message(title="x", push_type=PushType.BACKGROUND, content_available=True), "push_type"),
        (Message(push_type=PushType.BACKGROUND), "push_type"),
        (Message(body="x", collapse_id="c" * 65), "collapse_id"),
        (Message(body="x", collapse_id="a\r\nb"), "collapse_id"),
        (Message(body="x", badge=-1), "badge"),
        (Message(body="x", critical_sound=True, critical_volume=2.0), "critical_volume"),
        (Message(body="x", relevance_score=3.0), "relevance_score"),
        (Message(body="x", ttl_seconds=-5), "ttl_seconds"),
        (Message(body="x", data={"aps": {}}), "data.aps"),
    ],
)
def test_impossible_messages_are_rejected_naming_the_field(message: Message, field: str) -> None:
    with pytest.raises(PayloadError, match=rf"\(field: {field}\)"):
        build(message)


def test_missing_topic_is_rejected() -> None:
    with pytest.raises(PayloadError, match="topic"):
        build_apns(Message(body="x"), topic="")
