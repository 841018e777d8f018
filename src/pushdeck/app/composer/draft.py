"""The app-side draft the composer edits: the message, its localizations and A/B variants.

Localizations and variants use the campaign engine's shapes (``CampaignSpec``), so a draft
becomes a campaign without translation; the draft document is what autosaves to the
workspace (``pushdeck.core.store.drafts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pushdeck.core.campaigns.spec import (
    AudienceKind,
    AudienceSpec,
    CampaignSpec,
    VariantSpec,
    base_fingerprint,
    stale_localizations,
)
from pushdeck.core.common.model import Device, Message, Platform, ProviderKind
from pushdeck.core.messages.json_form import message_from_dict, message_to_dict

#: Fields a localization (or a variant) may override in the composer.
LOCALIZED_FIELDS = ("title", "subtitle", "body")
DRAFT_NAME = "composer"


@dataclass(frozen=True)
class Draft:
    """Everything the composer edits. Frozen: every edit makes a new Draft (undo keeps both)."""

    message: Message = field(default_factory=Message)
    localizations: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    variants: tuple[VariantSpec, ...] = ()
    app: str = "Pushdeck Demo"
    #: Locale -> the base message's fingerprint when that translation was last written.
    localization_bases: Mapping[str, str] = field(default_factory=dict)

    def with_field(self, name: str, value: Any) -> Draft:
        return replace(self, message=replace(self.message, **{name: value}))

    def with_localized(self, locale: str, name: str, value: str) -> Draft:
        fields = dict(self.localizations.get(locale, {}))
        if value:
            fields[name] = value
        else:
            fields.pop(name, None)
        locs = {**self.localizations, locale: fields}
        return replace(self, localizations=locs).with_locale_current(locale)

    def with_locale(self, locale: str) -> Draft:
        """A new, empty localization, written against today's base message."""
        locs = {**self.localizations, locale: {}}
        return replace(self, localizations=locs).with_locale_current(locale)

    def with_locale_current(self, locale: str) -> Draft:
        """Record that ``locale`` matches the base message as it is now."""
        bases = {**self.localization_bases, locale: base_fingerprint(self.message)}
        return replace(self, localization_bases=bases)

    def without_locale(self, locale: str) -> Draft:
        return replace(
            self,
            localizations={k: v for k, v in self.localizations.items() if k != locale},
            localization_bases={k: v for k, v in self.localization_bases.items() if k != locale},
        )

    def stale_locales(self) -> list[str]:
        """Translations written before the base message last changed."""
        return stale_localizations(self.to_spec())

    def to_spec(self) -> CampaignSpec:
        """The draft as a campaign spec (what the campaign engine personalizes and sends)."""
        return CampaignSpec(
            name="draft",
            app=self.app,
            message=self.message,
            audience=AudienceSpec(AudienceKind.ALL),
            localizations={k: dict(v) for k, v in self.localizations.items() if v},
            variants=self.variants,
            localization_bases={
                k: v for k, v in self.localization_bases.items() if self.localizations.get(k)
            },
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "version": 1,
            "app": self.app,
            "message": message_to_dict(self.message),
            "localizations": {k: dict(v) for k, v in self.localizations.items()},
            "localization_bases": dict(self.localization_bases),
            "variants": [
                {
                    "name": v.name,
                    "percent": v.percent,
                    "overrides": dict(v.overrides),
                    "localizations": {k: dict(x) for k, x in v.localizations.items()},
                }
                for v in self.variants
            ],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Draft:
        """Rebuild a draft; raises ``ValidationError`` (from the core) on a bad message."""
        variants = tuple(
            VariantSpec(
                str(v["name"]),
                float(v.get("percent", 0)),
                dict(v.get("overrides", {})),
                {k: dict(x) for k, x in v.get("localizations", {}).items()},
            )
            for v in doc.get("variants", [])
        )
        return cls(
            message=message_from_dict(doc.get("message", {})),
            localizations={str(k): dict(v) for k, v in doc.get("localizations", {}).items()},
            variants=variants,
            app=str(doc.get("app", "Pushdeck Demo")),
            localization_bases={
                str(k): str(v) for k, v in doc.get("localization_bases", {}).items()
            },
        )


def sample_device(locale: str = "en-US", platform: Platform = Platform.IOS) -> Device:
    """A made-up recipient for "preview as" when the workspace has none."""
    return Device(
        app="Pushdeck Demo",
        platform=platform,
        provider=ProviderKind.SANDBOX,
        token="sample",
        locale=locale,
        timezone="Europe/Lisbon",
        attributes={"first_name": "Ana", "plan": "plus", "purchases": 3},
    )


def personalize(draft: Draft, device: Device | None, variant: str = "") -> tuple[Message, str]:
    """The message ``device`` would see (localized, variant, Liquid), and a problem if any.

    Never raises: a half-typed template shows its error and the raw text instead.
    """
    from pushdeck.core.campaigns.templating import Personalizer
    from pushdeck.core.common.errors import PushdeckError

    if device is None:
        return draft.message, ""
    try:
        message = Personalizer(draft.to_spec()).render(device, variant)
    except (PushdeckError, ValueError, TypeError, KeyError) as exc:
        return draft.message, str(exc)
    # The campaign engine adds attribution keys to data; previews show what the user wrote.
    data = {k: v for k, v in message.data.items() if not k.startswith("pushdeck_")}
    return replace(message, data=data), ""
