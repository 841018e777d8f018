"""Web Push payload builder and the payload facade."""

from __future__ import annotations

import json

import pytest

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Action, Message, Priority
from pushdeck.core.messages.payloads import (
    WEBPUSH_LIMIT,
    PayloadPreview,
    build_webpush,
    preview_payloads,
)


def test_full_message_maps_to_service_worker_json() -> None:
    message = Message(
        title="Sale",
        body="50% off today",
        image_url="https://cdn.example.com/hero.png",
        url="https://shop.example.com/sale",
        web_icon="https://cdn.example.com/icon.png",
        web_badge="https://cdn.example.com/badge.png",
        web_require_interaction=True,
        web_tag="sale",
        actions=(
            Action("buy", "Buy now", icon="https://cdn.example.com/buy.png"),
            Action("later", "Later"),
        ),
        data={"campaign": "spring-sale", "sku": 42},
    )
    request = build_webpush(message)
    assert request.notification == {
        "title": "Sale",
        "body": "50% off today",
        "icon": "https://cdn.example.com/icon.png",
        "badge": "https://cdn.example.com/badge.png",
        "image": "https://cdn.example.com/hero.png",
        "tag": "sale",
        "requireInteraction": True,
        "actions": [
            {"action": "buy", "title": "Buy now", "icon": "https://cdn.example.com/buy.png"},
            {"action": "later", "title": "Later"},
        ],
        "data": {"campaign": "spring-sale", "sku": 42, "url": "https://shop.example.com/sale"},
    }
    assert json.loads(request.body) == request.notification
    assert request.budget.size == len(request.body)


def test_unset_fields_are_omitted_and_unicode_is_not_escaped() -> None:
    request = build_webpush(Message(title="Grüße 🎉"))
    assert request.body == '{"title":"Grüße 🎉"}'.encode()


@pytest.mark.parametrize(
    ("priority", "urgency"),
    [(Priority.HIGH, "high"), (Priority.NORMAL, "normal"), (Priority.LOW, "low")],
)
def test_headers_ttl_urgency_topic(priority: Priority, urgency: str) -> None:
    message = Message(title="t", priority=priority, ttl_seconds=60, collapse_id="order-12_a")
    assert build_webpush(message).headers == {
        "TTL": "60",
        "Urgency": urgency,
        "Topic": "order-12_a",
    }


def test_default_ttl_is_always_sent_and_topic_only_when_set() -> None:
    headers = build_webpush(Message(title="t")).headers
    assert headers["TTL"] == "2419200"
    assert "Topic" not in headers


@pytest.mark.parametrize("topic", ["has space", "x" * 33, "dot.ted", "ümlaut"])
def test_invalid_topic_is_a_payload_error_naming_the_field(topic: str) -> None:
    with pytest.raises(PayloadError, match="collapse_id"):
        build_webpush(Message(title="t", collapse_id=topic))


def test_negative_ttl_is_refused() -> None:
    with pytest.raises(PayloadError, match="ttl_seconds"):
        build_webpush(Message(title="t", ttl_seconds=-1))


def test_budget_exact_limit_fits_and_one_more_byte_fails() -> None:
    overhead = len(build_webpush(Message(title="t", body="")).body)
    # '{"title":"t","body":"…"}' adds 10 bytes of key and quotes for the body.
    fits = Message(title="t", body="a" * (WEBPUSH_LIMIT - overhead - 10))
    assert len(build_webpush(fits).body) == WEBPUSH_LIMIT
    over = Message(title="t", body="a" * (WEBPUSH_LIMIT - overhead - 9))
    with pytest.raises(PayloadError, match=r"3994 bytes; the limit is 3993.*body"):
        build_webpush(over)


def test_preview_payloads_never_raises_and_reports_errors() -> None:
    previews = preview_payloads(Message(title="t", body="b" * 5000))
    assert set(previews) == {"ios", "android", "web"}
    web = previews["web"]
    assert isinstance(web, PayloadPreview)
    assert not web.ok and "3993" in web.error and web.limit == WEBPUSH_LIMIT
    assert all(not p.ok for p in previews.values())


def test_preview_web_is_pretty_json_with_compact_size() -> None:
    web = preview_payloads(Message(title="Hello", body="World"))["web"]
    assert web.ok
    assert json.loads(web.text) == {"title": "Hello", "body": "World"}
    assert "\n" in web.text
    assert web.size == len(b'{"title":"Hello","body":"World"}')


def test_preview_ios_uses_the_apns_builder() -> None:
    previews = preview_payloads(Message(title="Hello", body="World"), topic="com.acme.app")
    ios = previews["ios"]
    assert ios.ok, ios.error
    assert json.loads(ios.text)["aps"]["alert"] == {"title": "Hello", "body": "World"}
    assert ios.limit == 4096 and ios.size > 0


def test_preview_android_uses_the_fcm_builder() -> None:
    android = preview_payloads(Message(title="Hello", data={"k": 1}))["android"]
    assert android.ok, android.error
    payload = json.loads(android.text)
    assert payload["message"]["notification"]["title"] == "Hello"
    assert android.limit == 4096 and android.size > 0
