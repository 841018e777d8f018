"""Live Activity pushes (ActivityKit): the ``aps`` of a start, update or end, and which
device tokens accept which message.

A Live Activity is updated with its own push token, started remotely (iOS 17.2+) with
the app's push-to-start token, and never reached through the app's device token; an
ordinary alert must never go to either Live Activity token. ``accepted_token_kinds`` is
the one place that rule lives: campaigns exclude the other kinds, the dispatcher checks
each rendered message again.
"""

from __future__ import annotations

import json
from typing import Any

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import LiveActivityEvent, Message, PushType, TokenKind

#: Device attribute holding the app's FCM registration token for a Live Activity (or
#: push-to-start) token reached through FCM: FCM addresses the app by its registration
#: token and hands the Live Activity token on in ``apns.live_activity_token``.
FCM_TOKEN_ATTRIBUTE = "fcm_token"
#: Timestamps above this are milliseconds, not the seconds ActivityKit expects.
_LATEST_SECONDS = 10**11


def accepted_token_kinds(message: Message) -> frozenset[TokenKind]:
    """The token kinds that can receive ``message``."""
    event = message.live_activity_event
    if event is LiveActivityEvent.START:
        return frozenset({TokenKind.PUSHTOSTART})
    if event is not None or message.push_type is PushType.LIVEACTIVITY:
        return frozenset({TokenKind.LIVEACTIVITY})
    if message.push_type in (PushType.WIDGETS, PushType.CONTROLS):
        # Widget and control reloads use their own push tokens, which the device store
        # does not hold: they are sent one at a time with ``pushdeck push``.
        return frozenset()
    return frozenset({TokenKind.DEVICE})


def build_live_activity_aps(message: Message, now: float) -> dict[str, Any]:
    """``aps`` for a Live Activity start, update or end; ``now`` is its timestamp."""
    event = message.live_activity_event
    if event is None:
        raise PayloadError(
            "A Live Activity push needs an event: start, update or end "
            "(field: live_activity_event)."
        )
    event = LiveActivityEvent(event)
    aps: dict[str, Any] = {"timestamp": int(now), "event": event.value}
    if message.content_state:
        aps["content-state"] = _json_object(message.content_state, "content_state")
    elif event is not LiveActivityEvent.END:
        raise PayloadError(
            f"A Live Activity {event.value} needs a content-state: the JSON of the "
            "activity's ContentState (field: content_state)."
        )
    if message.stale_date is not None:
        aps["stale-date"] = _seconds(message.stale_date, "stale_date")
    if message.dismissal_date is not None:
        if event is not LiveActivityEvent.END:
            raise PayloadError("Only an end event takes a dismissal date (field: dismissal_date).")
        aps["dismissal-date"] = _seconds(message.dismissal_date, "dismissal_date")
    if message.relevance_score is not None:
        aps["relevance-score"] = message.relevance_score  # any number for Live Activities
    if event is LiveActivityEvent.START:
        if not message.activity_attributes_type:
            raise PayloadError(
                "A push-to-start needs the ActivityAttributes type name "
                "(field: activity_attributes_type)."
            )
        aps["attributes-type"] = message.activity_attributes_type
        aps["attributes"] = _json_object(message.activity_attributes, "activity_attributes")
    elif message.activity_attributes_type or message.activity_attributes:
        raise PayloadError(
            "Only a start event carries attributes; an update or end changes the "
            "content-state (field: activity_attributes)."
        )
    alert = live_activity_alert(message)
    if alert:
        aps["alert"] = alert
    return aps


def live_activity_alert(message: Message) -> dict[str, Any]:
    """The optional alert shown with a Live Activity push (title, body and sound)."""
    alert: dict[str, Any] = {}
    title = _text(message.ios_title or message.title, message.title_loc_key, message.title_loc_args)
    body = _text(message.ios_body or message.body, message.body_loc_key, message.body_loc_args)
    if title:
        alert["title"] = title
    if body:
        alert["body"] = body
    if alert and message.sound:
        alert["sound"] = message.sound
    return alert


def _text(text: str, loc_key: str, loc_args: tuple[str, ...]) -> str | dict[str, Any]:
    if loc_key:
        return {"loc-key": loc_key, "loc-args": list(loc_args)}
    return text


def _seconds(value: int, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PayloadError(f"{field} must be UNIX seconds (a whole number) (field: {field}).")
    if value > _LATEST_SECONDS:
        raise PayloadError(
            f"{field} is {value}, which looks like milliseconds; ActivityKit expects UNIX "
            f"seconds (field: {field})."
        )
    return value


def _json_object(value: Any, field: str) -> dict[str, Any]:
    try:
        copy = json.loads(json.dumps(value, ensure_ascii=False))
    except (TypeError, ValueError):
        raise PayloadError(f"{field} must be plain JSON (field: {field}).") from None
    if not isinstance(copy, dict):
        raise PayloadError(f"{field} must be a JSON object (field: {field}).")
    return copy
