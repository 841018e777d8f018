"""The pure FCM v1 builder: message blocks, stringified data, budgets, rejections."""

from __future__ import annotations

import json

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Action, AndroidVisibility, Message, Priority
from pushdeck.core.messages.payloads.fcm import build_fcm

TOKEN = "tok:en-123"


def test_full_message_fills_every_block() -> None:
    message = Message(
        title="T", body="B", image_url="https://img/x.png", url="https://shop.example/deal",
        sound="default", badge=4, category="OPEN_DEAL", collapse_id="deal", ttl_seconds=600,
        priority=Priority.NORMAL, android_channel_id="deals", android_icon="ic_stat",
        android_color="#FF8800", android_visibility=AndroidVisibility.PUBLIC, android_tag="d1",
        web_icon="https://img/i.png", web_badge="https://img/b.png", web_require_interaction=True,
        web_tag="w1", actions=(Action("buy", "Buy now"),), data={"id": 7, "ok": True, "s": "x"},
    )  # fmt: skip
    fcm = build_fcm(message, TOKEN).payload["message"]
    assert fcm["token"] == TOKEN
    assert fcm["notification"] == {"title": "T", "body": "B", "image": "https://img/x.png"}
    assert fcm["data"] == {"id": "7", "ok": "true", "s": "x", "url": "https://shop.example/deal"}
    assert fcm["android"] == {
        "priority": "NORMAL", "ttl": "600s", "collapse_key": "deal",
        "notification": {
            "channel_id": "deals", "icon": "ic_stat", "color": "#FF8800", "tag": "d1",
            "click_action": "OPEN_DEAL", "image": "https://img/x.png", "sound": "default",
            "visibility": "PUBLIC", "notification_count": 4,
        },
    }  # fmt: skip
    assert fcm["apns"]["headers"]["apns-priority"] == "5"
    assert fcm["apns"]["headers"]["apns-collapse-id"] == "deal"
    # Title and body travel once, in the common notification; FCM copies them for iOS.
    assert fcm["apns"]["payload"] == {
        "aps": {"badge": 4, "sound": "default", "category": "OPEN_DEAL", "mutable-content": 1},
        "image_url": "https://img/x.png",
    }  # fmt: skip
    assert fcm["apns"]["fcm_options"] == {"image": "https://img/x.png"}
    assert fcm["webpush"] == {
        "headers": {"Urgency": "normal", "TTL": "600", "Topic": "deal"},
        "notification": {
            "icon": "https://img/i.png", "image": "https://img/x.png",
            "badge": "https://img/b.png", "tag": "w1", "requireInteraction": True,
            "actions": [{"action": "buy", "title": "Buy now"}],
        },
        "fcm_options": {"link": "https://shop.example/deal"},
    }  # fmt: skip


def test_body_bytes_match_body_and_validate_only_is_set() -> None:
    request = build_fcm(Message(body="x"), TOKEN, validate_only=True)
    assert json.loads(request.body) == request.payload and request.payload["validate_only"] is True


def test_data_only_message_has_no_notification_and_no_apns_block() -> None:
    fcm = build_fcm(Message(data={"sync": "1"}), TOKEN).payload["message"]
    assert "notification" not in fcm and "apns" not in fcm
    assert "notification" not in fcm["android"] and "notification" not in fcm["webpush"]


def test_silent_ios_update_is_background_in_the_apns_block() -> None:
    fcm = build_fcm(Message(content_available=True), TOKEN).payload["message"]
    assert fcm["apns"]["headers"]["apns-push-type"] == "background"
    assert fcm["apns"]["payload"] == {"aps": {"content-available": 1}}


def test_over_budget_names_the_biggest_field() -> None:
    with pytest.raises(PayloadError, match=r"FCM payload is \d+ bytes; the limit is 4096.*data"):
        build_fcm(Message(body="x", data={"blob": "y" * 4100}), TOKEN)


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (Message(body="x", data={"from": "me"}), "data.from"),
        (Message(body="x", data={"google.x": "1"}), "data.google.x"),
        (Message(body="x", android_color="orange"), "android_color"),
        (Message(body="x", ttl_seconds=2_419_201), "ttl_seconds"),
        (Message(body="x", collapse_id="has spaces"), "collapse_id"),
    ],
)
def test_impossible_messages_are_rejected_naming_the_field(message: Message, field: str) -> None:
    with pytest.raises(PayloadError, match=rf"field: {field}\)"):
        build_fcm(message, TOKEN)


def test_missing_token_is_rejected() -> None:
    with pytest.raises(PayloadError, match="token"):
        build_fcm(Message(body="x"), "")
