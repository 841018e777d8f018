"""Web Push provider (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

    provider = create_provider(WebPushCredential(private_key_pem, public_key, "mailto:…"))
    result = await provider.send(message, device)     # device.subscription holds the keys
    await provider.aclose()

Subscriptions point at many push services (fcm.googleapis.com,
updates.push.services.mozilla.com, web.push.apple.com, …), so there is one lean HTTP/2
client (``providers.http2.H2Client``) per push-service origin, created on first use and
kept in a small LRU; an origin evicted from it is closed once it has nothing in flight.
Through ``H2Client`` a GOAWAY costs no duplicate: requests the service provably did not
process (stream id above GOAWAY's last_stream_id, REFUSED_STREAM, never written) are sent
again transparently, and a request written but never answered raises ``TransportError``
(delivery unknown). The VAPID JWT is cached per origin by ``VapidSigner``; encryption is
fresh per message. Every answer becomes a ``SendResult``; only transport failures raise.
"""

from __future__ import annotations

import json
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from hpack import NeverIndexedHeaderTuple

from pushdeck.core.common.errors import (
    ConfigError,
    CredentialError,
    ProviderTimeoutError,
    TransportError,
    ValidationError,
)
from pushdeck.core.common.model import (
    Device,
    Message,
    ProviderKind,
    SendResult,
    SendStatus,
    WebPushSubscription,
)
from pushdeck.core.messages.payloads.budget import WEBPUSH_LIMIT
from pushdeck.core.messages.payloads.splice import Templates
from pushdeck.core.messages.payloads.webpush import WebPushRequest, build_webpush
from pushdeck.core.net import netguard
from pushdeck.core.providers.base import (
    CheckResult,
    Provider,
    register,
    retry_after_seconds,
)
from pushdeck.core.providers.credentials import Credential, WebPushCredential
from pushdeck.core.providers.http2 import (
    DEFAULT_CONNECTIONS,
    H2Client,
    H2Response,
    Header,
    client_ssl_context,
)
from pushdeck.core.providers.webpush_crypto import (
    VapidSigner,
    encrypt,
    origin_of,
    receiver_keys,
    subject_problem,
    vapid_keys_match,
)

KIND = ProviderKind.WEBPUSH
#: Push-service origins kept connected at once (a campaign rarely reaches more than 4-5).
MAX_ORIGINS = 16


@dataclass(frozen=True)
class _Meaning:
    status: SendStatus
    reason: str
    explanation: str
    retryable: bool = False


_STATUS: Mapping[int, _Meaning] = {
    400: _Meaning(
        SendStatus.REJECTED,
        "BadRequest",
        "The push service refused the request headers (TTL, Urgency or Topic) or the "
        "encrypted body; sending it again will fail the same way.",
    ),
    401: _Meaning(
        SendStatus.AUTH_FAILURE,
        "Unauthorized",
        "The push service did not accept the VAPID signature. Check that the VAPID key pair "
        "is the one your site subscribed with (applicationServerKey) and that the subject is "
        "a plain mailto: or https: contact.",
    ),
    403: _Meaning(
        SendStatus.AUTH_FAILURE,
        "Forbidden",
        "The VAPID key does not match this subscription: it was created with another "
        "applicationServerKey. Use the original key pair, or have the browser resubscribe.",
    ),
    404: _Meaning(
        SendStatus.TOKEN_DEAD,
        "NotFound",
        "The subscription has expired or never existed; remove it (the browser must "
        "subscribe again).",
    ),
    410: _Meaning(
        SendStatus.TOKEN_DEAD,
        "Gone",
        "The user unsubscribed or the subscription expired; remove it.",
    ),
    413: _Meaning(
        SendStatus.REJECTED,
        "PayloadTooLarge",
        "The push service says the encrypted message is too large; shorten the message.",
    ),
    429: _Meaning(
        SendStatus.REJECTED,
        "TooManyRequests",
        "The push service is rate limiting this sender; retry after the delay it gave.",
        retryable=True,
    ),
}
_SERVER_ERROR = _Meaning(
    SendStatus.REJECTED,
    "ServerError",
    "The push service had a temporary problem; retry later.",
    retryable=True,
)


