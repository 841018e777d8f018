"""Web Push cryptography: RFC 8291 ``aes128gcm`` message encryption and RFC 8292 VAPID.

Written on ``cryptography`` only. Every message gets a fresh ephemeral ECDH key pair
and a fresh 16-byte salt (RFC 8291 §3.4); the VAPID JWT, by contrast, is cached per
push-service origin until near expiry, because signing per message is wasted work.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from hmac import digest as _hmac
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from pushdeck.core.common.errors import CredentialError, ValidationError
from pushdeck.core.common.model import WebPushSubscription
from pushdeck.core.providers.es256 import es256_jwt

RECORD_SIZE = 4096
HEADER_SIZE = 86  # salt 16 + rs 4 + idlen 1 + keyid 65
TAG_SIZE = 16
MAX_PLAINTEXT = RECORD_SIZE - HEADER_SIZE - 1 - TAG_SIZE  # 3993
VAPID_LIFETIME = 12 * 3600  # RFC 8292 allows up to 24 h; 12 h leaves room for clock skew
VAPID_REFRESH_MARGIN = 3600  # re-sign when less than this is left
_CURVE = ec.SECP256R1()
_FROM_URLSAFE = str.maketrans("-_", "+/")
_ORIGIN_RE = re.compile(r"https?://[^/?#]+")
_KEY_INFO = b"WebPush: info\x00"
_CEK_INFO = b"Content-Encoding: aes128gcm\x00\x01"
_NONCE_INFO = b"Content-Encoding: nonce\x00\x01"


# -- base64url ------------------------------------------------------------------------
def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding (browsers omit it; some tools add it).

    The standard "+/" alphabet some tools emit is accepted too. Runs twice per message,
    hence binascii directly rather than the base64 module's wrappers.
    """
    text = text.rstrip("=")
    # binascii.Error is a ValueError: callers catch ValueError.
    return binascii.a2b_base64(text.translate(_FROM_URLSAFE) + "=" * (-len(text) % 4))


def public_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """The 65-byte uncompressed point (0x04 ‖ X ‖ Y)."""
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


# -- RFC 8291 -------------------------------------------------------------------------
@dataclass(frozen=True)
class ReceiverKeys:
    """A subscription's keys, decoded and checked once (cached per subscription)."""

    public_key: ec.EllipticCurvePublicKey
    public_raw: bytes  # 65 bytes, ua_public
    auth: bytes  # 16 bytes, auth_secret


@lru_cache(maxsize=4096)
def receiver_keys(p256dh: str, auth: str) -> ReceiverKeys:
    """Decode and validate a subscription's ``p256dh`` and ``auth`` (ValidationError if bad)."""
    try:
        raw, secret = b64url_decode(p256dh), b64url_decode(auth)
    except ValueError as exc:
        raise ValidationError(f"Subscription keys are not base64url: {exc}", field="keys") from exc
    if len(raw) != 65 or raw[0] != 4:
        raise ValidationError(
            f"p256dh is {len(raw)} bytes; a subscription key is a 65-byte P-256 point.",
            field="p256dh",
            hint="Copy keys.p256dh from PushSubscription.toJSON() unchanged.",
        )
    if len(secret) != 16:
        raise ValidationError(
            f"auth is {len(secret)} bytes; a subscription auth secret is 16 bytes.",
            field="auth",
            hint="Copy keys.auth from PushSubscription.toJSON() unchanged.",
        )
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, raw)
    except ValueError as exc:
        raise ValidationError("p256dh is not a point on P-256.", field="p256dh") from exc
    return ReceiverKeys(key, raw, secret)


def derive_key_nonce(
    ecdh_secret: bytes, auth: bytes, ua_public: bytes, as_public: bytes, salt: bytes
) -> tuple[bytes, bytes]:
    """RFC 8291 §3.4 + RFC 8188 §2.2: the content-encryption key and the nonce."""
    prk_key = _hmac(auth, ecdh_secret, "sha256")
    ikm = _hmac(prk_key, _KEY_INFO + ua_public + as_public + b"\x01", "sha256")
    prk = _hmac(salt, ikm, "sha256")
    return _hmac(prk, _CEK_INFO, "sha256")[:16], _hmac(prk, _NONCE_INFO, "sha256")[:12]


