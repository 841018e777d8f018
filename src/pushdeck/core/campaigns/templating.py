"""Personalization: localization with a fallback chain, then Liquid over device fields.

What a device receives is resolved in this order:

1. the base message, with the campaign localization for the device's locale
   (``pt-BR`` → ``pt`` → default) merged over it;
2. the variant's overrides, with the variant's own localization merged over them;
3. Liquid rendering of the text fields (title, subtitle, body, URLs, string data)
   with the device's attributes at top level (``{{ first_name | default: "there" }}``)
   and ``platform``, ``locale``, ``timezone``, ``app``, ``tags`` and ``device``.

Templates are checked when composed and when a campaign is created or saved: syntax
errors, unknown filters and tags, ``include``/``render`` and limits a template reaches
whatever the recipient block; unknown variables warn. They are compiled once per
campaign, so rendering per recipient is cheap, and every render is bounded
(``liquid_env``): a template failing for one recipient skips that recipient, and
``RenderGuard`` stops the send when it fails for most of them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType
from typing import Any

from pushdeck.core.campaigns.spec import CampaignSpec, VariantSpec, normalize_locale
from pushdeck.core.common.errors import PushdeckError
from pushdeck.core.common.model import CAMPAIGN_KEY, VARIANT_KEY, Device, Message
from pushdeck.core.messages.json_form import message_from_dict, message_to_dict
from pushdeck.core.messages.personalized import Field, mark_personalized
from pushdeck.core.messages.render_budget import MAX_SOURCE_CHARS, TemplateError, deadline
from pushdeck.core.messages.simple_liquid import SimpleTemplate, is_plain_text, simple_template

#: Message fields that may hold Liquid.
TEMPLATED_FIELDS = ("title", "subtitle", "body", "image_url", "url")
#: Variables every device provides, besides its attributes.
BUILTIN_VARIABLES = frozenset({"platform", "locale", "timezone", "app", "tags", "device"})


@dataclass(frozen=True)
class TemplateProblem:
    """A problem in one field: ``where`` names it, e.g. ``localizations.pt-BR.title``."""

    where: str
    message: str
    blocking: bool


def _liquid() -> ModuleType:
    """The Liquid environment, imported when a text first needs it (~0.1 s, see
    render_budget): a campaign of plain texts sends without ever loading it."""
    from pushdeck.core.messages import liquid_env

    return liquid_env


def _simple(source: str) -> Any:
    """A plain {{ name | default: "x" }} text (rendered by string joins, valid Liquid by
    construction, see simple_liquid), or None."""
    if len(source) > MAX_SOURCE_CHARS:
        return None  # refused by source_problems, with the limit in the message
    return simple_template(source, lambda: _liquid().ENV.from_string(source))


@lru_cache(maxsize=4096)
def _compile(source: str) -> Any:
    simple = _simple(source)
    return simple if simple is not None else _liquid().ENV.from_string(source)


@lru_cache(maxsize=4096)
def _roots(source: str) -> tuple[str, ...]:
    """The top-level variables a template reads (``first_name``, ``device``, …)."""
    return tuple(_compile(source).global_variables())


_RENDER_CACHE = 50_000  # rendered texts kept per campaign; cleared when full


def _is_template(value: str) -> bool:
    return "{{" in value or "{%" in value


def locale_chain(locale: str) -> list[str]:
    """``pt-BR`` → [``pt-BR``, ``pt``]; the default (base message) comes after these."""
    if not locale:
        return []
    parts = normalize_locale(locale).split("-")
    return ["-".join(parts[:n]) for n in range(len(parts), 0, -1)]


def pick_localization(
    localizations: Mapping[str, Mapping[str, Any]], locale: str
) -> tuple[str, dict[str, Any]]:
    """Fields along the fallback chain, merged per field (``pt-BR`` over ``pt``).

    Returns the matched locales joined by '|' (a cache key; '' for the default) and
    the merged fields. A field missing from ``pt-BR`` falls back to ``pt``, then to
    the base message.
    """
    matched = [c for c in locale_chain(locale) if c in localizations]
    merged: dict[str, Any] = {}
    for candidate in reversed(matched):
        merged = _merge(merged, localizations[candidate])
    return "|".join(matched), merged


# --------------------------------------------------------------------------- checks


def _text_sources(where: str, fields: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for name in TEMPLATED_FIELDS:
        value = fields.get(name)
        if isinstance(value, str) and value:
            yield f"{where}.{name}", value
    data = fields.get("data") or {}
    for key, value in data.items():
        if isinstance(value, str) and value:
            yield f"{where}.data.{key}", value


def spec_sources(spec: CampaignSpec) -> Iterator[tuple[str, str]]:
    """Every (place, text) of the campaign that is rendered as a template."""
    yield from _text_sources("message", message_to_dict(spec.message))
    for locale, fields in spec.localizations.items():
        yield from _text_sources(f"localizations.{locale}", fields)
    for index, variant in enumerate(spec.variants):
        yield from _text_sources(f"variants[{index}].message", variant.overrides)
        for locale, fields in variant.localizations.items():
            yield from _text_sources(f"variants[{index}].localizations.{locale}", fields)


def check_templates(
    spec: CampaignSpec, known_attributes: Iterable[str] = ()
) -> list[TemplateProblem]:
    """Syntax errors (blocking) and unknown variables (warnings), in field order."""
    known = BUILTIN_VARIABLES | set(known_attributes)
    problems: list[TemplateProblem] = []
    for where, source in spec_sources(spec):
        problems.extend(check_source(where, source, known))
    return problems


def check_source(where: str, source: str, known: Iterable[str]) -> list[TemplateProblem]:
    """Check one text: what blocks it (syntax, unknown filter or tag, limits), or one
    warning per unknown variable."""
    fine = len(source) <= MAX_SOURCE_CHARS and (is_plain_text(source) or _simple(source))
    blocking = [] if fine else _liquid().source_problems(source)
    if blocking:
        return [TemplateProblem(where, f"Template error: {text}", True) for text in blocking]
    if is_plain_text(source):
        return []
    template = _compile(source)
    known_set = set(known)
    return [
        TemplateProblem(
            where,
            f"{{{{ {name} }}}} is not a device field or a known attribute; it will render "
            'empty unless you give it a default (e.g. | default: "there").',
            False,
        )
        for name in template.global_variables()
        if name not in known_set
    ]


def require_valid_templates(spec: CampaignSpec) -> None:
    """Raise ValidationError naming the field of the first blocking template problem.

    Called when a campaign is created or saved, and before a send starts.
    """
    for where, source in spec_sources(spec):
        for problem in check_source(where, source, BUILTIN_VARIABLES):
            if problem.blocking:
                raise TemplateError(
                    f"{where}: {problem.message}",
                    field=where,
                    hint="Pushdeck supports standard Liquid without include/render; see "
                    "https://shopify.github.io/liquid/ and docs/campaign-file.md (limits).",
                )


# --------------------------------------------------------------------------- render


def device_context(device: Device) -> dict[str, Any]:
    """The variables a template sees for ``device``."""
    builtins = {
        "platform": device.platform.value,
        "locale": device.locale,
        "timezone": device.timezone,
        "app": device.app,
        "tags": list(device.tags),
    }
    return {**device.attributes, **builtins, "device": {**builtins, **device.attributes}}


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**base, **over}
    if "data" in base and "data" in over:
        merged["data"] = {**base["data"], **over["data"]}
    return merged


class Personalizer:
    """Renders a campaign's message for one device; compiled and cached per campaign."""

    def __init__(self, spec: CampaignSpec, *, campaign_key: str = "") -> None:
        require_valid_templates(spec)
        self.spec = spec
        self.campaign_key = campaign_key or spec.name
        self._base = message_to_dict(spec.message)
        if spec.ttl_seconds is not None:
            self._base["ttl_seconds"] = spec.ttl_seconds
        self._variants = {v.name: v for v in spec.variants}
        self._cache: dict[tuple[str, str], tuple[Message, bool]] = {}
        self._localized: dict[tuple[str, str], tuple[Message, bool]] = {}
        self._rendered: dict[tuple[str, tuple[Any, ...]], str] = {}
        self._plans: dict[tuple[str, str], _PlainPlan | None] = {}
        self._warm: dict[int, Message] = {}  # localized messages compiled into Liquid

    def localized(self, variant: str, locale: str) -> tuple[Message, bool]:
        """The message for (variant, locale) before Liquid, and whether it has templates."""
        known = self._localized.get((variant, locale))
        if known is not None:  # the same for every device of this (variant, locale)
            return known
        loc_key, fields = pick_localization(self.spec.localizations, locale)
        chosen = self._variants.get(variant)
        var_key = ""
        if chosen is not None:
            var_key, _ = pick_localization(chosen.localizations, locale)
        key = (variant, f"{loc_key}|{var_key}")
        if key not in self._cache:
            self._cache[key] = self._build(fields, chosen, locale)
        self._localized[(variant, locale)] = self._cache[key]
        return self._cache[key]

    def _build(
        self, fields: Mapping[str, Any], variant: VariantSpec | None, locale: str
    ) -> tuple[Message, bool]:
        doc = _merge(self._base, fields)
        if variant is not None:
            doc = _merge(doc, variant.overrides)
            doc = _merge(doc, pick_localization(variant.localizations, locale)[1])
        data = dict(doc.get("data", {}))
        data[CAMPAIGN_KEY] = self.campaign_key
        if variant is not None:
            data[VARIANT_KEY] = variant.name
        doc["data"] = data
        message = message_from_dict(doc)
        templated = any(_is_template(text) for _, text in _text_sources("m", doc))
        return message, templated

    def render(self, device: Device, variant: str = "") -> Message:
        """Exactly the message ``device`` receives (localized, then personalized).

        Raises TemplateError naming the field when a template fails for this device
        (missing data for a filter, a render limit reached).
        """
        message, templated = self.localized(variant, device.locale)
        if not templated:
            return message
        plan = self._plans.get((variant, device.locale), _NO_PLAN)
        if plan is _NO_PLAN:
            plan = self._plans[(variant, device.locale)] = _plain_plan(message)
        if plan is not None:
            plain = plan.render(device)
            if plain is not None:
                return mark_personalized(_with(message, plain), message, plan.names)
        context = device_context(device)
        changes: dict[str, Any] = {}
        self._compiled(message)
        with deadline():  # one time budget for all the fields of this recipient
            for name in TEMPLATED_FIELDS:
                value = getattr(message, name)
                if value and _is_template(value):
                    changes[name] = self._render(name, value, context)
            if any(isinstance(v, str) and _is_template(v) for v in message.data.values()):
                changes["data"] = {
                    k: self._render(f"data.{k}", v, context)
                    if isinstance(v, str) and _is_template(v)
                    else v
                    for k, v in message.data.items()
                }
        names: list[Field] = [name for name in changes if name != "data"]
        names += [
            ("data", k) for k, v in message.data.items() if isinstance(v, str) and _is_template(v)
        ]
        return mark_personalized(_with(message, changes), message, tuple(names))

    def _compiled(self, message: Message) -> None:
        """Compile ``message``'s templates into Liquid before its render's time budget
        starts: Liquid is imported on first need (~0.1 s, more on a busy machine), which
        is not the recipient's render taking long. Once per localized message."""
        if id(message) in self._warm:
            return
        texts = [getattr(message, name) for name in TEMPLATED_FIELDS]
        texts += [v for v in message.data.values() if isinstance(v, str)]
        for text in texts:
            if text and _is_template(text):
                template = _compile(text)
                if isinstance(template, SimpleTemplate):
                    template.liquid  # noqa: B018 - compiled now, kept on the template
        self._warm[id(message)] = message  # held: the id stays this message's

    def _render(self, field: str, source: str, context: Mapping[str, Any]) -> str:
        """Render, reusing the output for devices whose referenced values are the same.

        Audiences repeat first names, cities, plans…: the output depends only on the
        variables the template reads, so identical plain values give identical text.
        """
        template = _compile(source)
        values = tuple(context.get(name) for name in _roots(source))
        if not all(v is None or isinstance(v, str | int | float) for v in values):
            return _render_field(field, template, context)
        key = (source, values)
        cached = self._rendered.get(key)
        if cached is None:
            if len(self._rendered) >= _RENDER_CACHE:
                self._rendered.clear()
            cached = self._rendered[key] = _render_field(field, template, context)
        return cached


