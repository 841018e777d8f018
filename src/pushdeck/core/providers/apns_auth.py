"""APNs authentication: the cached ES256 provider token (.p8) and the TLS client
certificate context (.p12).

Apple refuses a provider token older than an hour and throttles tokens renewed more
often than every 20 minutes on one connection, so one JWT is signed and reused for
``TOKEN_LIFETIME`` seconds across every connection — never per request.
"""

from __future__ import annotations

import os
import secrets
import ssl
import tempfile
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from pushdeck.core.common.errors import CredentialError
from pushdeck.core.providers.credentials import ApnsCertCredential, ApnsTokenCredential
from pushdeck.core.providers.es256 import es256_jwt
from pushdeck.core.providers.http2 import client_ssl_context

TOKEN_LIFETIME = 40 * 60  # inside Apple's 20–60 minute window


class ApnsTokenSigner:
    """Signs the provider JWT once and hands out the cached ``authorization`` value."""

    def __init__(
        self, credential: ApnsTokenCredential, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = _load_p8(credential.key_pem)
        self._key_id = credential.key_id
        self._team_id = credential.team_id
        self._clock = clock
        self._value = b""
        self._issued_at = 0.0
        self.signatures = 0  # how many JWTs were signed (tests count this)

    def header(self) -> bytes:
        """``bearer <JWT>``, re-signed only when the cached token is TOKEN_LIFETIME old."""
        if not self._value or self._clock() - self._issued_at >= TOKEN_LIFETIME:
            self._sign()
        return self._value

    def refresh(self, rejected: bytes) -> None:
        """APNs said the token ``rejected`` expired: re-sign, unless another send already did."""
        if rejected == self._value:
            self._sign()

    def _sign(self) -> None:
        issued_at = int(self._clock())
        claims = {"iss": self._team_id, "iat": issued_at}
        token = es256_jwt(claims, self._key, {"kid": self._key_id})
        self._value = b"bearer " + token.encode()
        self._issued_at = issued_at
        self.signatures += 1


def _load_p8(key_pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CredentialError(
            "The APNs .p8 key cannot be read.",
            hint="Use the AuthKey_XXXXXXXXXX.p8 file downloaded from the Apple developer site.",
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise CredentialError("The APNs .p8 key is not a P-256 (ES256) key.")
    return key


def cert_ssl_context(credential: ApnsCertCredential) -> ssl.SSLContext:
    """A verifying TLS context presenting the .p12's client certificate."""
    key, cert, chain = _load_p12(credential)
    context = client_ssl_context(credential.ca_file)
    # ssl can only load a client certificate from a file. The key is written encrypted
    # with a one-time password to a 0600 temp file that is removed immediately.
    password = secrets.token_bytes(24).hex().encode()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )
    pem += cert.public_bytes(serialization.Encoding.PEM)
    pem += b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    fd, path = tempfile.mkstemp(prefix="pushdeck-apns-", suffix=".pem")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, pem)
        os.close(fd)
        context.load_cert_chain(path, password=password)
    except ssl.SSLError as exc:
        raise CredentialError(f"The APNs certificate cannot be used: {exc}") from exc
    finally:
        os.unlink(path)
    return context


def _load_p12(
    credential: ApnsCertCredential,
) -> tuple[PrivateKeyTypes, x509.Certificate, list[x509.Certificate]]:
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(credential.p12, credential.password)
    except ValueError as exc:
        raise CredentialError(
            "The APNs .p12 file cannot be opened (wrong password or not a PKCS#12 file).",
            hint="Export the certificate with its private key from Keychain Access as .p12.",
        ) from exc
    if key is None or cert is None:
        raise CredentialError("The APNs .p12 file must hold both the certificate and its key.")
    return key, cert, list(chain)
