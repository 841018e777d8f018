"""Validation and normalisation of one device's fields, as imported.

Each check returns the normalised value or raises ``FieldError`` naming the field
and saying what a correct value looks like. Nothing here touches storage.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.model import (
    ApnsEnvironment,
    OptIn,
    Platform,
    ProviderKind,
    TokenKind,
    known_timezones,
)
from pushdeck.core.net import netguard

APNS_TOKEN = re.compile(r"[0-9a-f]{64,200}")
FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{100,4096}")
LOCALE = re.compile(r"([a-z]{2,3})(?:-([A-Z][a-z]{3}))?(?:-([A-Z]{2}|[0-9]{3}))?")
MAX_TOKEN = 4096


class FieldError(ValueError):
    """One field of one row is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def b64url_decode(value: str) -> bytes:
    """Decode base64url with or without padding (browsers omit it)."""
    value = value.strip()
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


@lru_cache(maxsize=64)
def parse_platform(value: str) -> Platform:
    try:
        return Platform(value.strip().lower())
    except ValueError:
        raise FieldError("platform", f"{value!r} is not one of ios, android, web") from None


@lru_cache(maxsize=64)
def parse_provider(value: str) -> ProviderKind:
    try:
        return ProviderKind(value.strip().lower())
    except ValueError:
        raise FieldError(
            "provider", f"{value!r} is not one of apns, fcm, webpush, sandbox"
        ) from None


_TOKEN_KIND_ALIASES = {
    "": "device",
    "device_token": "device",
    "apns": "device",
    "live_activity": "liveactivity",
    "activity": "liveactivity",
    "push_to_start": "pushtostart",
}


@lru_cache(maxsize=64)
def parse_token_kind(value: str) -> TokenKind:
    text = value.strip().lower().replace("-", "_")
    try:
        return TokenKind(_TOKEN_KIND_ALIASES.get(text, text.replace("_", "")))
    except ValueError:
        raise FieldError(
            "token_kind", f"{value!r} is not one of device, liveactivity, pushtostart"
        ) from None


def check_apns_token(token: str) -> str:
    cleaned = re.sub(r"[\s<>]", "", token).lower()
    if not APNS_TOKEN.fullmatch(cleaned) or len(cleaned) % 2:
        raise FieldError(
            "token",
            "an APNs device token is an even number (64 or more) of hex digits "
            f"(got {len(cleaned)} characters{_first_bad(cleaned, '0123456789abcdef')})",
        )
    return cleaned


def check_fcm_token(token: str) -> str:
    cleaned = token.strip()
    if not FCM_TOKEN.fullmatch(cleaned):
        allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-"
        raise FieldError(
            "token",
            "an FCM registration token is 100–4096 characters of letters, digits, "
            f"'_', ':' and '-' (got {len(cleaned)} characters{_first_bad(cleaned, allowed)})",
        )
    return cleaned


def check_sandbox_token(token: str) -> str:
    cleaned = token.strip()
    if not cleaned or len(cleaned) > MAX_TOKEN or not cleaned.isprintable():
        raise FieldError("token", "a sandbox token is 1–4096 printable characters")
    return cleaned


def _first_bad(value: str, allowed: str) -> str:
    for index, char in enumerate(value):
        if char not in allowed:
            return f"; {char!r} at position {index + 1} is not allowed"
    return ""


def check_subscription(endpoint: str, p256dh: str, auth: str) -> tuple[str, str, str]:
    """Validate a Web Push subscription's endpoint and keys; return them normalised."""
    parts = urlsplit(endpoint.strip())
    if parts.scheme != "https" or not parts.netloc:
        raise FieldError("endpoint", f"a push endpoint must be an https URL (got {endpoint!r})")
    problem = netguard.url_problem(endpoint)
    if problem:
        # Checked again, on the resolved addresses, before every connection.
        raise FieldError(
            "endpoint",
            f"{problem}; Pushdeck sends only to public push services "
            f"({netguard.ALLOW_LOCAL_ENV}=1 lifts this for a test rig)",
        )
    try:
        point = b64url_decode(p256dh)
    except (binascii.Error, ValueError):
        raise FieldError("p256dh", "is not valid base64url") from None
    if len(point) != 65 or point[0] != 4:
        raise FieldError(
            "p256dh",
            f"must be a 65-byte uncompressed P-256 point starting 0x04 (got {len(point)} bytes)",
        )
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise FieldError("p256dh", "is not a point on the P-256 curve") from None
    try:
        secret = b64url_decode(auth)
    except (binascii.Error, ValueError):
        raise FieldError("auth", "is not valid base64url") from None
    if len(secret) != 16:
        raise FieldError("auth", f"must decode to 16 bytes (got {len(secret)})")
    return endpoint.strip(), p256dh.strip().rstrip("="), auth.strip().rstrip("=")