def interpret(response: H2Response) -> SendResult:
    """Turn the push service's HTTP answer into a ``SendResult`` (pure)."""
    code = response.status
    text = response.body[:2000].decode("utf-8", "replace")
    raw = {"status": code, "headers": dict(response.headers), "body": text}
    if code in (200, 201, 202):
        location = response.headers.get("location", "")
        return SendResult(SendStatus.ACCEPTED, KIND, code, provider_id=location, raw=raw)
    meaning = _STATUS.get(code) or (_SERVER_ERROR if code >= 500 else None)
    if meaning is None:
        meaning = _Meaning(
            SendStatus.REJECTED,
            f"HTTP{code}",
            f"The push service answered an unexpected HTTP {code}.",
        )
    return SendResult(
        meaning.status,
        KIND,
        code,
        reason=_service_reason(response.body) or meaning.reason,
        explanation=meaning.explanation,
        retryable=meaning.retryable,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
        raw=raw,
    )


def _service_reason(body: bytes) -> str:
    # Apple answers {"reason": "BadJwtToken"}; Mozilla autopush {"errno": 102, "message": ..}.
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    reason = doc.get("reason") or doc.get("error") or ""
    return str(reason) if isinstance(reason, str | int) else ""


def subscription_from_json(data: str | bytes | Mapping[str, Any]) -> WebPushSubscription:
    """Parse a browser's ``PushSubscription.toJSON()`` (text or dict), keys checked.

    Raises ``ValidationError`` naming the field, e.g. for ``pushdeck push --subscription``.
    """
    try:
        obj = json.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as exc:
        raise ValidationError(f"The subscription is not JSON: {exc}", field="subscription") from exc
    keys = obj.get("keys") if isinstance(obj, Mapping) else None
    if not isinstance(obj, Mapping) or not isinstance(keys, Mapping):
        raise ValidationError(
            "The subscription needs endpoint, keys.p256dh and keys.auth.",
            field="subscription",
            hint="Save JSON.stringify(subscription) from the page, unchanged.",
        )
    endpoint = str(obj.get("endpoint", ""))
    if not endpoint.startswith("https://"):
        raise ValidationError(f"endpoint {endpoint!r} is not an https URL.", field="endpoint")
    subscription = WebPushSubscription(
        endpoint, str(keys.get("p256dh", "")), str(keys.get("auth", ""))
    )
    receiver_keys(subscription.p256dh, subscription.auth)  # lengths and curve point
    return subscription


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """System trust plus, when given, an extra CA (HTTP/2 only): verification is never off."""
    return client_ssl_context(ca_file)


@dataclass(frozen=True)
class _Built:
    """One message's plaintext, padding and delivery headers (TTL, Urgency, Topic), and
    the HTTP/2 headers they make (built once per message)."""

    body: bytes
    padding: int
    delivery: Mapping[str, str]
    headers: tuple[Header, ...]


def _built(request: WebPushRequest) -> _Built:
    headers = (
        *((name.lower().encode(), value.encode()) for name, value in request.headers.items()),
        (b"content-encoding", b"aes128gcm"),
        (b"content-type", b"application/octet-stream"),
    )
    return _Built(request.body, request.padding, request.headers, headers)


def _template_limit(message: Message) -> int | None:
    # A declarative message's URL is validated by the builder: never spliced unchecked.
    return None if message.web_declarative or message.is_live_activity else WEBPUSH_LIMIT


class _Origin:
    """One push service's client and how many sends are using it right now."""

    __slots__ = ("busy", "client")

    def __init__(self, client: H2Client) -> None:
        self.client = client
        self.busy = 0


