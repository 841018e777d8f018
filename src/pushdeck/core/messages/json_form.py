"""Message <-> JSON-ready dict, for campaign files, drafts and the workspace.

Only fields that differ from their defaults are written, so documents stay short
and readable. Unknown keys are an error naming the key (typos must not vanish).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from enum import Enum
from typing import Any

from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import (
    Action,
    AndroidNotificationPriority,
    AndroidVisibility,
    InterruptionLevel,
    LiveActivityEvent,
    Message,
    Priority,
    PushType,
)

_ENUMS: dict[str, type[Enum]] = {
    "interruption_level": InterruptionLevel,
    "priority": Priority,
    "push_type": PushType,
    "android_visibility": AndroidVisibility,
    "live_activity_event": LiveActivityEvent,
    "android_notification_priority": AndroidNotificationPriority,
}
_TUPLES = {"title_loc_args", "body_loc_args"}
_MAPPINGS = {"data", "content_state", "activity_attributes"}
_FIELDS = {f.name: f for f in dataclasses.fields(Message)}
_DEFAULT = Message()


def message_to_dict(message: Message) -> dict[str, Any]:
    """The fields of ``message`` that are not at their default, JSON-ready."""
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(message, name)
        if value == getattr(_DEFAULT, name):
            continue
        if isinstance(value, Enum):
            value = value.value
        elif name == "actions":
            value = [_action_to_dict(a) for a in value]
        elif name in _TUPLES:
            value = list(value)
        elif name in _MAPPINGS:
            value = dict(value)
        out[name] = value
    return out


def message_from_dict(doc: Mapping[str, Any], *, where: str = "message") -> Message:
    """Build a Message from ``doc``; raise ValidationError naming the bad key."""
    if not isinstance(doc, Mapping):
        raise ValidationError(f"{where} must be a JSON object.", field=where)
    kwargs: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in _FIELDS:
            known = ", ".join(sorted(_FIELDS))
            raise ValidationError(
                f"{where}.{key} is not a message field.",
                field=f"{where}.{key}",
                hint=f"Known fields: {known}.",
            )
        kwargs[key] = _convert(key, value, f"{where}.{key}")
    try:
        return Message(**kwargs)
    except TypeError as exc:  # pragma: no cover - guarded above
        raise ValidationError(f"{where}: {exc}", field=where) from exc


def _convert(key: str, value: Any, where: str) -> Any:
    if value is None:
        return None
    if key in _ENUMS:
        enum = _ENUMS[key]
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(str(m.value) for m in enum)
            raise ValidationError(
                f"{where} is {value!r}; expected one of {allowed}.", field=where
            ) from None
    if key == "actions":
        if not isinstance(value, list):
            raise ValidationError(f"{where} must be a list of actions.", field=where)
        return tuple(_action_from_dict(a, f"{where}[{i}]") for i, a in enumerate(value))
    if key in _TUPLES:
        return tuple(str(v) for v in value)
    if key in _MAPPINGS:
        if not isinstance(value, Mapping):
            raise ValidationError(f"{where} must be a JSON object.", field=where)
        return dict(value)
    expected = _DEFAULT.__dataclass_fields__[key].type
    return _check_scalar(value, str(expected), where)


def _check_scalar(value: Any, expected: str, where: str) -> Any:
    if expected.startswith("str") and not isinstance(value, str):
        raise ValidationError(f"{where} must be text, not {type(value).__name__}.", field=where)
    if expected.startswith("bool") and not isinstance(value, bool):
        raise ValidationError(f"{where} must be true or false.", field=where)
    if expected.startswith("int") and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"{where} must be a whole number.", field=where)
    if expected.startswith("float") and not isinstance(value, int | float):
        raise ValidationError(f"{where} must be a number.", field=where)
    return value


def _action_to_dict(action: Action) -> dict[str, Any]:
    doc = dataclasses.asdict(action)
    defaults = dataclasses.asdict(Action(id="", title=""))
    return {k: v for k, v in doc.items() if k in ("id", "title") or v != defaults[k]}


def _action_from_dict(doc: Any, where: str) -> Action:
    if not isinstance(doc, Mapping) or "id" not in doc or "title" not in doc:
        raise ValidationError(f"{where} needs an 'id' and a 'title'.", field=where)
    allowed = {f.name for f in dataclasses.fields(Action)}
    unknown = set(doc) - allowed
    if unknown:
        raise ValidationError(f"{where} has unknown keys: {sorted(unknown)}.", field=where)
    return Action(**dict(doc))
