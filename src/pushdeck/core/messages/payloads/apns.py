"""Message -> APNs request (JSON body plus apns-* headers). Pure: no I/O, no clock reads
unless ``now`` is omitted.

The push type, topic suffix and priority are derived together so they can never
disagree with the payload (a background push with priority 10, or an alert sent as
``background``, is rejected by APNs or silently dropped by iOS).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Message, Priority, PushType
from pushdeck.core.messages.payloads.budget import APNS_LIMIT, APNS_VOIP_LIMIT, check_budget
from pushdeck.core.messages.payloads.live_activity import build_live_activity_aps

#: apns-topic suffix per push type (appended to the bundle id).
TOPIC_SUFFIX: Mapping[PushType, str] = {
    PushType.ALERT: "",
    PushType.BACKGROUND: "",
    PushType.VOIP: ".voip",
    PushType.COMPLICATION: ".complication",
    PushType.FILEPROVIDER: ".pushkit.fileprovider",
    PushType.LIVEACTIVITY: ".push-type.liveactivity",
    PushType.LOCATION: ".location-query",
    PushType.MDM: "",  # the MDM topic is the certificate's UID, used as given
    PushType.PUSHTOTALK: ".voip-ptt",
    PushType.WIDGETS: ".push-type.widgets",
    PushType.CONTROLS: ".push-type.controls",
}
#: Push types that only ask the system to reload something: ``aps`` is
#: ``{"content-changed": true}`` and nothing is shown.
RELOAD_TYPES = frozenset({PushType.WIDGETS, PushType.CONTROLS})
_PRIORITY = {Priority.HIGH: "10", Priority.NORMAL: "5", Priority.LOW: "1", Priority.VERY_LOW: "1"}
#: Apple: a Live Activity push takes priority 5 or 10, and a location query is never
#: deferred to priority 1 either; a lower one asked for becomes 5.
_NEVER_PRIORITY_1 = frozenset({PushType.LIVEACTIVITY, PushType.LOCATION})
MAX_COLLAPSE_ID_BYTES = 64
#: The top-level payload key that carries ``image_url`` to the app's Notification Service
#: Extension (docs/ios-images.md). iOS itself never downloads it.
IMAGE_KEY = "image_url"


@dataclass(frozen=True)
class ApnsRequest:
    """Everything APNs needs besides the device token and the authorization header."""

    payload: Mapping[str, Any]
    body: bytes
    headers: Mapping[str, str]
    push_type: PushType

    @property
    def topic(self) -> str:
        return self.headers["apns-topic"]


def build_apns(
    message: Message, *, topic: str, notification_id: str = "", now: float | None = None
) -> ApnsRequest:
    """Build the APNs request for ``message`` sent to the app ``topic`` (bundle id).

    Raises ``PayloadError`` naming the offending field when the message cannot be sent
    as is (over budget, push type contradicting the content, bad values).
    """
    push_type = resolve_push_type(message)
    payload = build_payload(message, push_type, now)
    if push_type is PushType.ALERT and not {"alert", "badge", "sound"} & set(payload["aps"]):
        raise PayloadError(
            "Nothing would be shown on iOS: the message's text is for other platforms only "
            "(field: ios_title).",
            hint="Set a title or body for iOS, or leave iOS devices out of the audience.",
        )
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    limit = APNS_VOIP_LIMIT if push_type is PushType.VOIP else APNS_LIMIT
    check_budget("APNs", body, limit, payload)
    headers = build_headers(message, push_type, topic, notification_id, now)
    return ApnsRequest(payload, body, headers, push_type)


def resolve_push_type(message: Message) -> PushType:
    """The message's push type, or the one its content implies."""
    visible = not message.is_silent or message.badge is not None or bool(message.sound)
    if message.is_live_activity:
        if message.push_type not in (None, PushType.LIVEACTIVITY):
            raise PayloadError(
                "A Live Activity start, update or end is sent as push type liveactivity "
                "(field: push_type)."
            )
        return PushType.LIVEACTIVITY
    if message.push_type is None:
        if visible:
            return PushType.ALERT
        if message.content_available:
            return PushType.BACKGROUND
        raise PayloadError(
            "The message has nothing to show and is not a background update (field: body).",
            hint="Add a title or body, or turn on content-available for a silent update.",
        )
    push_type = PushType(message.push_type)  # also accepts the plain string value
    if push_type is PushType.BACKGROUND and (visible or not message.content_available):
        raise PayloadError(
            "A background push must carry content-available and nothing visible "
            "(field: push_type).",
            hint="Remove title/body/badge/sound, or send it as an alert push.",
        )
    if push_type in RELOAD_TYPES and visible:
        raise PayloadError(
            f"A {push_type.value} push only reloads; it cannot show a title, body, badge or "
            "sound (field: push_type).",
            hint="Send the alert as a separate push.",
        )
    return push_type


