"""Pure payload builders: Message + Device -> APNs / FCM / Web Push requests.

This is the facade the composer and the dispatcher import; each platform's builder
lives in its own module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pushdeck.core.errors import PushdeckError
from pushdeck.core.model import Message, PushType
from pushdeck.core.payloads.apns import build_apns
from pushdeck.core.payloads.budget import (
    APNS_LIMIT,
    APNS_VOIP_LIMIT,
    FCM_LIMIT,
    WEBPUSH_LIMIT,
    Budget,
    PayloadTooLargeError,
    check_budget,
    largest_fields,
)
from pushdeck.core.payloads.fcm import build_fcm
from pushdeck.core.payloads.lint import LintWarning, Severity, lint
from pushdeck.core.payloads.webpush import WebPushRequest, build_webpush, webpush_notification

__all__ = [
    "APNS_LIMIT",
    "APNS_VOIP_LIMIT",
    "FCM_LIMIT",
    "WEBPUSH_LIMIT",
    "Budget",
    "LintWarning",
    "PayloadPreview",
    "PayloadTooLargeError",
    "Severity",
    "WebPushRequest",
    "build_apns",
    "build_fcm",
    "build_webpush",
    "check_budget",
    "largest_fields",
    "lint",
    "preview_payloads",
    "webpush_notification",
]

#: Stands in for a registration token in previews: readable, and as long as a real
#: one (~163 characters) so the displayed size is close to what is sent.
PREVIEW_FCM_TOKEN = ("device-registration-token-" * 7)[:163]


@dataclass(frozen=True)
class PayloadPreview:
    """One platform's payload as the composer shows it, live."""

    platform: str  # "ios", "android", "web"
    text: str  # pretty JSON, or "" when it cannot be built
    size: int  # bytes actually sent (compact), 0 when unknown
    limit: int
    error: str = ""  # why it cannot be sent as is; "" when fine

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def over(self) -> int:
        """Bytes over the platform's limit (0 when it fits or was not built)."""
        return max(0, self.size - self.limit)


def _preview(platform: str, limit: int, build: Callable[[], bytes]) -> PayloadPreview:
    try:
        body = build()
    except PayloadTooLargeError as exc:
        # Built, but too big to send: show it, with its real size, so the user sees what
        # to shorten (the meter goes red with the bytes over).
        text = json.dumps(json.loads(exc.body), indent=2, ensure_ascii=False)
        return PayloadPreview(platform, text, exc.size, limit, str(exc))
    except (PushdeckError, ValueError, TypeError, KeyError) as exc:
        # The composer calls this on every keystroke: a half-typed message must
        # show its problem, never crash the window.
        return PayloadPreview(platform, "", 0, limit, str(exc))
    text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    return PayloadPreview(platform, text, len(body), limit)


def preview_payloads(
    message: Message, *, topic: str = "com.example.app"
) -> dict[str, PayloadPreview]:
    """Per platform ("ios", "android", "web"): pretty JSON, size, limit and any error."""
    apns_limit = APNS_VOIP_LIMIT if message.push_type is PushType.VOIP else APNS_LIMIT
    return {
        "ios": _preview("ios", apns_limit, lambda: build_apns(message, topic=topic).body),
        "android": _preview(
            "android", FCM_LIMIT, lambda: build_fcm(message, PREVIEW_FCM_TOKEN).body
        ),
        "web": _preview("web", WEBPUSH_LIMIT, lambda: build_webpush(message).body),
    }