def _render_field(field: str, template: Any, context: Mapping[str, Any]) -> str:
    try:
        return str(template.render(**context))
    except Exception as exc:  # noqa: BLE001 - any failure (even a filter bug) skips this device
        message = _liquid().render_message(exc)
        raise TemplateError(f"{field}: {message}", field=field) from None


_BUILTIN_TEXT = {
    "platform": lambda d: d.platform.value,
    "locale": lambda d: d.locale,
    "timezone": lambda d: d.timezone,
    "app": lambda d: d.app,
}


class _PlainPlan:
    """A localized message whose every template is a plain ``{{ name | default: "x" }}``
    text (simple_liquid): rendered per recipient by string joins, from the device's own
    fields, with no render context, time budget or cache. That was most of a send's
    personalization cost (issue 19); the output is Liquid's (tests compare them)."""

    __slots__ = ("base_data", "data", "fields", "names")

    def __init__(
        self,
        fields: list[tuple[str, SimpleTemplate]],
        data: list[tuple[str, SimpleTemplate]] | None,
        base_data: Mapping[str, Any],
    ) -> None:
        self.fields = fields
        self.data = data  # None: no templated data value
        self.base_data = base_data  # the message's data, templated values unrendered
        self.names: tuple[Field, ...] = (
            *(name for name, _ in fields),
            *(("data", key) for key, _ in data or ()),
        )

    def render(self, device: Device) -> dict[str, Any] | None:
        """The changed fields, or None when a value needs Liquid (a number, a list...)."""
        attributes = device.attributes

        def lookup(name: str) -> Any:
            # device_context's precedence: the built-in variables over the attributes;
            # "tags" and "device" are a list and a dict, which only Liquid renders.
            builtin = _BUILTIN_TEXT.get(name)
            if builtin is not None:
                return builtin(device)
            if name in ("tags", "device"):
                return _NEEDS_LIQUID
            return attributes.get(name)

        changes: dict[str, Any] = {}
        for name, template in self.fields:
            text = template.join(lookup)
            if text is None:
                return None
            changes[name] = text
        if self.data is not None:
            data = dict(self.base_data)
            for key, template in self.data:
                text = template.join(lookup)
                if text is None:
                    return None
                data[key] = text
            changes["data"] = data
        return changes