def push_type_from_aps(aps: Mapping[str, Any]) -> PushType:
    """The push type a native ``aps`` dictionary calls for, read from all of it.

    ``content-state`` or ``event`` make a Live Activity push (which may also carry an
    alert); ``alert``, ``badge`` or ``sound`` an alert (a badge-only or sound-only
    payload is a valid alert); ``content-changed`` a widgets reload; ``content-available``
    alone a background push. Other types (VoIP, location, complication, controls, …)
    cannot be told from the payload and must be named.
    """
    if not isinstance(aps, Mapping):
        raise PayloadError("The payload's 'aps' must be a JSON object (field: aps).")
    if "content-state" in aps or "event" in aps:
        return PushType.LIVEACTIVITY
    if any(key in aps for key in ("alert", "badge", "sound")):
        return PushType.ALERT
    if aps.get("content-changed") is True:
        return PushType.WIDGETS
    if aps.get("content-available") == 1:
        return PushType.BACKGROUND
    raise PayloadError(
        "The payload's aps has nothing that tells its push type (no alert, badge, sound, "
        "content-available, content-state or event) (field: aps).",
        hint="Name it with --push-type (voip, location, complication, controls, …).",
    )


def native_apns_request(
    payload: Mapping[str, Any],
    *,
    topic: str,
    push_type: PushType | None = None,
    notification_id: str = "",
    now: float | None = None,
) -> ApnsRequest:
    """An APNs request for a payload written by hand (``pushdeck push --payload``).

    The body is sent byte for byte as the JSON given (compact); the push type comes
    from ``push_type`` or from the whole ``aps`` (``push_type_from_aps``), and the topic
    suffix and priority follow from it exactly as for a composed message.
    """
    aps = payload.get("aps")
    if not isinstance(aps, Mapping):
        raise PayloadError("A native APNs payload needs an 'aps' object (field: aps).")
    kind = PushType(push_type) if push_type is not None else push_type_from_aps(aps)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    check_budget("APNs", body, APNS_VOIP_LIMIT if kind is PushType.VOIP else APNS_LIMIT, payload)
    headers = build_headers(Message(), kind, topic, notification_id, now)
    return ApnsRequest(payload, body, headers, kind)


def build_headers(
    message: Message,
    push_type: PushType,
    topic: str,
    notification_id: str = "",
    now: float | None = None,
) -> dict[str, str]:
    """The apns-* headers: type, topic with its suffix, priority, expiration, collapse, id."""
    if not topic or not topic.isprintable():
        raise PayloadError("No valid APNs topic (bundle id) is configured (field: topic).")
    headers = {
        "apns-push-type": push_type.value,
        "apns-topic": topic + TOPIC_SUFFIX[push_type],
        "apns-priority": apns_priority(message, push_type),
    }
    if message.ttl_seconds is not None:
        if message.ttl_seconds < 0:
            raise PayloadError("The time to live cannot be negative (field: ttl_seconds).")
        expires = 0 if message.ttl_seconds == 0 else int(now or time.time()) + message.ttl_seconds
        headers["apns-expiration"] = str(expires)
    if message.collapse_id:
        if not message.collapse_id.isprintable():
            raise PayloadError("The collapse id contains control characters (field: collapse_id).")
        size = len(message.collapse_id.encode())
        if size > MAX_COLLAPSE_ID_BYTES:
            raise PayloadError(
                f"The collapse id is {size} bytes; APNs allows {MAX_COLLAPSE_ID_BYTES} "
                "(field: collapse_id)."
            )
        headers["apns-collapse-id"] = message.collapse_id
    apns_id = canonical_uuid(notification_id)
    if apns_id:
        headers["apns-id"] = apns_id
    return headers


