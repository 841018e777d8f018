"""Web Push payload builder: Message -> the JSON a service worker receives, plus headers.

The JSON is documented in ``docs/web-push-payload.md`` and consumed by
``resources/service-worker.js``. Encryption (RFC 8291) happens later, in the
provider; this module only decides the plaintext and the RFC 8030 headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Action, Message, Priority
from pushdeck.core.messages.payloads.budget import WEBPUSH_LIMIT, Budget, check_budget

#: Four weeks: what push services keep at most in practice (RFC 8030 needs *some* TTL).
DEFAULT_TTL = 2_419_200
_URGENCY = {
    Priority.HIGH: "high",
    Priority.NORMAL: "normal",
    Priority.LOW: "low",
    Priority.VERY_LOW: "very-low",
}
# RFC 8030 §5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet.
WEB_TOPIC_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


@dataclass(frozen=True)
class WebPushRequest:
    """What the Web Push provider encrypts and POSTs for one message."""

    notification: Mapping[str, Any]  # the JSON the service worker receives
    body: bytes  # that JSON, UTF-8, compact: the plaintext before encryption
    headers: Mapping[str, str]  # TTL, Urgency and (when set) Topic
    budget: Budget
    padding: int = 0  # zero bytes added inside the encrypted record (``web_padding``)


def webpush_notification(message: Message) -> dict[str, Any]:
    """The notification JSON for ``message`` (no budget check; see ``build_webpush``)."""
    options: dict[str, Any] = {"title": message.web_title or message.title}
    _put(options, "body", message.web_body or message.body)
    _put(options, "icon", message.web_icon)
    _put(options, "badge", message.web_badge)
    _put(options, "image", message.image_url)
    _put(options, "tag", message.web_tag)
    if message.web_require_interaction:
        options["requireInteraction"] = True
    if message.actions:
        options["actions"] = [_action(a) for a in message.actions]
    data = _data(message)
    if data:
        options["data"] = data
    return options


def build_webpush(message: Message) -> WebPushRequest:
    """Build the plaintext and headers; raise ``PayloadError`` if it cannot be sent as is."""
    if message.is_live_activity:
        raise PayloadError(
            "Live Activities exist only on iOS; browsers are not sent this message "
            "(field: live_activity_event)."
        )
    if message.web_declarative:
        notification = declarative_notification(message)
    else:
        notification = webpush_notification(message)
    body = encode_json(notification)
    budget = check_budget("Web Push", body, WEBPUSH_LIMIT, notification)
    # Padding fills the record up to the 4096-byte body every message then has.
    padding = WEBPUSH_LIMIT - len(body) if message.web_padding else 0
    return WebPushRequest(notification, body, webpush_headers(message), budget, padding)


#: The Declarative Web Push format version (the member's value names RFC 8030).
DECLARATIVE_VERSION = 8030


def declarative_notification(message: Message) -> dict[str, Any]:
    """The Declarative Web Push JSON (W3C Push API "declarative push message"; WebKit,
    Safari 18.4+): Safari shows it itself, with no service worker; the example service
    worker shows the same JSON in other browsers.

    ``navigate`` (the page opened on click) and ``title`` are required; each action
    needs its own ``navigate`` (the action's ``url``, else the message's). ``app_badge``
    (top level) sets the app icon's badge; ``mutable`` lets a service worker change the
    notification before it is shown.
    """
    title = message.web_title or message.title
    if not title:
        raise PayloadError("A declarative Web Push needs a title (field: title).")
    if not _is_web_url(message.url):
        raise PayloadError(
            "A declarative Web Push needs an http(s) URL to open on click (field: url).",
            hint="Safari drops a declarative message without one.",
        )
    notification: dict[str, Any] = {"title": title, "navigate": message.url}
    _put(notification, "body", message.web_body or message.body)
    _put(notification, "icon", message.web_icon)
    _put(notification, "badge", message.web_badge)
    _put(notification, "image", message.image_url)
    _put(notification, "tag", message.web_tag)
    if message.web_require_interaction:
        notification["requireInteraction"] = True
    if message.actions:
        notification["actions"] = [
            {**_action(a), "navigate": a.url or message.url} for a in message.actions
        ]
    data = _data(message)
    if data:
        notification["data"] = data
    document: dict[str, Any] = {"web_push": DECLARATIVE_VERSION, "notification": notification}
    if message.badge is not None:
        if message.badge < 0:
            raise PayloadError("The badge cannot be negative (field: badge).")
        document["app_badge"] = message.badge
    if message.mutable_content:
        document["mutable"] = True
    return document


def _is_web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def webpush_headers(message: Message) -> dict[str, str]:
    """The RFC 8030 delivery headers derived from the message."""
    ttl = DEFAULT_TTL if message.ttl_seconds is None else message.ttl_seconds
    if ttl < 0:
        raise PayloadError(
            f"ttl_seconds is {ttl}; Web Push needs a TTL of 0 or more seconds.",
            hint="Use 0 to deliver only to browsers online right now, or leave it unset.",
        )
    headers = {"TTL": str(ttl), "Urgency": web_urgency(message)}
    if message.collapse_id:
        headers["Topic"] = web_topic(message.collapse_id)
    return headers


def web_urgency(message: Message) -> str:
    """RFC 8030 Urgency: normal unless the message asks for another (high only when
    asked: it spends the device's battery)."""
    return "normal" if message.priority is None else _URGENCY[Priority(message.priority)]


def web_topic(collapse_id: str) -> str:
    """Validate ``collapse_id`` as a Web Push ``Topic`` header value."""
    if not WEB_TOPIC_RE.match(collapse_id):
        raise PayloadError(
            f"collapse_id {collapse_id!r} cannot be a Web Push Topic: it must be 1-32 "
            "characters of A-Z, a-z, 0-9, '-' and '_'.",
            hint="Shorten collapse_id or drop spaces and punctuation (push services answer "
            "400 otherwise).",
        )
    return collapse_id


def encode_json(obj: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON: every byte counts against the 3993-byte budget."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _put(target: dict[str, Any], key: str, value: str) -> None:
    if value:
        target[key] = value


def _action(action: Action) -> dict[str, str]:
    out = {"action": action.id, "title": action.title}
    _put(out, "icon", action.icon)
    return out


def _data(message: Message) -> dict[str, Any]:
    # Custom data first, so Pushdeck's own "url" wins: the service worker relies on it.
    data: dict[str, Any] = dict(message.data)
    _put(data, "url", message.url)
    return data
