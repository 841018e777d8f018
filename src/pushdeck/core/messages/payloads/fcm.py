"""Message -> FCM HTTP v1 request body (``{"message": {...}}``). Pure, no I/O.

One message carries every platform's block: ``android`` for Android devices, ``apns``
for iOS devices registered through Firebase, ``webpush`` for browsers. ``data`` values
must be strings on FCM, so every value is stringified here (nested values as JSON).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import AndroidNotificationPriority, Message, Priority, PushType
from pushdeck.core.messages.payloads.apns import (
    build_headers,
    build_payload,
    needs_service_extension,
    push_type_from_aps,
    resolve_push_type,
)
from pushdeck.core.messages.payloads.budget import (
    APNS_LIMIT,
    APNS_VOIP_LIMIT,
    FCM_LIMIT,
    Budget,
    check_budget,
    compact,
    fcm_android_payload,
    fcm_apns_payload,
    fcm_webpush_payload,
)
from pushdeck.core.messages.payloads.webpush import web_urgency

MAX_TTL_SECONDS = 2_419_200  # four weeks: FCM's maximum and default
RESERVED_DATA_KEYS = frozenset({"from", "notification", "message_type"})
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_ANALYTICS_LABEL = re.compile(r"[a-zA-Z0-9\-_.~%]{1,50}")
_WEBPUSH_TOPIC = re.compile(r"[A-Za-z0-9_-]{1,32}")


@dataclass(frozen=True)
class FcmRequest:
    """The ``messages:send`` body as JSON (``payload``) and as the exact bytes sent (``body``).

    Named like ``ApnsRequest``: ``payload`` is the object, ``body`` the bytes.
    """

    payload: Mapping[str, Any]
    body: bytes
    #: FCM's 4096-byte payload budget as FCM counts it (notification + data), which is
    #: what Android devices receive; see ``budget.fcm_android_payload``.
    budget: Budget | None = None  # None for a hand-written body sent as is


def build_fcm(
    message: Message, token: str, *, validate_only: bool = False, live_activity_token: str = ""
) -> FcmRequest:
    """Build the v1 ``messages:send`` body for one registration ``token``.

    A Live Activity message also needs ``live_activity_token`` (the activity's push
    token, or the push-to-start token for a start): FCM reaches the app by ``token`` and
    hands the Live Activity payload on with ``apns.live_activity_token``.
    """
    if not token:
        raise PayloadError("No FCM registration token was given (field: token).")
    fcm = build_message(message)
    if message.is_live_activity:
        if not live_activity_token:
            raise PayloadError(
                "A Live Activity through FCM needs the activity's push token (or the "
                "push-to-start token) besides the app's registration token "
                "(field: live_activity_token)."
            )
        fcm["apns"]["live_activity_token"] = live_activity_token
    elif live_activity_token:
        raise PayloadError(
            "A Live Activity token only receives Live Activity pushes (field: live_activity_token)."
        )
    fcm["token"] = token
    body: dict[str, Any] = {"message": fcm}
    if validate_only:
        body["validate_only"] = True
    budget = check_fcm_budgets(fcm, message)
    return FcmRequest(body, _dumps(body), budget)


def check_fcm_budgets(fcm: Mapping[str, Any], message: Message) -> Budget:
    """Check each platform's payload as FCM and the services behind it count it; return
    the FCM (Android) budget. Raises ``PayloadError`` naming the platform over its limit."""
    android = fcm_android_payload(fcm)
    budget = check_budget("FCM", compact(android), FCM_LIMIT, android)
    apns = fcm_apns_payload(fcm)
    if apns is not None:
        voip = message.push_type is PushType.VOIP
        check_budget("FCM → APNs", compact(apns), APNS_VOIP_LIMIT if voip else APNS_LIMIT, apns)
    web = fcm_webpush_payload(fcm)
    if web is not None:
        check_budget("FCM → Web Push", compact(web), FCM_LIMIT, web)
    return budget


def build_message(message: Message) -> dict[str, Any]:
    """The ``message`` object without its target."""
    if message.is_live_activity:
        # iOS only: no common notification (iOS would show it as an ordinary alert),
        # no Android or web form; the activity's alert is inside aps.
        live: dict[str, Any] = {}
        data = build_data(message)
        if data:
            live["data"] = data
        live["apns"] = build_apns_block(message)
        return live
    fcm: dict[str, Any] = {}
    notification = build_notification(message)
    if notification:
        fcm["notification"] = notification
    data = build_data(message)
    if data:
        fcm["data"] = data
    fcm["android"] = build_android(message)
    apns = build_apns_block(message)
    if apns:
        fcm["apns"] = apns
    fcm["webpush"] = build_webpush(message)
    if message.analytics_label:
        fcm["fcm_options"] = {"analytics_label": analytics_label(message.analytics_label)}
    return fcm


def analytics_label(label: str) -> str:
    """``label`` checked against FCM's pattern (it refuses the whole message otherwise)."""
    if not _ANALYTICS_LABEL.fullmatch(label):
        raise PayloadError(
            f"The analytics label {label!r} must be 1-50 letters, digits or - _ . ~ % "
            "(field: analytics_label)."
        )
    return label