_NO_PLAN: Any = object()
_NEEDS_LIQUID = object()  # not a string: SimpleTemplate.join hands it to Liquid


def _plain_plan(message: Message) -> _PlainPlan | None:
    """The plan for ``message`` when all its templates are plain, else None."""
    fields = []
    for name in TEMPLATED_FIELDS:
        value = getattr(message, name)
        if value and _is_template(value):
            template = _compile(value)
            if not isinstance(template, SimpleTemplate):
                return None
            fields.append((name, template))
    data = None
    if any(isinstance(v, str) and _is_template(v) for v in message.data.values()):
        data = []
        for key, value in message.data.items():
            if isinstance(value, str) and _is_template(value):
                template = _compile(value)
                if not isinstance(template, SimpleTemplate):
                    return None
                data.append((key, template))
    return _PlainPlan(fields, data, message.data)


def _with(message: Message, changes: Mapping[str, Any]) -> Message:
    """``dataclasses.replace`` without re-running ``__init__`` over all ~40 fields.

    Per recipient this is the hot path; the changed fields are plain strings/dicts that
    ``__init__`` would store as they are, so copying the instance dict is equivalent.
    """
    copy = object.__new__(Message)
    copy.__dict__.update(message.__dict__)
    copy.__dict__.update(changes)
    return copy


