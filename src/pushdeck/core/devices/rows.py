"""One device row: the column mapping and the validated record it becomes.

``RowPlan`` is the per-row hot path of a million-row import; see its docstring.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, cast

from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import DEFAULT_PROVIDER, OptIn, Platform
from pushdeck.core.devices import fields as f

#: Canonical fields and the header names recognised for them without a mapping.
ALIASES: dict[str, tuple[str, ...]] = {
    "token": ("token", "device_token", "registration_token", "fcm_token", "push_token"),
    "token_kind": ("token_kind", "token_type"),
    "platform": ("platform", "os"),
    "provider": ("provider",),
    "environment": ("environment", "env", "apns_environment"),
    "locale": ("locale", "language", "lang"),
    "timezone": ("timezone", "time_zone", "tz"),
    "tags": ("tags",),
    "opt_in": ("opt_in", "optin", "permission"),
    "test": ("test", "is_test", "test_device"),
    "subscription": ("subscription",),
    "endpoint": ("endpoint",),
    "p256dh": ("p256dh",),
    "auth": ("auth",),
    "attributes": ("attributes", "attrs"),
    "created_at": ("created_at", "created"),
    "last_seen": ("last_seen", "last_seen_at"),
}


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Map canonical field → source column from header names; ``attr.X`` columns map to X."""
    by_normal = {_normal(c): c for c in columns}
    mapping: dict[str, str] = {}
    for canonical, names in ALIASES.items():
        for name in names:
            if name in by_normal:
                mapping[canonical] = by_normal[name]
                break
    for column in columns:
        if _normal(column).startswith("attr."):
            mapping[f"attr.{column.strip()[5:]}"] = column
    return mapping


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """Parse CLI ``--map field=COLUMN`` overrides."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        key, sep, column = pair.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise ValidationError(f"--map {pair!r} should look like token=DeviceToken.")
        key = key.strip()
        if key not in ALIASES and not key.startswith("attr."):
            raise ValidationError(
                f"--map {pair!r}: {key!r} is not a device field.",
                hint=f"Fields: {', '.join(ALIASES)}, or attr.NAME.",
            )
        mapping[key] = column.strip()
    return mapping


def record_from_row(raw: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Validate one row and return the device record to store; raise FieldError."""
    return RowPlan(mapping).record(raw)


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_PROVIDER_OF = {p.value: DEFAULT_PROVIDER[p].value for p in Platform}
_PLATFORM_OF = {k.value: p.value for p, k in DEFAULT_PROVIDER.items()}


@lru_cache(maxsize=256)
def _platform_text(value: str) -> str:
    return f.parse_platform(value).value


@lru_cache(maxsize=256)
def _provider_text(value: str) -> str:
    return f.parse_provider(value).value


@lru_cache(maxsize=256)
def _opt_in_text(value: str) -> str:
    return f.parse_opt_in(value).value


@lru_cache(maxsize=256)
def _environment_text(value: str) -> str:
    return f.parse_environment(value).value


@lru_cache(maxsize=256)
def _test_flag(value: str) -> int:
    return int(f.parse_bool("test", value))


#: A row as read: a dict of column name → value (JSON), or a CSV record's list of fields.
Row = Mapping[str, Any] | Sequence[str]
Key = str | int