def build_notification(message: Message) -> dict[str, str]:
    notification: dict[str, str] = {}
    for key, value in (("title", message.title), ("body", message.body)):
        if value:
            notification[key] = value
    if message.image_url and notification:
        notification["image"] = message.image_url
    return notification


def build_data(message: Message) -> dict[str, str]:
    """Custom data as FCM wants it: a flat map of strings."""
    data: dict[str, str] = {}
    for key, value in message.data.items():
        _check_data_key(key)
        data[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if message.url and "url" not in data:
        data["url"] = message.url  # the deep link the app opens on tap
    return data


def _check_data_key(key: str) -> None:
    lowered = key.lower()
    if key in RESERVED_DATA_KEYS or lowered.startswith(("google", "gcm")) or not key:
        raise PayloadError(
            f"The data key {key!r} is reserved by FCM (field: data.{key}).",
            hint="Rename it; FCM rejects from, notification, message_type and google*/gcm* keys.",
        )


def build_android(message: Message) -> dict[str, Any]:
    android: dict[str, Any] = {"priority": android_priority(message)}
    if message.ttl_seconds is not None:
        android["ttl"] = f"{_ttl(message.ttl_seconds)}s"
    if message.collapse_id:
        android["collapse_key"] = message.collapse_id
    if message.android_bandwidth_constrained_ok:
        android["bandwidth_constrained_ok"] = True
    notification = build_android_notification(message)
    if notification:
        android["notification"] = notification
    return android


def android_priority(message: Message) -> str:
    """FCM's delivery priority: HIGH when asked, or by default when a notification is
    shown; NORMAL otherwise. Firebase deprioritises apps whose high-priority messages
    show nothing, so data-only and background messages default to NORMAL."""
    if message.priority is None:
        return "NORMAL" if message.is_silent else "HIGH"
    return "HIGH" if message.priority is Priority.HIGH else "NORMAL"


def build_android_notification(message: Message) -> dict[str, Any]:
    if message.is_silent:
        return {}  # a data message: the app handles it, nothing is displayed
    notification: dict[str, Any] = {}
    if message.android_color and not _COLOR.fullmatch(message.android_color):
        raise PayloadError(
            f"The Android color {message.android_color!r} is not #rrggbb (field: android_color)."
        )
    pairs = (
        ("title", message.android_title),  # overrides the common notification's
        ("body", message.android_body),
        ("channel_id", message.android_channel_id),
        ("icon", message.android_icon),
        ("color", message.android_color),
        ("tag", message.android_tag),
        ("click_action", message.category),
        ("image", message.image_url),
        ("sound", android_sound(message)),
        ("title_loc_key", message.title_loc_key),
        ("body_loc_key", message.body_loc_key),
        ("event_time", _event_time(message.android_event_time)),
    )
    notification.update((key, value) for key, value in pairs if value)
    if message.title_loc_args:
        notification["title_loc_args"] = list(message.title_loc_args)
    if message.body_loc_args:
        notification["body_loc_args"] = list(message.body_loc_args)
    if message.android_visibility is not None:
        notification["visibility"] = message.android_visibility.value.upper()
    if message.android_notification_priority is not None:
        level = AndroidNotificationPriority(message.android_notification_priority)
        notification["notification_priority"] = f"PRIORITY_{level.value.upper()}"
    if message.android_sticky:
        notification["sticky"] = True
    if message.badge is not None:
        notification["notification_count"] = message.badge
    return notification


def android_sound(message: Message) -> str:
    """The Android sound: its own field, else "default" when the iOS sound is "default"
    (an iOS file such as chime.caf means nothing on Android)."""
    if message.android_sound:
        return message.android_sound
    return "default" if message.sound == "default" else ""


def _event_time(value: str) -> str:
    """RFC 3339 in UTC with a "Z", as FCM's Timestamp wants it ("" stays "")."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise PayloadError(
            f"The event time {value!r} is not an RFC 3339 time with an offset, like "
            "2026-05-01T09:30:00Z (field: android_event_time)."
        )
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def build_apns_block(message: Message) -> dict[str, Any]:
    """Headers and payload for iOS devices reached through FCM (FCM adds the topic).

    A data-only message (nothing visible, no content-available) has no iOS form: iOS
    would drop it, so the block is left out and FCM sends the data alone.
    """
    invisible = message.is_silent and message.badge is None and not message.sound
    if invisible and not message.content_available and not message.is_live_activity:
        return {}
    push_type = resolve_push_type(message)
    headers = build_headers(message, push_type, topic="fcm")
    del headers["apns-topic"]  # FCM sets the topic from the Firebase iOS app
    payload = build_payload(message, push_type)
    payload.pop("url", None)  # custom data travels in FCM's top-level data instead
    for key in message.data:
        payload.pop(key, None)
    if not message.is_live_activity:
        _drop_common_text(payload["aps"], "alert", build_notification(message))
    block: dict[str, Any] = {"headers": headers, "payload": payload}
    if needs_service_extension(message, push_type):
        # Firebase's documented form: the image in apns.fcm_options.image and
        # mutable-content 1 in aps (build_payload set it), for the app's extension.
        block["fcm_options"] = {"image": message.image_url}
    return block


def type_native_apns_block(message: dict[str, Any], push_type: PushType | None) -> None:
    """Give a hand-written FCM message's ``apns`` block the push type its ``aps`` calls
    for (or ``push_type``), unless it already names one in ``apns-push-type``."""
    apns = message.get("apns")
    payload = apns.get("payload") if isinstance(apns, dict) else None
    aps = payload.get("aps") if isinstance(payload, dict) else None
    if not isinstance(apns, dict) or not isinstance(aps, dict):
        return
    headers = apns.setdefault("headers", {})
    if not isinstance(headers, dict) or "apns-push-type" in headers:
        return
    headers["apns-push-type"] = (push_type or push_type_from_aps(aps)).value


def build_webpush(message: Message) -> dict[str, Any]:
    headers: dict[str, str] = {"Urgency": web_urgency(message)}
    if message.ttl_seconds is not None:
        headers["TTL"] = str(_ttl(message.ttl_seconds))
    if message.collapse_id:
        if not _WEBPUSH_TOPIC.fullmatch(message.collapse_id):
            raise PayloadError(
                "The collapse id must be at most 32 letters, digits, '-' or '_' to be a "
                "Web Push Topic (field: collapse_id)."
            )
        headers["Topic"] = message.collapse_id
    webpush: dict[str, Any] = {"headers": headers}
    notification = build_web_notification(message)
    holder = {"notification": notification}
    _drop_common_text(holder, "notification", build_notification(message))
    notification = holder.get("notification", {})
    if notification:
        webpush["notification"] = notification
    if message.url.startswith("https://"):
        webpush["fcm_options"] = {"link": message.url}
    return webpush


def build_web_notification(message: Message) -> dict[str, Any]:
    if message.is_silent:
        return {}
    pairs = (
        ("title", message.web_title or message.title),
        ("body", message.web_body or message.body),
        ("icon", message.web_icon),
        ("image", message.image_url),
        ("badge", message.web_badge),
        ("tag", message.web_tag),
    )
    notification: dict[str, Any] = {key: value for key, value in pairs if value}
    if message.web_require_interaction:
        notification["requireInteraction"] = True
    if message.actions:
        notification["actions"] = [_web_action(a.id, a.title, a.icon) for a in message.actions]
    return notification


def _drop_common_text(parent: dict[str, Any], key: str, common: Mapping[str, str]) -> None:
    """Leave out of ``parent[key]`` the title and body that the common ``notification``
    already carries (FCM copies them into the apns and webpush forms itself); an
    override that differs stays. Removes ``parent[key]`` when nothing else is left."""
    block = parent.get(key)
    if not isinstance(block, dict):
        return
    for field in ("title", "body"):
        if field in common and block.get(field) == common[field]:
            del block[field]
    if not block:
        del parent[key]


def _web_action(action: str, title: str, icon: str) -> dict[str, str]:
    entry = {"action": action, "title": title}
    if icon:
        entry["icon"] = icon
    return entry


def _ttl(seconds: int) -> int:
    if not 0 <= seconds <= MAX_TTL_SECONDS:
        raise PayloadError(
            f"The time to live must be 0–{MAX_TTL_SECONDS} seconds (four weeks) on FCM "
            "(field: ttl_seconds)."
        )
    return seconds


def _dumps(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
