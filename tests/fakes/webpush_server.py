"""A fake Web Push service (RFC 8030) on the shared HTTP/2 TLS test server.

It behaves like a strict real push service: it hands out subscriptions (it plays the
browser too, so it holds each subscription's private key and auth secret), checks
VAPID (ES256 JWT against the ``k=`` key, ``aud`` = its own origin, ``exp`` within 24 h,
``sub`` mailto:/https:), the delivery headers, and DECRYPTS every body with the
independent ``http_ece`` package. What decrypts is stored in ``received``.

Answers: 201 + Location; 400 bad headers or undecryptable body; 401 no VAPID;
403 bad JWT or key mismatch (restricted subscription); 404 unknown subscription;
410 unsubscribed; 413 body over ``max_body``. 429/5xx via ``server.fail_next``.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.model import WebPushSubscription
from tests.fakes.h2server import H2Server, Request, Response
from tests.fakes.tls import TestPKI

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URGENCY = {"very-low", "low", "normal", "high"}


def _placeholder(sub: str) -> bool:
    """Like Apple: a contact at a reserved name (localhost, *.test, …) reaches no one."""
    host = re.sub(r"^(mailto:[^@]*@|https://)", "", sub).split("/")[0].split(":")[0].lower()
    return host == "localhost" or host.endswith((".localhost", ".invalid", ".test", ".example"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Browser:
    """The receiving side of one subscription."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    application_server_key: str = ""  # restricted subscription when set
    gone: bool = False


@dataclass
class Received:
    subscription_id: str
    plaintext: bytes
    headers: dict[str, str]
    jwt_claims: dict[str, object] = field(default_factory=dict)


def outage_response(status: int = 503, retry_after: str | None = None) -> Response:
    """What a push service answers while it is down or rate limiting."""
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Response(status, headers, b"")


class FakeWebPushService:
    def __init__(self, pki: TestPKI, *, max_body: int = 4096) -> None:
        self.server = H2Server(self.handle, pki.server_context())
        self.max_body = max_body
        self.browsers: dict[str, Browser] = {}
        self.received: list[Received] = []
        self._messages = itertools.count(1)

    async def start(self) -> FakeWebPushService:
        await self.server.start()
        return self

    async def aclose(self) -> None:
        await self.server.aclose()

    @property
    def url(self) -> str:
        return self.server.url

    # -- the browser side --------------------------------------------------------
    def subscribe(self, application_server_key: str = "") -> WebPushSubscription:
        """A new subscription, as ``PushSubscription.toJSON()`` would give it."""
        sub_id = secrets.token_urlsafe(12)
        key = ec.generate_private_key(ec.SECP256R1())
        browser = Browser(key, secrets.token_bytes(16), application_server_key)
        self.browsers[sub_id] = browser
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return WebPushSubscription(f"{self.url}/push/{sub_id}", _b64(public), _b64(browser.auth))

    def unsubscribe(self, subscription: WebPushSubscription) -> None:
        self.browsers[subscription.endpoint.rsplit("/", 1)[1]].gone = True

    # -- the push service side ----------------------------------------------------
    def handle(self, request: Request) -> Response:
        sub_id = request.path.removeprefix("/push/")
        browser = self.browsers.get(sub_id)
        if request.method != "POST" or browser is None:
            return Response(404, {}, b'{"reason":"NotFound"}')
        if browser.gone:
            return Response(410, {}, b'{"reason":"Unregistered"}')
        # The JWT's audience is the origin the request was addressed to (a name that
        # resolves here, or 127.0.0.1 itself).
        origin = f"https://{request.authority}" if request.authority else self.url
        auth = self._check_vapid(request.headers.get("authorization", ""), browser, origin)
        if isinstance(auth, Response):
            return auth
        problem = self._check_headers(request)
        if problem:
            return Response(400, {}, problem.encode())
        if len(request.body) > self.max_body:
            return Response(413, {}, b'{"reason":"PayloadTooLarge"}')
        try:
            plaintext = http_ece.decrypt(
                request.body,
                private_key=browser.private_key,
                auth_secret=browser.auth,
                version="aes128gcm",
            )
        except Exception as exc:  # noqa: BLE001 - any decrypt failure is the client's fault
            return Response(400, {}, f'{{"reason":"DecryptionFailed","detail":"{exc}"}}'.encode())
        self.received.append(Received(sub_id, plaintext, dict(request.headers), auth))
        location = f"{self.url}/message/{next(self._messages)}"
        return Response(201, {"location": location, "ttl": request.headers["ttl"]}, b"")

    def _check_headers(self, request: Request) -> str:
        headers = request.headers
        ttl = headers.get("ttl", "")
        if not ttl.isdigit():
            return '{"reason":"MissingOrBadTTL"}'
        if headers.get("content-encoding") != "aes128gcm":
            return '{"reason":"UnsupportedContentEncoding"}'
        if "urgency" in headers and headers["urgency"] not in _URGENCY:
            return '{"reason":"BadUrgency"}'
        if "topic" in headers and not _TOPIC.match(headers["topic"]):
            return '{"reason":"BadTopic"}'
        return ""

    def _check_vapid(
        self, value: str, browser: Browser, origin: str
    ) -> dict[str, object] | Response:
        match = re.fullmatch(r"vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)", value)
        if not value:
            return Response(401, {}, b'{"reason":"MissingAuthorization"}')
        if match is None:
            return Response(403, {}, b'{"reason":"BadAuthorizationHeader"}')
        token, key = match.groups()
        if browser.application_server_key and key != browser.application_server_key:
            return Response(403, {}, b'{"reason":"VapidPkHashMismatch"}')
        try:
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _unb64(key))
            claims: dict[str, object] = jwt.decode(
                token,
                public,
                algorithms=["ES256"],
                audience=origin,
                options={"require": ["aud", "exp"]},
            )
        except (jwt.PyJWTError, ValueError):
            return Response(403, {}, b'{"reason":"BadJwtToken"}')
        exp = claims["exp"]
        sub = str(claims.get("sub", ""))
        if not isinstance(exp, int) or exp > time.time() + 24 * 3600:
            return Response(403, {}, b'{"reason":"BadJwtToken","detail":"exp"}')
        if not re.fullmatch(r"mailto:[^\s<>]+@[^\s<>]+|https://\S+", sub) or _placeholder(sub):
            return Response(403, {}, b'{"reason":"BadJwtToken","detail":"sub"}')
        return claims