class RowPlan:
    """One mapping compiled for speed: which column feeds which field.

    Built once per file (per key set for JSON rows); ``record`` is the per-row hot path
    of a million-row import (about 16 µs of Python a row before this was tuned). Given
    the CSV header (``columns``), it reads fields by position from the record's list;
    otherwise by name from a dict. It caches the parsing, and the JSON encoding, of the
    values that repeat across rows: platform, locale, time zone, tag lists and attribute
    values.
    """

    def __init__(self, mapping: Mapping[str, str], columns: Sequence[str] | None = None) -> None:
        self.positional = columns is not None
        position = {name: index for index, name in enumerate(columns or ())}

        def key(column: str | None) -> Key | None:
            if column is None or not self.positional:
                return column
            return position.get(column)

        self.column = {name: key(mapping.get(name)) for name in ALIASES}
        attributes = sorted(
            (name[5:], key(column)) for name, column in mapping.items() if name.startswith("attr.")
        )
        self.attribute_columns = [(name, k) for name, k in attributes if k is not None]
        # With only attr.NAME columns (no JSON attributes column), the attribute object
        # can be written directly: its keys are known and already in sorted order.
        self._attribute_keys = [
            (_ENCODER.encode(name) + ": ", k) for name, k in self.attribute_columns
        ]
        c = self.column
        self._platform, self._provider = c["platform"], c["provider"]
        self._environment, self._opt_in = c["environment"], c["opt_in"]
        self._locale, self._timezone, self._tags = c["locale"], c["timezone"], c["tags"]
        self._test, self._attributes = c["test"], c["attributes"]
        self._created_at, self._last_seen = c["created_at"], c["last_seen"]
        self._token = c["token"]
        self._token_kind = c["token_kind"]

    def getter(self, raw: Row) -> Callable[[Any], Any]:
        if self.positional:
            return cast(Sequence[str], raw).__getitem__
        return cast(Mapping[str, Any], raw).get

    def value(self, raw: Row, name: str) -> Any:
        k = self.column[name]
        return None if k is None else self.getter(raw)(k)

    def record(self, raw: Row) -> dict[str, Any]:
        get = self.getter(raw)
        platform_raw = None if self._platform is None else get(self._platform)
        provider_raw = None if self._provider is None else get(self._provider)
        if platform_raw:
            platform = _platform_text(str(platform_raw))
            provider = _provider_text(str(provider_raw)) if provider_raw else _PROVIDER_OF[platform]
        elif provider_raw:
            provider = _provider_text(str(provider_raw))
            if provider not in _PLATFORM_OF:
                raise f.FieldError(
                    "platform", "is missing; a sandbox device needs ios, android or web"
                )
            platform = _PLATFORM_OF[provider]
        else:
            raise f.FieldError("platform", "is missing; it must be ios, android or web")
        kind_raw = None if self._token_kind is None else get(self._token_kind)
        token_kind = _token_kind_text(str(kind_raw)) if kind_raw else "device"
        if token_kind == "device":
            token, p256dh, auth = self._token_fields(raw, provider, get)
        else:
            token, p256dh, auth = _live_activity_token(self.value(raw, "token"), platform, provider)
        opt_in = None if self._opt_in is None else get(self._opt_in)
        tags = None if self._tags is None else get(self._tags)
        created_at = None if self._created_at is None else get(self._created_at)
        last_seen = None if self._last_seen is None else get(self._last_seen)
        environment = None if self._environment is None else get(self._environment)
        locale = None if self._locale is None else get(self._locale)
        timezone = None if self._timezone is None else get(self._timezone)
        test = None if self._test is None else get(self._test)
        return {
            "platform": platform,
            "provider": provider,
            "token": token,
            "p256dh": p256dh,
            "auth": auth,
            "environment": _environment_text(str(environment or "")),
            "opt_in": _opt_in_value(opt_in),
            "locale": f.check_locale(str(locale or "")),
            "timezone": _timezone_text(str(timezone or "")),
            "tags": (_tags_json(tags) if type(tags) is str else _tags_json_any(tags))
            if tags
            else "[]",
            "attributes": self._attributes_json(raw, get),
            "test": _test_flag(str(test or "")),
            "created_at": f.parse_time("created_at", created_at) if created_at else None,
            "last_seen": f.parse_time("last_seen", last_seen) if last_seen else None,
            "token_kind": token_kind,
        }

    def _token_fields(
        self, raw: Row, provider: str, get: Callable[[Any], Any]
    ) -> tuple[str, str, str]:
        token = None if self._token is None else get(self._token)
        # The common case, a clean native token: already what the checks would return.
        if type(token) is str:
            if provider == "apns" and f.APNS_TOKEN.fullmatch(token) and not len(token) % 2:
                return token, "", ""
            if provider == "fcm" and f.FCM_TOKEN.fullmatch(token):
                return token, "", ""
        value = self.value
        if provider == "webpush":
            if value(raw, "subscription"):
                return f.parse_subscription_json(value(raw, "subscription"))
            endpoint = value(raw, "endpoint") or token
            if endpoint:
                return f.check_subscription(
                    str(endpoint), str(value(raw, "p256dh") or ""), str(value(raw, "auth") or "")
                )
            raise f.FieldError(
                "subscription", "a web device needs a subscription or endpoint, p256dh and auth"
            )
        token = str(token or "")
        if not token.strip():
            raise f.FieldError("token", "is missing")
        if provider == "apns":
            return f.check_apns_token(token), "", ""
        if provider == "fcm":
            return f.check_fcm_token(token), "", ""
        return f.check_sandbox_token(token), "", ""

    def _attributes_json(self, raw: Row, get: Callable[[Any], Any]) -> str:
        if self._attributes is None:
            parts = []
            for key, column in self._attribute_keys:
                value = get(column)
                if value is None or value == "":
                    continue
                if type(value) is not str:
                    return self._attributes_dict_json(raw)  # typed JSON values: general path
                parts.append(key + _attribute_json(value))
            return "{" + ", ".join(parts) + "}" if parts else "{}"
        return self._attributes_dict_json(raw)

    def _attributes_dict_json(self, raw: Row) -> str:
        get = self.getter(raw)
        attrs: dict[str, Any] = {}
        base = self.value(raw, "attributes")
        if base:
            attrs.update(_attribute_object(base))
        for name, column in self.attribute_columns:
            value = get(column)
            if value is not None and value != "":
                attrs[name] = f.coerce_attribute(value)
        return _ENCODER.encode(attrs) if attrs else "{}"


