"""Byte budgets of each platform, checked on the exact bytes that will be sent.

Nothing is ever cut to fit: an over-budget payload is a ``PayloadError`` that names
the platform, the size, the limit and the largest fields, so the user knows what
to shorten.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pushdeck.core.errors import PayloadError

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
