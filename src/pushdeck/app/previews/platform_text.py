"""What each platform's previews show of a message: its per-platform title and body.

``ios_title``, ``android_body`` and the rest replace the common text on that platform only
(the payload builders do the same), so each preview column draws the message its platform
is sent, not the common one.
"""

from __future__ import annotations

from dataclasses import replace

from pushdeck.app.previews.base import RenderContext, StateSpec
from pushdeck.core.common.model import Message

#: Preview group -> the prefix of its per-platform fields (Live Activities are iOS only).
_PREFIX = {
    "iOS": "ios",
    "Lock Screen": "ios",
    "Dynamic Island": "ios",
    "Android": "android",
    "Web": "web",
}


def platform_message(group: str, message: Message) -> Message:
    """``message`` as the platform of ``group`` shows it (its overrides applied)."""
    prefix = _PREFIX.get(group)
    if prefix is None:
        return message
    title = getattr(message, f"{prefix}_title") or message.title
    body = getattr(message, f"{prefix}_body") or message.body
    if title == message.title and body == message.body:
        return message
    return replace(message, title=title, body=body)


def for_state(state: StateSpec, ctx: RenderContext) -> RenderContext:
    """``ctx`` with the message the state's platform is sent."""
    message = platform_message(state.group, ctx.message)
    return ctx if message is ctx.message else replace(ctx, message=message)