class WebPushProvider:
    """Sends to any push service a browser subscribed with (``Device.subscription``)."""

    kind: ClassVar[ProviderKind] = KIND

    def __init__(
        self,
        credential: WebPushCredential,
        *,
        timeout: float = 30.0,
        connections: int = DEFAULT_CONNECTIONS,
        max_origins: int = MAX_ORIGINS,
    ) -> None:
        self.credential = credential
        self.timeout = timeout
        self.connections = connections
        self.max_origins = max(1, max_origins)
        self._signer: VapidSigner | None = None
        self._last_built: tuple[Message, _Built] | None = None
        # Personalized copies of one localized message: the plaintext spliced per
        # recipient into a template built once (payloads.splice), headers reused.
        self._templates = Templates(
            lambda m: build_webpush(m).body, _template_limit, lambda m: _built(build_webpush(m))
        )
        self._context: ssl.SSLContext | None = None
        self._origins: OrderedDict[str, _Origin] = OrderedDict()  # least recently used first
        self._problems: dict[tuple[str, bool], str] = {}  # (origin, local allowed) -> problem
        self._closed = False

    @property
    def signer(self) -> VapidSigner:
        # Created on first use so that a bad key surfaces in check() as data, not here.
        if self._signer is None:
            self._signer = VapidSigner(self.credential.private_key_pem, self.credential.subject)
        return self._signer

    @property
    def origins(self) -> list[str]:
        """The push-service origins with an open client, least recently used first."""
        return list(self._origins)

    def prepare(self, message: Message, device: Device) -> tuple[str, dict[str, str], bytes]:
        """Endpoint, headers and encrypted body for one send (no I/O)."""
        subscription, built, body = self._encrypt(message, device)
        headers = {
            **built.delivery,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.signer.authorization(subscription.endpoint),
        }
        return subscription.endpoint, headers, body

    def _encrypt(
        self, message: Message, device: Device
    ) -> tuple[WebPushSubscription, _Built, bytes]:
        subscription = device.subscription
        if subscription is None:
            raise ValidationError(
                f"Device {device.token!r} has no Web Push subscription keys.",
                field="subscription",
                hint="Import the full PushSubscription JSON (endpoint, keys.p256dh, keys.auth).",
            )
        if not subscription.endpoint.startswith("https://"):
            raise ValidationError(
                f"endpoint {subscription.endpoint!r} is not an https URL.", field="endpoint"
            )
        problem = self._endpoint_problem(subscription.endpoint)
        if problem:  # the resolved addresses are checked again when connecting
            raise netguard.refusal("The endpoint", problem, field="endpoint")
        built = self._build(message)
        body = encrypt(
            built.body,
            receiver_keys(subscription.p256dh, subscription.auth),
            padding=built.padding,
        )
        return subscription, built, body

    def _endpoint_problem(self, endpoint: str) -> str:
        """``netguard.url_problem`` of the endpoint, worked out once per push-service
        origin: it depends only on the scheme and host[:port], and a campaign sends
        thousands of subscriptions of a handful of origins."""
        try:
            origin = origin_of(endpoint)
        except ValidationError:
            return netguard.url_problem(endpoint)
        key = (origin, netguard.local_addresses_allowed())
        problem = self._problems.get(key)
        if problem is None:
            if len(self._problems) >= 1024:  # endpoints from anywhere: stay bounded
                self._problems.clear()
            problem = self._problems[key] = netguard.url_problem(endpoint)
        return problem

    def _build(self, message: Message) -> _Built:
        # A campaign without personalization hands the same Message object to every
        # device: build (and budget-check) it once. Identity, not equality, so a
        # personalized message is never mistaken for another.
        last = self._last_built
        if last is not None and last[0] is message:
            return last[1]
        spliced = self._templates.body(message)
        if spliced is not None:
            body, constant = spliced
            padding = WEBPUSH_LIMIT - len(body) if message.web_padding else 0
            return _Built(body, padding, constant.delivery, constant.headers)
        built = _built(build_webpush(message))
        self._last_built = (message, built)
        return built

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        """POST the encrypted message. Raises only for bad input and transport failures."""
        try:
            subscription, built, body = self._encrypt(message, device)
            endpoint = subscription.endpoint
            origin = origin_of(endpoint)
        except ValidationError as exc:
            return _invalid_subscription(exc)
        authorization = self.signer.authorization(endpoint)
        entry = await self._acquire(origin)
        client = entry.client
        headers: list[Header] = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", client.authority),
            # Unique per subscription: never worth a place in the HPACK table.
            NeverIndexedHeaderTuple(b":path", (endpoint[len(origin) :] or "/").encode()),
            *built.headers,
            (b"authorization", authorization.encode()),
        ]
        try:
            response = await client.request(headers, body)
        except netguard.AddressRefused as exc:  # from the resolver, before any connection
            return _invalid_subscription(exc)
        except TransportError as exc:  # ProviderTimeoutError too: the type is kept
            hint = exc.hint
            if not hint and isinstance(exc, ProviderTimeoutError):
                hint = "If the request was sent, its delivery is unknown; retrying may duplicate."
            raise type(exc)(f"Push service {origin}: {exc.message}", hint=hint) from exc
        finally:
            entry.busy -= 1
            if len(self._origins) > self.max_origins:
                await self._evict()  # what was busy when the bound was passed
        return interpret(response)

    async def _acquire(self, origin: str) -> _Origin:
        """The client for ``origin`` (created on first use), marked busy."""
        if self._closed:
            raise TransportError("The Web Push provider is closed.")
        entry = self._origins.get(origin)
        if entry is None:
            client = H2Client(
                origin,
                self._ssl_context(),
                connections=self.connections,
                connect_timeout=min(10.0, self.timeout),
                request_timeout=self.timeout,
                resolve=netguard.resolve_public,
            )
            entry = self._origins[origin] = _Origin(client)
            entry.busy += 1  # before evicting, so the new client is never the one closed
            await self._evict()
            return entry
        self._origins.move_to_end(origin)
        entry.busy += 1
        return entry

    async def _evict(self) -> None:
        # Close the least recently used idle origins beyond the bound. An origin with
        # sends in flight is never closed under them (the bound may be exceeded briefly).
        excess = len(self._origins) - self.max_origins
        for origin, entry in list(self._origins.items()):
            if excess <= 0:
                break
            if entry.busy == 0:
                del self._origins[origin]
                excess -= 1
                await entry.client.aclose()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = client_ssl_context(self.credential.ca_file)
        return self._context

    async def check(self) -> CheckResult:
        """Key pair consistent and subject valid; no network, nobody is notified."""
        cred = self.credential
        try:
            matches = vapid_keys_match(cred.private_key_pem, cred.public_key)
        except CredentialError as exc:
            return CheckResult(False, "The VAPID private key is unusable.", str(exc))
        if not matches:
            return CheckResult(
                False,
                "The VAPID public key does not belong to the private key.",
                "Browsers subscribed with the public key; pushes signed with another "
                "private key are refused (401/403). Restore the matching pair.",
            )
        problem = subject_problem(cred.subject)
        if problem:
            return CheckResult(False, "The VAPID subject is not a valid contact.", problem)
        return CheckResult(True, "VAPID key pair is consistent and the subject is valid.")

    async def aclose(self) -> None:
        self._closed = True
        origins, self._origins = self._origins, OrderedDict()
        for entry in origins.values():
            await entry.client.aclose()


@register(KIND)
def create_webpush_provider(credential: Credential, **options: Any) -> Provider:
    """Registry factory: ``create_provider(WebPushCredential(...), timeout=..., ...)``."""
    if not isinstance(credential, WebPushCredential):
        raise ConfigError(f"The Web Push provider needs a WebPushCredential, not {credential!r}.")
    return WebPushProvider(credential, **options)


def _invalid_subscription(exc: ValidationError) -> SendResult:
    # A malformed subscription can never work: a permanent rejection of this device,
    # not an exception that would stop the whole campaign.
    detail: dict[str, Any] = {"field": exc.field, "message": exc.message}
    if isinstance(exc, netguard.AddressRefused):
        return SendResult(
            SendStatus.REJECTED,
            KIND,
            reason="EndpointNotAllowed",
            explanation=f"{exc.message} {exc.hint}",
            raw=detail,
        )
    return SendResult(
        SendStatus.REJECTED,
        KIND,
        reason="InvalidSubscription",
        explanation=f"{exc.message} Re-import this browser's subscription.",
        raw=detail,
    )
