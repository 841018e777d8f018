"""A payload body built once with holes where the personalized texts go (issue 19).

``body_template(build, message, fields)`` builds the body of ``message`` through the
platform's own builder, with each personalized text replaced by a unique marker, and
cuts the JSON at the markers. ``fill(message)`` then joins the constant pieces with
each recipient's texts JSON-encoded exactly as ``json.dumps`` encodes them, which is
the builder's output byte for byte: a JSON string's encoding does not depend on where
it stands. A template is only made when every marker lands in the body exactly once or
not at all, and it is checked against the builder on the message that made it.

``fill`` answers None (build the payload in full) for anything the template cannot
vouch for: an empty text (builders leave empty fields out), a value that is not a
string, or a body over the platform's limit (the builder then raises its precise
error).
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

from pushdeck.core.common.errors import PayloadError
from pushdeck.core.common.model import Message
from pushdeck.core.messages.personalized import Field, field_value, personalized_from

#: Localized messages kept templated at once (a campaign has a few per variant × locale).
MAX_TEMPLATES = 256


def _encoded(text: str) -> bytes:
    # json.dumps(text, ensure_ascii=False) without its quotes, as the builders encode it.
    return str(encode_basestring(text))[1:-1].encode()


def _with(message: Message, values: dict[Field, str]) -> Message:
    copy = object.__new__(Message)
    copy.__dict__.update(message.__dict__)
    data = None
    for field, value in values.items():
        if isinstance(field, tuple):
            data = dict(message.data) if data is None else data
            data[field[1]] = value
        else:
            copy.__dict__[field] = value
    if data is not None:
        copy.__dict__["data"] = data
    return copy


class BodyTemplate:
    """Constant body pieces around the holes of ``fields`` (in body order)."""

    __slots__ = ("fields", "limit", "pieces", "unused")

    def __init__(
        self, pieces: list[bytes], fields: list[Field], unused: list[Field], limit: int
    ) -> None:
        self.pieces = pieces
        self.fields = fields
        self.unused = unused  # personalized, not in the body: only their emptiness matters
        self.limit = limit

    def fill(self, message: Message) -> bytes | None:
        """The body for ``message``, or None when it must be built in full."""
        for field in self.unused:
            value = field_value(message, field)
            if type(value) is not str or not value:
                return None
        pieces = self.pieces
        out = [pieces[0]]
        for index, field in enumerate(self.fields, 1):
            value = field_value(message, field)
            if type(value) is not str or not value:
                return None
            out.append(_encoded(value))
            out.append(pieces[index])
        body = b"".join(out)
        return body if len(body) <= self.limit else None


def all_texts(message: Message, fields: tuple[Field, ...]) -> bool:
    """Every field of ``message`` in ``fields`` is a non-empty string (what a template
    is made from: an empty text may change the payload's shape)."""
    for field in fields:
        value = field_value(message, field)
        if type(value) is not str or not value:
            return False
    return True


def body_template(
    build: Callable[[Message], bytes],
    message: Message,
    fields: tuple[Field, ...],
    limit: int,
) -> BodyTemplate | None:
    """The template of ``build`` for messages that differ from ``message`` only in the
    texts of ``fields``, or None when the builder cannot be templated that way."""
    if not all_texts(message, fields):
        return None
    markers = {field: f"\ue000{index}\ue001" for index, field in enumerate(fields)}
    try:
        body = build(_with(message, markers))
    except PayloadError:
        return None  # each message is built in full, and says what is wrong itself
    found = []
    for field, marker in markers.items():
        encoded = _encoded(marker)
        count = body.count(encoded)
        if count > 1:
            return None
        if count == 1:
            found.append((body.index(encoded), field, encoded))
    found.sort(key=lambda item: item[0])
    pieces, position = [], 0
    for start, _, encoded in found:
        pieces.append(body[position:start])
        position = start + len(encoded)
    pieces.append(body[position:])
    placed = [field for _, field, _ in found]
    unused = [field for field in fields if field not in placed]
    template = BodyTemplate(pieces, placed, unused, limit)
    try:
        if template.fill(message) != build(message):
            return None  # the builder changes the texts: never splice for it
    except PayloadError:
        return None
    return template


class Templates:
    """A builder's templates, one per localized message a campaign personalizes.

    ``body(message)`` is the builder's body for a personalized message, or None (build
    it in full): the message was not personalized, the builder cannot be templated
    for it (``limit_for`` answers None, e.g. a payload that carries the time), or
    ``fill`` declines. ``constant(message)`` is worked out once per localized message
    with the template and handed back with each body (e.g. headers).
    """

    def __init__(
        self,
        build: Callable[[Message], bytes],
        limit_for: Callable[[Message], int | None],
        constant: Callable[[Message], Any] = lambda message: None,
    ) -> None:
        self._build = build
        self._limit_for = limit_for
        self._constant = constant
        # id(base) -> (base, fields, template or None, constant); the base is held so
        # its id cannot be reused by another message while the entry lives.
        self._entries: dict[int, tuple[Message, tuple[Field, ...], BodyTemplate | None, Any]] = {}

    def body(self, message: Message) -> tuple[bytes, Any] | None:
        origin = personalized_from(message)
        if origin is None:
            return None
        base, fields = origin
        entry = self._entries.get(id(base))
        if entry is None or entry[0] is not base or entry[1] != fields:
            if not all_texts(message, fields):
                return None  # made (and checked) from a recipient whose texts are all set
            limit = self._limit_for(message)
            template = (
                None if limit is None else body_template(self._build, message, fields, limit)
            )
            constant = self._constant(message) if template is not None else None
            if len(self._entries) >= MAX_TEMPLATES:
                self._entries.clear()
            entry = self._entries[id(base)] = (base, fields, template, constant)
        template = entry[2]
        if template is None:
            return None
        body = template.fill(message)
        return None if body is None else (body, entry[3])

    def __len__(self) -> int:
        """Localized messages with a working template (tests)."""
        return sum(entry[2] is not None for entry in self._entries.values())
