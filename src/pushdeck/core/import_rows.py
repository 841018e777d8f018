"""One device row: the column mapping and the validated record it becomes.

``RowPlan`` is the per-row hot path of a million-row import; see its docstring.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from pushdeck.core import device_fields as f
from pushdeck.core.errors import ValidationError
from pushdeck.core.model import DEFAULT_PROVIDER, OptIn, Platform

#: Canonical fields and the header names recognised for them without a mapping.
ALIASES: dict[str, tuple[str, ...]] = {
    "token": ("token", "device_token", "registration_token", "fcm_token", "push_token"),
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


class RowPlan:
    """One mapping compiled for speed: which column feeds which field.

    Built once per file (per key set for JSON rows); ``record`` is the per-row hot path
    of a million-row import, so it avoids closures, enum lookups and repeated parsing
    of the few distinct values that columns like platform or locale take.
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.column = {name: mapping.get(name) for name in ALIASES}
        self.attribute_columns = sorted(
            (key[5:], column) for key, column in mapping.items() if key.startswith("attr.")
        )

    def value(self, raw: Mapping[str, Any], name: str) -> Any:
        column = self.column[name]
        return None if column is None else raw.get(column)

    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        get = self.value
        platform_raw, provider_raw = get(raw, "platform"), get(raw, "provider")
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
        token, p256dh, auth = self._token_fields(raw, provider)
        opt_in = get(raw, "opt_in")
        tags = get(raw, "tags")
        attributes = self._attributes(raw)
        created_at, last_seen = get(raw, "created_at"), get(raw, "last_seen")
        return {
            "platform": platform,
            "provider": provider,
            "token": token,
            "p256dh": p256dh,
            "auth": auth,
            "environment": _environment_text(str(get(raw, "environment") or "")),
            "opt_in": opt_in.value
            if isinstance(opt_in, OptIn)
            else (
                f.parse_opt_in(opt_in).value
                if isinstance(opt_in, bool)
                else _opt_in_text(str(opt_in or ""))
            ),
            "locale": f.check_locale(str(get(raw, "locale") or "")),
            "timezone": f.check_timezone(str(get(raw, "timezone") or "")),
            "tags": _ENCODER.encode(f.parse_tags(tags)) if tags else "[]",
            "attributes": _ENCODER.encode(attributes) if attributes else "{}",
            "test": _test_flag(str(get(raw, "test") or "")),
            "created_at": f.parse_time("created_at", created_at) if created_at else None,
            "last_seen": f.parse_time("last_seen", last_seen) if last_seen else None,
        }

    def _token_fields(self, raw: Mapping[str, Any], provider: str) -> tuple[str, str, str]:
        get = self.value
        if provider == "webpush":
            if get(raw, "subscription"):
                return f.parse_subscription_json(get(raw, "subscription"))
            endpoint = get(raw, "endpoint") or get(raw, "token")
            if endpoint:
                return f.check_subscription(
                    str(endpoint), str(get(raw, "p256dh") or ""), str(get(raw, "auth") or "")
                )
            raise f.FieldError(
                "subscription", "a web device needs a subscription or endpoint, p256dh and auth"
            )
        token = str(get(raw, "token") or "")
        if not token.strip():
            raise f.FieldError("token", "is missing")
        if provider == "apns":
            return f.check_apns_token(token), "", ""
        if provider == "fcm":
            return f.check_fcm_token(token), "", ""
        return f.check_sandbox_token(token), "", ""

    def _attributes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        base = self.value(raw, "attributes")
        if base:
            attrs.update(_attribute_object(base))
        for name, column in self.attribute_columns:
            value = raw.get(column)
            if value is not None and value != "":
                attrs[name] = f.coerce_attribute(value)
        return attrs


def _attribute_object(base: Any) -> dict[str, Any]:
    if isinstance(base, str):
        try:
            base = json.loads(base)
        except json.JSONDecodeError:
            raise f.FieldError("attributes", "is not a JSON object") from None
    if not isinstance(base, dict):
        raise f.FieldError("attributes", "must be a JSON object")
    return base
