"""APNs request bodies for a campaign: built once per localized message, spliced per
recipient (``payloads.splice``), byte for byte what ``build_apns`` gives.

Building and JSON-encoding the whole payload for each of a million recipients, when
only ``{{ first_name }}`` differs, was a measurable share of a send's CPU (issue 19).
"""

from __future__ import annotations

from collections.abc import Mapping

from pushdeck.core.common.model import Message, PushType
from pushdeck.core.messages.payloads.apns import build_apns, build_headers, resolve_push_type
from pushdeck.core.messages.payloads.budget import APNS_LIMIT, APNS_VOIP_LIMIT
from pushdeck.core.messages.payloads.splice import BodyTemplate, all_texts, body_template
from pushdeck.core.messages.personalized import Field, personalized_from

#: Localized messages kept templated at once (a campaign has a few per variant × locale).
MAX_TEMPLATES = 256


class ApnsBodies:
    """``build_apns`` for one topic, with a template per (localized message, fields)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        # id(base) -> (base, fields, push type, template or None); the base is kept so
        # that its id cannot be reused by another message while the entry lives.
        self._templates: dict[
            int, tuple[Message, tuple[Field, ...], PushType, BodyTemplate | None]
        ] = {}

    def build(self, message: Message, notification_id: str) -> tuple[bytes, Mapping[str, str]]:
        """The body and apns-* headers for ``message`` (``PayloadError`` as ``build_apns``)."""
        origin = personalized_from(message)
        if origin is not None:
            entry = self._template(message, *origin)
            if entry is not None:
                push_type, template = entry
                body = template.fill(message)
                if body is not None:
                    headers = build_headers(message, push_type, self.topic, notification_id)
                    return body, headers
        request = build_apns(message, topic=self.topic, notification_id=notification_id)
        return request.body, request.headers

    def _template(
        self, message: Message, base: Message, fields: tuple[Field, ...]
    ) -> tuple[PushType, BodyTemplate] | None:
        entry = self._templates.get(id(base))
        if entry is None or entry[0] is not base or entry[1] != fields:
            if not all_texts(message, fields):
                return None  # made (and checked) from a recipient whose texts are all set
            entry = (base, fields, *self._make(message, fields))
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()
            self._templates[id(base)] = entry
        _, _, push_type, template = entry
        return None if template is None else (push_type, template)

    def _make(
        self, message: Message, fields: tuple[Field, ...]
    ) -> tuple[PushType, BodyTemplate | None]:
        try:
            push_type = resolve_push_type(message)
        except Exception:  # noqa: BLE001 - build_apns says what is wrong, per message
            return PushType.ALERT, None
        if push_type is PushType.LIVEACTIVITY:
            return push_type, None  # its payload carries the time it was built
        limit = APNS_VOIP_LIMIT if push_type is PushType.VOIP else APNS_LIMIT
        template = body_template(
            lambda m: build_apns(m, topic=self.topic).body, message, fields, limit
        )
        return push_type, template