@lru_cache(maxsize=64)
def _token_kind_text(value: str) -> str:
    return f.parse_token_kind(value).value


def _live_activity_token(token: Any, platform: str, provider: str) -> tuple[str, str, str]:
    """A Live Activity or push-to-start token: APNs hex data whichever way it is sent
    (through FCM it travels as ``apns.live_activity_token``)."""
    if platform != "ios" or provider not in ("apns", "fcm", "sandbox"):
        raise f.FieldError(
            "token_kind", "Live Activity and push-to-start tokens belong to iOS devices"
        )
    if not str(token or "").strip():
        raise f.FieldError("token", "is missing")
    if provider == "sandbox":
        return f.check_sandbox_token(str(token)), "", ""
    return f.check_apns_token(str(token)), "", ""


def _opt_in_value(opt_in: Any) -> str:
    if type(opt_in) is str:
        return _opt_in_text(opt_in)
    if isinstance(opt_in, OptIn):
        return opt_in.value
    if isinstance(opt_in, bool):
        return f.parse_opt_in(opt_in).value
    return _opt_in_text(str(opt_in or ""))


@lru_cache(maxsize=1024)
def _timezone_text(value: str) -> str:
    return f.check_timezone(value)


@lru_cache(maxsize=4096)
def _tags_json(value: str) -> str:
    return _tags_json_any(value)


def _tags_json_any(value: Any) -> str:
    return _ENCODER.encode(f.parse_tags(value))


@lru_cache(maxsize=65536)
def _attribute_json(text: str) -> str:
    """The JSON of one CSV attribute value, typed as ``coerce_attribute`` types it."""
    return _ENCODER.encode(f.coerce_attribute(text))


def _attribute_object(base: Any) -> dict[str, Any]:
    if isinstance(base, str):
        try:
            base = json.loads(base)
        except json.JSONDecodeError:
            raise f.FieldError("attributes", "is not a JSON object") from None
    if not isinstance(base, dict):
        raise f.FieldError("attributes", "must be a JSON object")
    return base
