"""Personalization: localization fallback, Liquid with defaults, checks at compose time."""

from __future__ import annotations

import pytest

from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.campaigns.templating import (
    Personalizer,
    check_templates,
    locale_chain,
    render_for_device,
)
from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import CAMPAIGN_KEY, VARIANT_KEY, Device, Platform, ProviderKind

DOC = {
    "name": "Welcome",
    "app": "shop",
    "audience": {"all": True},
    "message": {
        "title": 'Hi {{ first_name | default: "there" }}',
        "body": "Base body",
        "data": {"screen": "home", "who": "{{ first_name }}"},
    },
    "localizations": {
        "pt": {"title": 'Oi {{ first_name | default: "você" }}', "body": "Corpo pt"},
        "pt-BR": {"body": "Corpo pt-BR"},
    },
    "ttl_seconds": 60,
}


def device(locale: str = "", **attributes: object) -> Device:
    return Device(
        "shop", Platform.IOS, ProviderKind.APNS, "tok", locale=locale, attributes=attributes
    )


def test_locale_chain() -> None:
    assert locale_chain("pt_br") == ["pt-BR", "pt"]
    assert locale_chain("zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh"]
    assert locale_chain("") == []


@pytest.mark.parametrize(
    ("locale", "title", "body"),
    [
        ("pt-BR", "Oi Ana", "Corpo pt-BR"),  # pt-BR body; title falls back to pt
        ("pt-PT", "Oi Ana", "Corpo pt"),
        ("de", "Hi Ana", "Base body"),
    ],
)
def test_fallback_chain_then_liquid(locale: str, title: str, body: str) -> None:
    message = Personalizer(spec_from_dict(DOC)).render(device(locale, first_name="Ana"))
    assert (message.title, message.body) == (title, body)
    assert message.data["who"] == "Ana"
    assert message.data[CAMPAIGN_KEY] == "Welcome"
    assert message.ttl_seconds == 60


def test_default_filter_for_missing_attribute() -> None:
    message = Personalizer(spec_from_dict(DOC)).render(device("pt-BR"))
    assert message.title == "Oi você"


def test_variant_overrides_and_key() -> None:
    doc = {
        **DOC,
        "variants": [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 50, "message": {"body": "B for {{ city }}"}},
        ],
    }
    message = Personalizer(spec_from_dict(doc)).render(device("de", city="Porto"), "B")
    assert message.body == "B for Porto"
    assert message.data[VARIANT_KEY] == "B"


def test_syntax_error_blocks_and_unknown_variable_warns() -> None:
    doc = {**DOC, "message": {"title": "Hi {{ first_name ", "body": "{{ nickname }}"}}
    problems = check_templates(spec_from_dict(doc), known_attributes={"first_name"})
    assert [(p.where, p.blocking) for p in problems] == [
        ("message.title", True),
        ("message.body", False),
    ]
    assert "nickname" in problems[1].message
    with pytest.raises(ValidationError, match=r"message\.title"):
        Personalizer(spec_from_dict(doc))


def test_known_attributes_do_not_warn() -> None:
    assert check_templates(spec_from_dict(DOC), known_attributes={"first_name"}) == []


def test_render_for_device_returns_every_platform_payload() -> None:
    preview = render_for_device(spec_from_dict(DOC), device("pt-BR", first_name="Ana"))
    assert preview.message.title == "Oi Ana"
    assert preview.variant == ""
    assert '"Oi Ana"' in preview.payloads["ios"]
    assert '"Oi Ana"' in preview.payloads["web"]
    assert CAMPAIGN_KEY in preview.payloads["ios"]


def test_rendering_reuses_output_only_for_identical_values() -> None:
    doc = {**DOC, "message": {"title": "{{ first_name }} in {{ device.city }}", "body": "{{ n }}"}}
    personalizer = Personalizer(spec_from_dict(doc))
    first = personalizer.render(device("de", first_name="Ana", city="Porto", n=1))
    same_name = personalizer.render(device("de", first_name="Ana", city="Rio", n=2))
    other = personalizer.render(device("de", first_name="Bo", city="Rio", n=1))
    assert (first.title, first.body) == ("Ana in Porto", "1")
    assert (same_name.title, same_name.body) == ("Ana in Rio", "2")
    assert (other.title, other.body) == ("Bo in Rio", "1")
