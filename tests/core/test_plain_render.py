"""Plain texts render per recipient by string joins (issue 19), and what each device gets
is exactly what Liquid renders from the device's context, for every kind of value."""

from __future__ import annotations

import itertools
from typing import Any

from liquid import Environment

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.templating import TEMPLATED_FIELDS, Personalizer, device_context
from pushdeck.core.common.model import Device, Platform, ProviderKind

LIQUID = Environment()
DOC: dict[str, Any] = {
    "name": "W",
    "app": "shop",
    "audience": {"all": True},
    "message": {
        "title": 'Hi {{ first_name | default: "there" }} on {{ platform }}',
        "subtitle": "{{ city }}{{ locale }}",
        "body": "{{ app }} — {{ plan | default: 'free' }} {{ tags }}",
        "url": "https://x.example/{{ first_name }}",
        "data": {"who": "{{ first_name }}", "fixed": "home", "n": 3},
    },
    "localizations": {"pt": {"title": 'Oi {{ first_name | default: "você" }}'}},
    "variants": [
        {"name": "A", "percent": 50, "message": {"body": "A {{ plan }}"}},
        {"name": "B", "percent": 50, "message": {"body": "{% if plan %}B{% endif %}"}},
    ],
}
VALUES: list[Any] = [None, "", "Ana", "é ✓", 0, 2.5, True, ["x"], {"k": "v"}, "y" * 5000]


def _expected(doc: dict[str, Any], device: Device, variant: str) -> dict[str, Any]:
    """Each templated field as Liquid renders it from ``device_context``."""
    message = dict(doc["message"])
    if device.locale == "pt":
        message.update(doc["localizations"]["pt"])
    message.update(next(v["message"] for v in doc["variants"] if v["name"] == variant))
    context = device_context(device)
    out = {k: LIQUID.from_string(message[k]).render(**context) for k in TEMPLATED_FIELDS
           if k in message}  # fmt: skip
    out["who"] = LIQUID.from_string(message["data"]["who"]).render(**context)
    return out


def test_every_recipient_gets_what_liquid_renders() -> None:
    personalizer = Personalizer(spec_from_dict(DOC))
    checked = 0
    for first, city, plan, locale, variant in itertools.product(
        VALUES, VALUES[:4], VALUES, ("", "pt"), ("A", "B")
    ):
        attributes = {
            k: v for k, v in (("first_name", first), ("city", city), ("plan", plan))
            if v is not None
        }  # fmt: skip
        device = Device(
            "shop", Platform.WEB, ProviderKind.WEBPUSH, f"t{checked}", locale=locale,
            tags=("vip",), attributes=attributes,
        )  # fmt: skip
        message = personalizer.render(device, variant)
        expected = _expected(DOC, device, variant)
        got = {k: getattr(message, k) for k in TEMPLATED_FIELDS if k in expected}
        assert got == {k: v for k, v in expected.items() if k != "who"}, attributes
        assert message.data["who"] == expected["who"] and message.data["fixed"] == "home"
        assert message.data["n"] == 3
        checked += 1
    assert checked == len(VALUES) ** 2 * 4 * 2 * 2
    plans = personalizer._plans
    assert plans[("A", "")] is not None and plans[("B", "")] is None  # joins, and Liquid


def test_a_builtin_name_wins_over_an_attribute_of_the_same_name() -> None:
    doc = {**DOC, "variants": []}
    personalizer = Personalizer(spec_from_dict(doc))
    device = Device(
        "shop", Platform.IOS, ProviderKind.APNS, "t", attributes={"platform": "mine", "app": 7}
    )
    message = personalizer.render(device)
    assert message.title == "Hi there on ios" and message.body.startswith("shop — free")