def parse_subscription_json(value: Any) -> tuple[str, str, str]:
    """Accept a browser's ``PushSubscription.toJSON()`` as an object or JSON text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise FieldError("subscription", f"is not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise FieldError("subscription", "must be a PushSubscription JSON object")
    keys = value.get("keys") or {}
    if not isinstance(keys, dict):
        raise FieldError("subscription", "'keys' must be an object with p256dh and auth")
    return check_subscription(
        str(value.get("endpoint", "")), str(keys.get("p256dh", "")), str(keys.get("auth", ""))
    )


@lru_cache(maxsize=4096)
def check_locale(value: str) -> str:
    """Normalise 'en_us' / 'EN-us' to BCP 47 'en-US'; reject what is not a locale."""
    raw = value.strip().replace("_", "-")
    if not raw:
        return ""
    parts = raw.split("-")
    fixed = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            fixed.append(part.title())
        else:
            fixed.append(part.upper())
    normal = "-".join(fixed)
    if not LOCALE.fullmatch(normal):
        raise FieldError("locale", f"{value!r} is not a locale like 'en', 'pt-BR' or 'zh-Hant-TW'")
    return normal


def check_timezone(value: str) -> str:
    zone = value.strip()
    if zone and zone not in known_timezones():
        raise FieldError("timezone", f"{value!r} is not an IANA time zone name like 'Europe/Paris'")
    return zone


_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"0", "false", "no", "n", "f", ""}


def parse_bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError(field, f"{value!r} is not true/false")


def parse_opt_in(value: Any) -> OptIn:
    if isinstance(value, bool):
        return OptIn.AUTHORIZED if value else OptIn.DENIED
    return _opt_in_text(str(value))


@lru_cache(maxsize=64)
def _opt_in_text(value: str) -> OptIn:
    text = value.strip().lower()
    aliases = {
        "": "unknown",
        "granted": "authorized",
        "true": "authorized",
        "yes": "authorized",
        "false": "denied",
        "no": "denied",
        "default": "unknown",
    }
    try:
        return OptIn(aliases.get(text, text))
    except ValueError:
        raise FieldError(
            "opt_in", f"{value!r} is not one of authorized, provisional, denied, unknown"
        ) from None


@lru_cache(maxsize=64)
def _environment_text(value: str) -> ApnsEnvironment:
    text = value.strip().lower()
    aliases = {"": "production", "development": "sandbox", "dev": "sandbox", "prod": "production"}
    try:
        return ApnsEnvironment(aliases.get(text, text))
    except ValueError:
        raise FieldError("environment", f"{value!r} is not sandbox or production") from None


def parse_environment(value: Any) -> ApnsEnvironment:
    return _environment_text(str(value))


def parse_time(field: str, value: Any) -> str | None:
    """ISO 8601 (or Unix seconds) to the workspace's UTC text form; '' → None."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) or str(value).strip().isdigit():
            moment = datetime.fromtimestamp(float(value), UTC)
        else:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        raise FieldError(field, f"{value!r} is not an ISO 8601 time or Unix seconds") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value if isinstance(value, list) else str(value).split(";")
    tags = sorted({str(t).strip() for t in items if str(t).strip()})
    for tag in tags:
        if len(tag) > 100:
            raise FieldError("tags", f"tag {tag[:20]!r}… is longer than 100 characters")
    return tags


_INTEGER = re.compile(r"-?\d{1,15}")
_DECIMAL = re.compile(r"-?\d+\.\d+")


def coerce_attribute(value: Any) -> Any:
    """CSV gives text; numbers and booleans become typed so that '<' and '>' compare numbers."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _DECIMAL.fullmatch(text):
        return float(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return value
