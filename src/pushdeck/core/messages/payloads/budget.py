"""Byte budgets of each platform, measured the way each provider measures them.

- APNs: the JSON body as sent (4096 bytes; 5120 for VoIP).
- Web Push: the JSON plaintext before encryption (3993 bytes fit one 4096-byte record).
- FCM: the *message payload* a device receives, not the request: ``notification`` and
  ``data`` (with the Android block's own notification and data merged in), as compact
  JSON, 4096 bytes. The token, delivery options (priority, TTL, collapse key) and the
  ``apns`` / ``webpush`` blocks do not count against it; those blocks are checked as
  what FCM hands on: the APNs payload an iPhone gets (the common title and body folded
  into ``aps.alert``, data at top level) against APNs' limit, the web notification
  against 4096.

Nothing is ever cut to fit: an over-budget payload is a ``PayloadError`` that names
the platform, the size, the limit and the largest fields, so the user knows what
to shorten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pushdeck.core.common.errors import PayloadError

APNS_LIMIT = 4096
APNS_VOIP_LIMIT = 5120
FCM_LIMIT = 4096
WEBPUSH_LIMIT = 3993  # 4096-byte record minus RFC 8291 header (86) and padding/tag (17)


class PayloadTooLargeError(PayloadError):
    """A payload over its platform's limit; carries the bytes so they can be shown."""

    def __init__(self, message: str, *, hint: str, platform: str, body: bytes, limit: int) -> None:
        super().__init__(message, hint=hint)
        self.platform = platform
        self.body = body
        self.limit = limit

    @property
    def size(self) -> int:
        return len(self.body)

    @property
    def over(self) -> int:
        return self.size - self.limit


@dataclass(frozen=True)
class Budget:
    """How many bytes a payload uses of its platform's limit."""

    platform: str
    size: int
    limit: int

    @property
    def fits(self) -> bool:
        return self.size <= self.limit

    @property
    def fraction(self) -> float:
        return self.size / self.limit


def _leaves(obj: Any, path: str = "") -> Iterator[tuple[str, int]]:
    """Yield (dotted path, encoded byte size) for every leaf value of a JSON object."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _leaves(value, f"{path}[{index}]")
    else:
        yield path, len(json.dumps(obj, ensure_ascii=False).encode())


def largest_fields(payload: Mapping[str, Any], count: int = 3) -> list[tuple[str, int]]:
    """The ``count`` largest leaf fields of ``payload`` as (path, bytes), largest first."""
    return sorted(_leaves(payload), key=lambda item: item[1], reverse=True)[:count]


def compact(value: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, as every provider receives it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def fcm_android_payload(message: Mapping[str, Any]) -> dict[str, Any]:
    """What FCM counts for an FCM v1 ``message``: notification + data, Android's merged in."""
    android = message.get("android") or {}
    notification = {**(message.get("notification") or {}), **(android.get("notification") or {})}
    data = {**(message.get("data") or {}), **(android.get("data") or {})}
    payload: dict[str, Any] = {}
    if notification:
        payload["notification"] = notification
    if data:
        payload["data"] = data
    return payload


def fcm_apns_payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The APNs payload FCM delivers to an iOS device for ``message`` (None: no apns block).

    FCM folds the common notification's title and body into ``aps.alert`` (unless the
    apns block sets them) and puts the data keys at the payload's top level.
    """
    apns = message.get("apns")
    if not apns:
        return None
    payload = json.loads(compact(apns.get("payload") or {}))  # a deep copy
    aps = payload.setdefault("aps", {})
    common = {k: v for k, v in (message.get("notification") or {}).items() if k in _ALERT_KEYS}
    if common and (isinstance(aps.get("alert"), dict) or "alert" not in aps):
        aps["alert"] = {**common, **(aps.get("alert") or {})}
    for key, value in (message.get("data") or {}).items():
        payload.setdefault(key, value)
    return dict(payload)


def fcm_webpush_payload(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The web notification FCM builds for browsers (common title/body folded in)."""
    webpush = message.get("webpush")
    if not webpush or not (webpush.get("notification") or message.get("notification")):
        return None
    common = {k: v for k, v in (message.get("notification") or {}).items() if k in _ALERT_KEYS}
    payload: dict[str, Any] = {"notification": {**common, **(webpush.get("notification") or {})}}
    data = {**(message.get("data") or {}), **(webpush.get("data") or {})}
    if data:
        payload["data"] = data
    return payload


_ALERT_KEYS = ("title", "body")


def check_budget(platform: str, body: bytes, limit: int, payload: Mapping[str, Any]) -> Budget:
    """Return the budget of ``body``; raise ``PayloadError`` when it is over ``limit``."""
    budget = Budget(platform, len(body), limit)
    if not budget.fits:
        fields = ", ".join(f"{path} ({size} B)" for path, size in largest_fields(payload))
        raise PayloadTooLargeError(
            f"The {platform} payload is {budget.size} bytes; the limit is {limit} bytes "
            f"({budget.size - limit} bytes over). Largest fields: {fields}.",
            hint="Shorten those fields or move data out of the notification; "
            "Pushdeck never truncates a payload silently.",
            platform=platform,
            body=bytes(body),
            limit=limit,
        )
    return budget
