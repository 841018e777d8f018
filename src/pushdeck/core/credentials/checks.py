"""Checks run when a credential is entered: is this file what it claims to be?

Each file check returns the facts worth showing (key id, expiry, project id …) and
raises ``CredentialError`` that names the file and says what is wrong with it.

``check_with_provider`` asks the provider itself (``pushdeck credentials check``, the
app's Check button) and keeps two failures apart: the provider *refused* the
credential (``conclusive``: fix the credential) and the check *could not be made*
(no network, DNS, TLS, the provider unavailable: ``conclusive=False``, try again).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from pushdeck.core.common.errors import CredentialError, TransportError

if TYPE_CHECKING:
    from pushdeck.core.providers.base import CheckResult
    from pushdeck.core.providers.credentials import Credential

_APPLE_ID = re.compile(r"[A-Z0-9]{10}")
# Apple's APNs certificate extensions (development, production, universal).
_APNS_OIDS = {"1.2.840.113635.100.6.3.1", "1.2.840.113635.100.6.3.2", "1.2.840.113635.100.6.3.6"}
_UID = x509.ObjectIdentifier("0.9.2342.19200300.100.1.1")
EXPIRY_WARNING = timedelta(days=30)


@dataclass(frozen=True)
class Checked:
    """Facts about a checked credential (never secret) and warnings for the user."""

    facts: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def read_file(path: Path, what: str) -> bytes:
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise CredentialError(f"Cannot read the {what} {path}: {exc.strerror}.") from None


def check_p8(key_pem: bytes, key_id: str, team_id: str, source: str = "the .p8 key") -> Checked:
    """An APNs signing key: a PKCS#8 P-256 private key, a 10-character key id and team id."""
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        raise CredentialError(
            f"{source} is not a PEM private key.",
            hint="Download the AuthKey_XXXXXXXXXX.p8 file from Apple Developer > Keys.",
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialError(f"{source} is not a P-256 (ES256) key; APNs keys are P-256.")
    for label, value in (("key id", key_id), ("team id", team_id)):
        if not _APPLE_ID.fullmatch(value or ""):
            raise CredentialError(
                f"The {label} {value!r} should be 10 capital letters or digits.",
                hint="Find it in Apple Developer > Keys (key id) and Membership (team id).",
            )
    return Checked({"key_id": key_id, "team_id": team_id})


def check_p12(
    p12: bytes,
    password: bytes | None,
    source: str = "the .p12 certificate",
    *,
    now: datetime | None = None,
) -> Checked:
    """An APNs TLS certificate: opens with its password, not expired, issued for APNs."""
    try:
        key, cert, _ = pkcs12.load_key_and_certificates(p12, password)
    except ValueError:
        raise CredentialError(
            f"{source} cannot be opened: the password is wrong or it is not a .p12 file.",
            hint="Export the certificate with its private key from Keychain Access as .p12.",
        ) from None
    if cert is None or key is None:
        raise CredentialError(f"{source} must hold both the certificate and its private key.")
    moment = now or datetime.now(UTC)
    expires = cert.not_valid_after_utc
    if expires <= moment:
        raise CredentialError(
            f"{source} expired on {expires:%Y-%m-%d}.",
            hint="Create a new APNs certificate in Apple Developer > Certificates.",
        )
    oids = {ext.oid.dotted_string for ext in cert.extensions}
    common_name = _attr(cert, x509.NameOID.COMMON_NAME)
    if not (oids & _APNS_OIDS or "Push Services" in common_name):
        raise CredentialError(
            f"{source} is not an APNs certificate (subject {common_name!r}).",
            hint="Use the 'Apple Push Notification service SSL' certificate of your app.",
        )
    warnings = []
    if expires - moment < EXPIRY_WARNING:
        warnings.append(f"The certificate expires on {expires:%Y-%m-%d}; renew it soon.")
    facts = {
        "subject": common_name,
        "topic": _attr(cert, _UID),
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return Checked(facts, warnings)


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    return str(values[0].value) if values else ""


_SA_FIELDS = ("type", "project_id", "private_key", "client_email", "token_uri")


def check_service_account(raw: bytes, source: str = "the service account file") -> Checked:
    """A Google service account JSON with an RSA private key."""
    try:
        account = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CredentialError(f"{source} is not JSON.") from None
    if not isinstance(account, dict):
        raise CredentialError(f"{source} must be a JSON object.")
    missing = [name for name in _SA_FIELDS if not account.get(name)]
    if missing:
        raise CredentialError(
            f"{source} lacks {', '.join(missing)}.",
            hint="Download a key in Firebase console > Project settings > Service accounts.",
        )
    if account["type"] != "service_account":
        raise CredentialError(f"{source} is a {account['type']!r} file, not a service account.")
    try:
        key = serialization.load_pem_private_key(account["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise CredentialError(f"The private_key in {source} cannot be read.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(f"The private_key in {source} is not an RSA key.")
    facts = {
        "project_id": account["project_id"],
        "client_email": account["client_email"],
        "token_uri": account["token_uri"],
    }
    return Checked(facts)


def check_vapid(private_pem: bytes, subject: str, source: str = "the VAPID key") -> Checked:
    """A VAPID key pair (P-256) and a mailto: or https: subject on a real domain (trimmed)."""
    try:
        key = serialization.load_pem_private_key(private_pem, password=None)
    except (ValueError, TypeError):
        raise CredentialError(f"{source} is not a PEM private key.") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialError(f"{source} is not a P-256 key; VAPID requires P-256 (ES256).")
    from pushdeck.core.providers.webpush_crypto import clean_subject

    # The same rule the Web Push provider's check applies (webpush_crypto.subject_problem).
    subject = clean_subject(subject)
    return Checked({"public_key": vapid_public_key(key), "subject": subject})


def vapid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The applicationServerKey: base64url of the uncompressed public point, no padding."""
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def generate_vapid_key() -> bytes:
    """A fresh P-256 private key in PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def check_with_provider(credential: Credential) -> CheckResult:
    """The provider's own check (nobody is notified), failures told apart in words."""
    from pushdeck.core.providers.base import CheckResult, create_provider

    try:
        provider = create_provider(credential)
    except CredentialError as exc:
        return CheckResult(False, f"The credential is unusable: {exc.message}", exc.hint)
    try:
        return await provider.check()
    except TransportError as exc:
        return CheckResult(
            False,
            f"Could not check: {exc.message}",
            exc.hint or "Nothing is known about the credential yet; try again later.",
            conclusive=False,
        )
    except Exception as exc:  # noqa: BLE001 - a failed check is an answer, in words
        return CheckResult(False, f"The check could not complete: {exc}", conclusive=False)
    finally:
        await provider.aclose()
