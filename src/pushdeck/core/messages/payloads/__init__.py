"""Pure payload builders: Message + Device -> APNs / FCM / Web Push requests.

This is the facade the composer and the dispatcher import; each platform's builder
lives in its own module.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pushdeck.core.common.errors import PushdeckError
from pushdeck.core.common.model import Message, PushType
from pushdeck.core.messages.payloads.apns import build_apns, needs_service_extension
from pushdeck.core.messages.payloads.budget import (
    APNS_LIMIT,
    APNS_VOIP_LIMIT,
    FCM_LIMIT,
    WEBPUSH_LIMIT,
    Budget,
    PayloadTooLargeError,
    check_budget,
    largest_fields,
)
from pushdeck.core.messages.payloads.fcm import build_fcm
from pushdeck.core.messages.payloads.lint import LintWarning, Severity, lint
from pushdeck.core.messages.payloads.live_activity import accepted_token_kinds
from pushdeck.core.messages.payloads.webpush import (
    WebPushRequest,
    build_webpush,
    webpush_notification,
)

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
    "accepted_token_kinds",
    "build_apns",
    "build_fcm",
    "build_webpush",
    "check_budget",
    "largest_fields",
    "lint",
    "needs_service_extension",
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
    size: int  # bytes as the provider counts them (see preview_payloads), 0 when unknown
    limit: int
    error: str = ""  # why it cannot be sent as is; "" when fine

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def over(self) -> int:
        """Bytes over the platform's limit (0 when it fits or was not built)."""
        return max(0, self.size - self.limit)


def _preview(platform: str, limit: int, build: Callable[[], tuple[bytes, int]]) -> PayloadPreview:
    try:
        body, size = build()
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
    return PayloadPreview(platform, text, size, limit)


def preview_payloads(
    message: Message, *, topic: str = "com.example.app"
) -> dict[str, PayloadPreview]:
    """Per platform ("ios", "android", "web"): pretty JSON, size, limit and any error.

    ``size`` is measured the way the provider measures it (see ``budget``): the APNs
    body; for Android the FCM payload (notification + data), not the whole request; the
    Web Push plaintext.
    """
    apns_limit = APNS_VOIP_LIMIT if message.push_type is PushType.VOIP else APNS_LIMIT

    def android() -> tuple[bytes, int]:
        request = build_fcm(message, PREVIEW_FCM_TOKEN)
        return request.body, request.budget.size if request.budget else len(request.body)

    if message.is_live_activity:
        android_preview = PayloadPreview(
            "android",
            "",
            0,
            FCM_LIMIT,
            "Live Activities exist only on iOS; Android devices are not sent this message.",
        )
    else:
        android_preview = _preview("android", FCM_LIMIT, android)
    return {
        "ios": _preview("ios", apns_limit, lambda: _sized(build_apns(message, topic=topic).body)),
        "android": android_preview,
        "web": _preview("web", WEBPUSH_LIMIT, lambda: _sized(build_webpush(message).body)),
    }


def _sized(body: bytes) -> tuple[bytes, int]:
    return body, len(body)