def encrypt(
    plaintext: bytes,
    keys: ReceiverKeys,
    *,
    salt: bytes | None = None,
    private_key: ec.EllipticCurvePrivateKey | None = None,
    padding: int = 0,
) -> bytes:
    """Encrypt one message as a single ``aes128gcm`` record (header ‖ ciphertext).

    ``padding`` zero bytes follow the delimiter (RFC 8188 §2), so the body's length
    says less about the message. ``salt`` and ``private_key`` exist for the RFC test
    vector only; in normal use both are fresh per call, which is what keeps two
    identical messages unlinkable.
    """
    if padding < 0 or len(plaintext) + padding > MAX_PLAINTEXT:
        raise ValidationError(
            f"The Web Push plaintext is {len(plaintext)} bytes (+ {padding} padding); at most "
            f"{MAX_PLAINTEXT} fit in one 4096-byte record.",
            field="body",
        )
    salt = os.urandom(16) if salt is None else salt
    private_key = ec.generate_private_key(_CURVE) if private_key is None else private_key
    as_public = public_bytes(private_key.public_key())
    secret = private_key.exchange(ec.ECDH(), keys.public_key)
    cek, nonce = derive_key_nonce(secret, keys.auth, keys.public_raw, as_public, salt)
    # 0x02 = last-record delimiter, then the padding (zeros).
    ciphertext = AESGCM(cek).encrypt(nonce, plaintext + b"\x02" + bytes(padding), None)
    return salt + struct.pack("!IB", RECORD_SIZE, 65) + as_public + ciphertext


def encrypt_for(plaintext: bytes, subscription: WebPushSubscription) -> bytes:
    """``encrypt`` for a subscription as stored (keys decoded once and cached)."""
    return encrypt(plaintext, receiver_keys(subscription.p256dh, subscription.auth))


def decrypt(body: bytes, private_key: ec.EllipticCurvePrivateKey, auth: bytes) -> bytes:
    """Reverse of ``encrypt``: the receiving browser's side (tests and diagnostics)."""
    salt, (rs, idlen) = body[:16], struct.unpack("!IB", body[16:21])
    as_public = body[21 : 21 + idlen]
    sender = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, as_public)
    secret = private_key.exchange(ec.ECDH(), sender)
    ua_public = public_bytes(private_key.public_key())
    cek, nonce = derive_key_nonce(secret, auth, ua_public, as_public, salt)
    try:
        record = AESGCM(cek).decrypt(nonce, body[21 + idlen :], None)
    except InvalidTag as exc:
        raise ValidationError("Web Push body does not decrypt with these keys.") from exc
    if len(body) - 21 - idlen > rs or not record.rstrip(b"\x00").endswith(b"\x02"):
        raise ValidationError("Web Push body is not a single final aes128gcm record.")
    return record.rstrip(b"\x00")[:-1]


# -- VAPID keys -------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class VapidKeyPair:
    private_key_pem: bytes  # PKCS#8 PEM
    public_key: str  # base64url 65-byte point: the browser's applicationServerKey

    def __repr__(self) -> str:
        return f"VapidKeyPair(public_key={self.public_key!r})"


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def generate_vapid_keys() -> VapidKeyPair:
    """A new VAPID key pair. Changing keys invalidates every existing subscription."""
    key = ec.generate_private_key(_CURVE)
    return VapidKeyPair(_pem(key), b64url_encode(public_bytes(key.public_key())))


