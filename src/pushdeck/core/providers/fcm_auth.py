"""Google service-account OAuth for FCM: RS256 assertion -> cached access token.

The access token lives about an hour; it is reused by every send and fetched again
``REFRESH_MARGIN`` seconds before it expires, by one request even when a thousand
sends need it at the same moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pushdeck.core.common.errors import CredentialError
from pushdeck.core.providers.credentials import FcmCredential
from pushdeck.core.providers.http2 import H2Client, json_object

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_MARGIN = 5 * 60
ASSERTION_LIFETIME = 3600


class TokenRefused(Exception):
    """Google's token endpoint refused the assertion (an auth failure, not transport)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class GoogleAccessToken:
    """Fetches and caches the OAuth access token of one service account."""

    def __init__(
        self,
        credential: FcmCredential,
        client_for: Callable[[str], H2Client],
        clock: Callable[[], float] = time.time,
    ) -> None:
        account = credential.service_account
        self._email = credential.client_email
        self._key_id = str(account.get("private_key_id", ""))
        self._key = _load_key(account.get("private_key"))
        self._token_uri = str(account.get("token_uri") or "https://oauth2.googleapis.com/token")
        parts = urlsplit(self._token_uri)
        self._client = client_for(f"{parts.scheme}://{parts.netloc}")
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._clock = clock
        self._token = ""
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0  # how many tokens were requested (tests count this)

    async def get(self) -> str:
        """A valid access token, fetched only when none is cached or it nears expiry."""
        if self._fresh():
            return self._token
        async with self._lock:  # one fetch for every waiting send
            if not self._fresh():
                await self._fetch()
        return self._token

    def invalidate(self, token: str) -> None:
        """Google answered 401 with ``token``: forget it (unless already replaced)."""
        if token == self._token:
            self._token, self._expires_at = "", 0.0

    async def aclose(self) -> None:
        await self._client.aclose()

    def _fresh(self) -> bool:
        return bool(self._token) and self._clock() < self._expires_at - REFRESH_MARGIN

    async def _fetch(self) -> None:
        body = urlencode({"grant_type": GRANT_TYPE, "assertion": self._assertion()}).encode()
        headers = [
            *self._client.base_headers(b"POST", self._path.encode()),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ]
        requested_at = self._clock()
        response = await self._client.request(headers, body)
        self.fetches += 1
        answer = json_object(response.body)
        if response.status != 200 or "access_token" not in answer:
            reason = answer.get("error_description") or answer.get("error") or response.status
            raise TokenRefused(response.status, str(reason))
        self._token = str(answer["access_token"])
        self._expires_at = requested_at + float(answer.get("expires_in", 3600))

    def _assertion(self) -> str:
        now = int(self._clock())
        claims = {
            "iss": self._email,
            "scope": SCOPE,
            "aud": self._token_uri,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)


def _load_key(pem: object) -> rsa.RSAPrivateKey:
    if not isinstance(pem, str) or not pem:
        raise CredentialError(
            "The service account has no private_key.",
            hint="Download a new key (JSON) for the service account in the Firebase console.",
        )
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError as exc:
        raise CredentialError("The service account's private_key cannot be read.") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError("The service account's private_key is not an RSA key.")
    return key
