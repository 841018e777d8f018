"""A/B variant assignment: deterministic, stable, proportional, with a hold-out group.

A device's bucket is a stable hash (SHA-256, not Python's salted ``hash``) of the
campaign name, the app and the device token, in 10,000 buckets. The first
``control_percent`` of the buckets are the hold-out control group (sent nothing);
the rest are split among the variants by their percentages. The same device always
lands in the same arm of the same campaign, across runs, resumes and machines.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache
from typing import Any

from pushdeck.core.campaigns.spec import CampaignSpec
from pushdeck.core.common.model import Device

BUCKETS = 10_000
CONTROL = "control"
#: Namespace of notification ids (apns-id etc.): uuid5(namespace, campaign/app/token).
NOTIFICATION_NAMESPACE = uuid.UUID("5b0d6a47-6f1e-4a37-9a5b-9f3c2d7e0a11")
_NAMESPACE_BYTES = NOTIFICATION_NAMESPACE.bytes


def bucket(campaign: str, app: str, token: str) -> int:
    """0 ≤ bucket < BUCKETS, stable for (campaign, app, token)."""
    digest = hashlib.sha256(f"{campaign}\x1f{app}\x1f{token}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def arm_for_bucket(spec: CampaignSpec, value: int) -> str:
    """The arm ('' when there are no variants, 'control' for the hold-out) of a bucket."""
    control_edge = round(spec.control_percent * BUCKETS / 100)
    if value < control_edge:
        return CONTROL
    if not spec.variants:
        return ""
    # Spread the remaining buckets over the variants by cumulative percentages.
    position = (value - control_edge) / max(1, BUCKETS - control_edge) * 100
    cumulative = 0.0
    for variant in spec.variants:
        cumulative += variant.percent
        if position < cumulative:
            return variant.name
    return spec.variants[-1].name


def assign_variant(spec: CampaignSpec, device: Device) -> str:
    """The arm ``device`` belongs to in this campaign."""
    return arm_for_bucket(spec, bucket(spec.name, device.app, device.token))


@lru_cache(maxsize=64)
def _prefix_hash(campaign: str, app: str) -> Any:
    return hashlib.sha1(
        _NAMESPACE_BYTES + f"{campaign}\x1f{app}\x1f".encode(), usedforsecurity=False
    )


def notification_id(campaign: str, app: str, token: str) -> str:
    """A UUID derived from (campaign, device): a re-send after a crash carries the same id."""
    # uuid.uuid5 by hand: the same bytes without two UUID objects (a campaign makes one
    # per device; tests/core/test_variants.py checks it against uuid.uuid5). The hash of
    # the namespace and the campaign's part of the name is taken once per campaign.
    sha1 = _prefix_hash(campaign, app).copy()
    sha1.update(token.encode())
    digest = bytearray(sha1.digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