def apns_priority(message: Message, push_type: PushType) -> str:
    """The apns-priority for ``message`` as ``push_type``: what was asked, within Apple's
    rules (background always 5; Live Activity and location never 1); unset → 10."""
    if push_type is PushType.BACKGROUND:
        return "5"  # Apple: background pushes must use priority 5; 10 is an error
    if message.priority is None:
        return "10"
    value = _PRIORITY[Priority(message.priority)]
    if value == "1" and push_type in _NEVER_PRIORITY_1:
        return "5"
    return value


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: str) -> str:
    """``value`` as a lowercase 8-4-4-4-12 UUID, or "" when it is not a UUID."""
    if not value:
        return ""
    if _CANONICAL_UUID.fullmatch(value):  # already canonical (every campaign send's id)
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


def build_payload(
    message: Message, push_type: PushType, now: float | None = None
) -> dict[str, Any]:
    """The JSON object: ``aps`` plus the custom data at top level."""
    if "aps" in message.data:
        raise PayloadError("Custom data cannot use the key 'aps' (field: data.aps).")
    if push_type is PushType.LIVEACTIVITY:
        aps = build_live_activity_aps(message, time.time() if now is None else now)
    else:
        aps = build_aps(message, push_type)
    payload: dict[str, Any] = {"aps": aps}
    if message.url and "url" not in message.data:
        payload["url"] = message.url  # the deep link the app opens on tap
    if needs_service_extension(message, push_type) and IMAGE_KEY not in message.data:
        payload[IMAGE_KEY] = message.image_url
    payload.update(message.data)
    return payload


def needs_service_extension(message: Message, push_type: PushType | None = None) -> bool:
    """True when iOS can show this message's image only through the app's Notification
    Service Extension: an alert with ``image_url`` (iOS never downloads images itself).

    The builder then sets ``mutable-content: 1`` so the extension runs; previews and lint
    use it to say the image depends on the app.
    """
    if not message.image_url:
        return False
    if push_type is None:
        try:
            push_type = resolve_push_type(message)
        except PayloadError:
            return False
    return push_type is PushType.ALERT


def build_aps(message: Message, push_type: PushType) -> dict[str, Any]:
    aps: dict[str, Any] = {}
    alert = build_alert(message)
    if alert:
        aps["alert"] = alert
    if message.badge is not None:
        if message.badge < 0:
            raise PayloadError("The badge cannot be negative (field: badge).")
        aps["badge"] = message.badge
    sound = build_sound(message)
    if sound:
        aps["sound"] = sound
    _put(aps, "thread-id", message.thread_id)
    _put(aps, "category", message.category)
    if message.content_available:
        aps["content-available"] = 1
    if push_type in RELOAD_TYPES:
        aps["content-changed"] = True
    if message.mutable_content or needs_service_extension(message, push_type):
        aps["mutable-content"] = 1
    if message.interruption_level is not None:
        aps["interruption-level"] = message.interruption_level.value
    _put(aps, "target-content-id", message.target_content_id)
    _put(aps, "filter-criteria", message.filter_criteria)
    if message.relevance_score is not None:
        _check_relevance(message.relevance_score, push_type)
        aps["relevance-score"] = message.relevance_score
    return aps


def build_alert(message: Message) -> dict[str, Any]:
    alert: dict[str, Any] = {}
    _put(alert, "title", message.ios_title or message.title)
    _put(alert, "subtitle", message.subtitle)
    _put(alert, "body", message.ios_body or message.body)
    _put(alert, "title-loc-key", message.title_loc_key)
    if message.title_loc_args:
        alert["title-loc-args"] = list(message.title_loc_args)
    _put(alert, "loc-key", message.body_loc_key)
    if message.body_loc_args:
        alert["loc-args"] = list(message.body_loc_args)
    return alert


def build_sound(message: Message) -> str | dict[str, Any]:
    if not message.critical_sound:
        return message.sound
    if not 0.0 <= message.critical_volume <= 1.0:
        raise PayloadError("The critical alert volume must be 0.0–1.0 (field: critical_volume).")
    # The dict form is the only way to ask for a critical alert sound.
    return {"critical": 1, "name": message.sound or "default", "volume": message.critical_volume}


def _check_relevance(score: float, push_type: PushType) -> None:
    # Live Activities accept any number; notifications expect 0–1.
    if push_type is not PushType.LIVEACTIVITY and not 0.0 <= score <= 1.0:
        raise PayloadError("The relevance score must be 0.0–1.0 (field: relevance_score).")


def _put(target: dict[str, Any], key: str, value: str) -> None:
    if value:
        target[key] = value