@dataclass(frozen=True)
class DevicePreview:
    """What one device will receive: the message and each platform's exact payload."""

    device: Device
    variant: str
    message: Message
    payloads: Mapping[str, str]  # platform -> JSON text sent ("" when it cannot be built)
    errors: Mapping[str, str]  # platform -> why it cannot be sent as is


def _payload_json(platform: str, message: Message, topic: str, nid: str) -> str:
    from pushdeck.core.messages import payloads

    if platform == "ios":
        body = payloads.build_apns(message, topic=topic, notification_id=nid).body
    elif platform == "android":
        body = payloads.build_fcm(message, "DEVICE_TOKEN").body
    else:
        body = payloads.build_webpush(message).body
    return body.decode() if isinstance(body, bytes | bytearray) else json.dumps(body)


def render_for_device(
    spec: CampaignSpec, device: Device, variant: str | None = None, *, topic: str = ""
) -> DevicePreview:
    """Render ``spec`` for ``device`` exactly as the dispatcher will, on every platform.

    ``variant`` defaults to the arm the device is assigned to by the campaign's split.
    """
    from pushdeck.core.campaigns.variants import assign_variant, notification_id

    if variant is None:
        variant = assign_variant(spec, device)
    message = Personalizer(spec).render(device, variant)
    nid = notification_id(spec.name, device.app, device.token)
    texts: dict[str, str] = {}
    errors: dict[str, str] = {}
    for platform in ("ios", "android", "web"):
        try:
            texts[platform] = _payload_json(platform, message, topic or "com.example.app", nid)
        except ImportError:
            texts[platform], errors[platform] = "", f"The {platform} builder is not available."
        except PushdeckError as exc:
            texts[platform], errors[platform] = "", str(exc)
    return DevicePreview(device, variant, message, texts, errors)
