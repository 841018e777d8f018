"""APNs request bodies for a campaign: built once per localized message, spliced per
recipient (``payloads.splice``), byte for byte what ``build_apns`` gives.

Building and JSON-encoding the whole payload for each of a million recipients, when
only ``{{ first_name }}`` differs, was a measurable share of a send's CPU (issue 19).
"""

from __future__ import annotations

from collections.abc import Mapping

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Message, PushType
from pushdeck.core.messages.payloads.apns import build_apns, build_headers, resolve_push_type
from pushdeck.core.messages.payloads.budget import APNS_LIMIT, APNS_VOIP_LIMIT
from pushdeck.core.messages.payloads.splice import Templates


class ApnsBodies:
    """``build_apns`` for one topic, spliced for personalized messages."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.templates = Templates(
            lambda m: build_apns(m, topic=topic).body, _limit, resolve_push_type
        )

    def build(self, message: Message, notification_id: str) -> tuple[bytes, Mapping[str, str]]:
        """The body and apns-* headers for ``message`` (``PayloadError`` as ``build_apns``)."""
        spliced = self.templates.body(message)
        if spliced is not None:
            body, push_type = spliced
            return body, build_headers(message, push_type, self.topic, notification_id)
        request = build_apns(message, topic=self.topic, notification_id=notification_id)
        return request.body, request.headers


def _limit(message: Message) -> int | None:
    try:
        push_type = resolve_push_type(message)
    except PayloadError:
        return None  # build_apns says what is wrong, per message
    if push_type is PushType.LIVEACTIVITY:
        return None  # its payload carries the time it was built
    return APNS_VOIP_LIMIT if push_type is PushType.VOIP else APNS_LIMIT
