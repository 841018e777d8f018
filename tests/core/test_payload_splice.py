"""Personalized APNs bodies spliced into a per-message template are byte for byte what
``build_apns`` builds (issue 19), and anything the template cannot vouch for is built in
full (with the builder's own errors)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.templating import Personalizer
from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
from pushdeck.core.messages.payloads.apns import build_apns
from pushdeck.core.messages.payloads.budget import APNS_LIMIT
from pushdeck.core.messages.payloads.splice import body_template
from pushdeck.core.messages.personalized import personalized_from
from pushdeck.core.providers.apns_bodies import ApnsBodies

TOPIC = "com.example.shop"
NID = "5b0d6a47-6f1e-4a37-9a5b-9f3c2d7e0a11"
VALUES: list[Any] = [
    None, "", "Ana", 'quote " back \\ slash', "line\nbreak\ttab\u2028\u0001", "é ✓ 🎉",
    "\ue0000\ue001", 7, "x" * 3000,
]  # fmt: skip
MESSAGES: list[dict[str, Any]] = [
    {"title": "Hi {{ first_name }}", "body": "Sale {{ city | default: 'near you' }}"},
    {
        "title": "{{ first_name }}", "subtitle": "{{ city }}", "body": "fixed",
        "url": "https://x.example/{{ first_name }}", "image_url": "https://i.example/a.png",
        "data": {"who": "{{ first_name }}", "n": 3, "screen": "home"},
    },
    {"title": "Hi {{ first_name }}", "ios_title": "iOS only", "body": "b", "badge": 2},
    {"title": "{{ first_name }}", "push_type": "voip", "ttl_seconds": 60, "collapse_id": "c"},
    {"title": "{{ first_name }}", "body": "{% if city %}{{ city }}{% endif %}"},  # Liquid
]  # fmt: skip


def _build(message: Message) -> tuple[bytes, dict[str, str]] | str:
    try:
        request = build_apns(message, topic=TOPIC, notification_id=NID)
    except PayloadError as exc:
        return f"PayloadError: {exc}"
    headers = dict(request.headers)
    headers.pop("apns-expiration", None)  # the clock's
    return request.body, headers


def _spliced(bodies: ApnsBodies, message: Message) -> tuple[bytes, dict[str, str]] | str:
    try:
        body, headers = bodies.build(message, NID)
    except PayloadError as exc:
        return f"PayloadError: {exc}"
    out = dict(headers)
    out.pop("apns-expiration", None)
    return body, out


@pytest.mark.parametrize("fields", MESSAGES)
def test_every_recipient_gets_the_builders_bytes(fields: dict[str, Any]) -> None:
    doc = {"name": "W", "app": "shop", "audience": {"all": True}, "message": fields}
    personalizer = Personalizer(spec_from_dict(doc))
    bodies = ApnsBodies(TOPIC)
    templated = 0
    for first, city in itertools.product(VALUES, VALUES):
        attributes = {k: v for k, v in (("first_name", first), ("city", city)) if v is not None}
        device = Device("shop", Platform.IOS, ProviderKind.APNS, "ab" * 32, attributes=attributes)
        message = personalizer.render(device)
        assert personalized_from(message) is not None
        assert _spliced(bodies, message) == _build(message), attributes
        templated += len(bodies.templates)
    assert templated > 0  # the template was used, not only the full build


def test_a_builder_that_changes_the_text_is_never_spliced() -> None:
    message = Message(title="Ana", body="b")
    upper = body_template(
        lambda m: build_apns(Message(title=m.title.upper(), body=m.body), topic=TOPIC).body,
        message, ("title",), APNS_LIMIT,
    )  # fmt: skip
    assert upper is None
    plain = body_template(lambda m: build_apns(m, topic=TOPIC).body, message, ("title",), 4096)
    assert plain is not None and plain.fill(Message(title="Bo", body="b")) == (
        build_apns(Message(title="Bo", body="b"), topic=TOPIC).body
    )
    assert plain.fill(Message(title="", body="b")) is None  # empty: the builder decides


WEB_MESSAGES: list[dict[str, Any]] = [
    {"title": "Hi {{ first_name }}", "body": "Sale {{ city | default: 'near you' }}"},
    {"title": "{{ first_name }}", "body": "b", "url": "https://x.example/{{ city }}",
     "web_padding": True, "collapse_id": "spring", "ttl_seconds": 60},
    {"title": "{{ first_name }}", "url": "https://x.example/{{ city }}",
     "web_declarative": True},
]  # fmt: skip


@pytest.mark.parametrize("fields", WEB_MESSAGES)
def test_web_push_plaintexts_are_the_builders(fields: dict[str, Any]) -> None:
    from pushdeck.core.messages.payloads.webpush import build_webpush
    from pushdeck.core.providers.credentials import WebPushCredential
    from pushdeck.core.providers.webpush import WebPushProvider
    from pushdeck.core.providers.webpush_crypto import generate_vapid_keys

    keys = generate_vapid_keys()
    provider = WebPushProvider(
        WebPushCredential(keys.private_key_pem, keys.public_key, "mailto:ops@example.com")
    )
    doc = {"name": "W", "app": "shop", "audience": {"all": True}, "message": fields}
    personalizer = Personalizer(spec_from_dict(doc))
    for first, city in itertools.product(VALUES, VALUES):
        attributes = {k: v for k, v in (("first_name", first), ("city", city)) if v is not None}
        device = Device("shop", Platform.WEB, ProviderKind.WEBPUSH, "t", attributes=attributes)
        message = personalizer.render(device)
        try:
            request = build_webpush(message)
        except PayloadError as exc:
            with pytest.raises(PayloadError, match="^" + str(exc.message)[:20]):
                provider._build(message)
            continue
        built = provider._build(message)
        assert (built.body, built.padding, dict(built.delivery)) == (
            request.body, request.padding, dict(request.headers)
        ), attributes  # fmt: skip
    declarative = fields.get("web_declarative", False)
    assert (len(provider._templates) == 0) == declarative  # spliced unless it validates URLs
