"""Who a campaign targets, and who of them cannot be sent to (and why).

The audience is a segment, the app's test devices, an explicit token list, or every
device of the app. *Targeted* is every device the audience matches, in any state;
devices that cannot receive are *excluded* with one reason each, so the report can
say "1,000 targeted, 37 opted out, 12 unregistered, …" instead of silently shrinking.
Everything is counted by the store (``store.audience``): counting never loads devices
into memory, and ``iter_audience`` pages by id.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pushdeck.core.campaigns.spec import AudienceKind, CampaignSpec
from pushdeck.core.common.model import Device, DeviceStatus, OptIn, ProviderKind, TokenKind
from pushdeck.core.store import audience as store
from pushdeck.core.store.audience import tokens_rule
from pushdeck.core.store.devices import iter_devices
from pushdeck.core.store.segment_rules import CompiledRule
from pushdeck.core.store.segments import audience_filter, usable
from pushdeck.core.store.workspace import Workspace


class Exclusion(StrEnum):
    OPTED_OUT = "opted_out"  # the user denied notifications
    UNREGISTERED = "unregistered"  # the provider said the token is dead
    INVALID = "invalid"  # the token or subscription is malformed
    NO_CREDENTIAL = "no_credential"  # no credential for this device's provider
    TOKEN_KIND = "token_kind"  # the token cannot take this message (e.g. alert → Live Activity)


EXCLUSION_TEXT = {
    Exclusion.OPTED_OUT: "opted out of notifications",
    Exclusion.UNREGISTERED: "token unregistered (dead)",
    Exclusion.INVALID: "invalid token or subscription",
    Exclusion.NO_CREDENTIAL: "no credential for the device's provider",
    Exclusion.TOKEN_KIND: "token kind does not take this message (Live Activity vs device token)",
}

# Mentioning opt_in and status explicitly stops the segment compiler from filtering
# them out silently: we want those devices *counted* as excluded, not invisible.
_ANY_STATE: list[dict[str, Any]] = [
    {"field": "opt_in", "op": "in", "value": [o.value for o in OptIn]},
    {"field": "status", "op": "in", "value": [s.value for s in DeviceStatus]},
]


def audience_rule(ws: Workspace, spec: CampaignSpec) -> CompiledRule:
    """The store's filter of everything the audience targets."""
    audience = spec.audience
    if audience.kind is AudienceKind.TOKENS:
        return tokens_rule(spec.app, audience.tokens, ws.dialect)
    parts: list[Any] = list(_ANY_STATE)
    if audience.kind is AudienceKind.SEGMENT:
        parts.append(usable(ws, audience.segment).rule)  # names a broken segment
    elif audience.kind is AudienceKind.TEST:
        parts.append({"field": "test", "op": "=", "value": True})
    return audience_filter(ws, {"all": parts}, spec.app)


def exclusion_case(
    available: Collection[ProviderKind], kinds: Collection[TokenKind] = (TokenKind.DEVICE,)
) -> CompiledRule:
    """The store's expression of each device's exclusion reason ('' when it can receive).

    ``kinds`` are the token kinds the message can go to (``accepted_token_kinds``):
    an alert never goes to a Live Activity token, a Live Activity update only to one.
    """
    return store.exclusion_case([p.value for p in available], [k.value for k in kinds])


def exclusion_reason(
    device: Device,
    available: Collection[ProviderKind],
    kinds: Collection[TokenKind] = (TokenKind.DEVICE,),
) -> str:
    """The same rules as ``exclusion_case`` for one loaded device."""
    if device.opt_in is OptIn.DENIED:
        return Exclusion.OPTED_OUT.value
    if device.status is DeviceStatus.UNREGISTERED:
        return Exclusion.UNREGISTERED.value
    if device.status is DeviceStatus.INVALID:
        return Exclusion.INVALID.value
    if device.provider is ProviderKind.WEBPUSH and (
        device.subscription is None
        or not device.subscription.p256dh
        or not device.subscription.auth
    ):
        return Exclusion.INVALID.value
    if device.provider not in available:
        return Exclusion.NO_CREDENTIAL.value
    if device.token_kind not in kinds:
        return Exclusion.TOKEN_KIND.value
    return ""


@dataclass(frozen=True)
class AudienceCount:
    targeted: int
    excluded: dict[str, int] = field(default_factory=dict)
    unknown_tokens: int = 0  # explicit tokens with no device of this app

    @property
    def eligible(self) -> int:
        return self.targeted - sum(self.excluded.values())


def count_audience(
    ws: Workspace, spec: CampaignSpec, available: Collection[ProviderKind]
) -> AudienceCount:
    """Targeted devices and exclusions by reason, counted in one SQL query."""
    from pushdeck.core.messages.payloads.live_activity import accepted_token_kinds

    rule = audience_rule(ws, spec)
    counts = store.count_by_reason(
        ws, rule, exclusion_case(available, accepted_token_kinds(spec.message))
    )
    targeted = sum(counts.values())
    counts.pop("", None)
    unknown = 0
    if spec.audience.kind is AudienceKind.TOKENS:
        unknown = len(set(spec.audience.tokens)) - targeted
    return AudienceCount(targeted, counts, unknown)


def iter_audience(ws: Workspace, spec: CampaignSpec, *, page: int = 2000) -> Iterator[Device]:
    """Every targeted device (excluded ones included), streamed in pages by id."""
    rule = audience_rule(ws, spec)
    yield from iter_devices(ws, where=rule.where, params=rule.params, page=page)
