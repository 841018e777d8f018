"""Which message a personalized message was made from, and which of its texts differ.

A campaign sends one localized message per (variant, locale), personalized per
recipient in a few text fields (``{{ first_name }}``). The personalization records
that on the copy it makes, so a provider can build the payload once per localized
message with those texts left as holes, and fill the holes per recipient
(``payloads.splice``), instead of rebuilding and re-encoding the whole payload.

The record is not a field of ``Message``: equality, ``dataclasses.replace`` and the
JSON form ignore it, and a message changed any other way simply has none.
"""

from __future__ import annotations

from pushdeck.core.common.model import Message

_KEY = "_pushdeck_personalized_from"

#: A personalized field: a ``Message`` attribute name, or ("data", key).
Field = str | tuple[str, str]


def mark_personalized(message: Message, base: Message, fields: tuple[Field, ...]) -> Message:
    """Record that ``message`` is ``base`` with only ``fields`` changed (returns it)."""
    message.__dict__[_KEY] = (base, fields)
    return message


def personalized_from(message: Message) -> tuple[Message, tuple[Field, ...]] | None:
    """``(base, fields)`` recorded by ``mark_personalized``, or None."""
    found: tuple[Message, tuple[Field, ...]] | None = message.__dict__.get(_KEY)
    return found


def field_value(message: Message, field: Field) -> object:
    """The value of a personalized field of ``message``."""
    if isinstance(field, tuple):
        return message.data.get(field[1])
    return getattr(message, field)