def load_vapid_private_key(data: bytes | str) -> ec.EllipticCurvePrivateKey:
    """Load a P-256 key from PEM (PKCS#8 or SEC1) or from a raw base64url 32-byte scalar."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if b"-----BEGIN" in raw:
            key = serialization.load_pem_private_key(raw, password=None)
        else:
            scalar = b64url_decode(raw.decode())
            if len(scalar) != 32:
                raise ValueError(f"a raw P-256 private key is 32 bytes, not {len(scalar)}")
            key = ec.derive_private_key(int.from_bytes(scalar, "big"), _CURVE)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise CredentialError(
            f"The VAPID private key cannot be read: {exc}",
            hint="Give the PEM file Pushdeck generated, or the base64url private key.",
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != _CURVE.name:
        raise CredentialError("The VAPID key is not a P-256 (prime256v1) EC key.")
    return key


def load_vapid_keys(data: bytes | str) -> VapidKeyPair:
    """A key pair from a private key (PEM or raw base64url), public key derived."""
    key = load_vapid_private_key(data)
    return VapidKeyPair(_pem(key), b64url_encode(public_bytes(key.public_key())))


def vapid_keys_match(private_key_pem: bytes | str, public_key: str) -> bool:
    """True when ``public_key`` (base64url) belongs to the private key."""
    derived = public_bytes(load_vapid_private_key(private_key_pem).public_key())
    try:
        return hmac.compare_digest(derived, b64url_decode(public_key))
    except ValueError:
        return False


#: Reserved names no one can be reached at (RFC 2606 / RFC 6761). Apple's push service
#: answers 403 BadJwtToken to a VAPID subject there.
_PLACEHOLDER_SUFFIXES = (".localhost", ".invalid", ".test", ".example")
_PLACEHOLDER_NAMES = frozenset({"localhost", "invalid", "test", "example"})


def subject_problem(subject: str) -> str:
    """Why ``subject`` is not a valid VAPID ``sub`` ("" when it is fine).

    The one rule for saving a Web Push credential and for checking it: a plain
    ``mailto:user@host`` or an ``https://host…`` URL (surrounding spaces are ignored,
    ``clean_subject`` trims them), whose host is a real domain, not a placeholder
    (``localhost``, ``*.localhost``, ``*.invalid``, ``*.test``, ``*.example``) —
    Apple's push service refuses those with 403 BadJwtToken.
    """
    text = subject.strip()
    if not text:
        return "The VAPID subject is empty; use mailto:you@your-domain or https://your-site."
    if "@" in text and not text.lower().startswith(("mailto:", "https:")):
        return f"{text!r} is a bare address; write it as mailto:{text}."
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        address = text[len("mailto:") :]
        local, at, host = address.rpartition("@")
        if not at or not local or not host or any(c in address for c in " <>,;\t"):
            return f"{text!r} is not a plain mailto: address (e.g. mailto:ops@your-domain.com)."
    elif scheme == "https" and parts.hostname:
        host = parts.hostname
    else:
        return f"{text!r} must be a mailto: or https: contact (Apple rejects others)."
    if _is_placeholder(host):
        return (
            f"{text!r} names {host}, a placeholder that reaches no one; Apple's push service "
            "refuses it (403 BadJwtToken). Use a contact on your real domain."
        )
    return ""


def clean_subject(subject: str) -> str:
    """``subject`` trimmed, or ``CredentialError`` saying what is wrong with it."""
    problem = subject_problem(subject)
    if problem:
        raise CredentialError(
            problem, hint="Push services use it to contact you, e.g. mailto:ops@your-domain.com."
        )
    return subject.strip()


def _is_placeholder(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in _PLACEHOLDER_NAMES or name.endswith(_PLACEHOLDER_SUFFIXES) or "." not in name


# -- VAPID JWT --------------------------------------------------------------------------
def origin_of(endpoint: str) -> str:
    """The JWT audience: scheme://host[:port] of the push endpoint, no path."""
    # A compiled regex, not urlsplit: this runs once per message on the hot path.
    match = _ORIGIN_RE.match(endpoint)
    if match is None:
        raise ValidationError(f"Endpoint {endpoint!r} is not an http(s) URL.", field="endpoint")
    return match.group()


class VapidSigner:
    """Makes ``Authorization: vapid t=…, k=…`` headers, one JWT per origin, cached."""

    def __init__(
        self,
        private_key_pem: bytes | str,
        subject: str,
        *,
        lifetime: int = VAPID_LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if lifetime > 24 * 3600:
            raise ValueError("RFC 8292: a VAPID JWT expires at most 24 hours ahead")
        self._key = load_vapid_private_key(private_key_pem)
        self.public_key = b64url_encode(public_bytes(self._key.public_key()))
        self.subject = subject.strip()  # older workspaces may hold it with spaces
        self._lifetime = lifetime
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    def authorization(self, endpoint: str) -> str:
        """The header value for a request to ``endpoint``."""
        audience = origin_of(endpoint)
        now = self._clock()
        cached = self._cache.get(audience)
        if cached is not None and cached[1] - now > VAPID_REFRESH_MARGIN:
            return cached[0]
        exp = int(now) + self._lifetime
        token = self._sign(audience, exp)
        header = f"vapid t={token}, k={self.public_key}"
        self._cache[audience] = (header, exp)
        return header

    def _sign(self, audience: str, exp: int) -> str:
        claims: dict[str, object] = {"aud": audience, "exp": exp}
        if self.subject:
            claims["sub"] = self.subject
        return es256_jwt(claims, self._key)  # header {"alg": "ES256", "typ": "JWT"}
