"""Web Push provider (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

One shared ``httpx.AsyncClient(http2=True)`` serves every push service (FCM, Mozilla,
Apple, …): the endpoint is per subscription. The VAPID JWT is cached per origin by
``VapidSigner``; encryption is fresh per message.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import httpx

from pushdeck.core.credentials import Credential, WebPushCredential
from pushdeck.core.errors import (
    ConfigError,
    CredentialError,
    ProviderTimeoutError,
    TransportError,
    ValidationError,
)
from pushdeck.core.model import (
    Device,
    Message,
    ProviderKind,
    SendResult,
    SendStatus,
    WebPushSubscription,
)
from pushdeck.core.payloads.webpush import WebPushRequest, build_webpush
from pushdeck.core.providers.base import CheckResult, Provider, register
from pushdeck.core.webpush_crypto import (
    VapidSigner,
    encrypt,
    receiver_keys,
    subject_problem,
    vapid_keys_match,
)

KIND = ProviderKind.WEBPUSH


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


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (delay-seconds or HTTP-date) into seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def interpret(response: httpx.Response) -> SendResult:
    """Turn the push service's HTTP answer into a ``SendResult`` (pure)."""
    code = response.status_code
    raw = {"status": code, "headers": dict(response.headers), "body": response.text[:2000]}
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
        reason=_service_reason(response) or meaning.reason,
        explanation=meaning.explanation,
        retryable=meaning.retryable,
        retry_after=retry_after_seconds(response.headers.get("retry-after")),
        raw=raw,
    )


def _service_reason(response: httpx.Response) -> str:
    # Apple answers {"reason": "BadJwtToken"}; Mozilla autopush {"errno": 102, "message": ..}.
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    reason = body.get("reason") or body.get("error") or ""
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
    """System trust plus, when given, an extra CA: verification is never switched off."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class WebPushProvider:
    """Sends to any push service a browser subscribed with (``Device.subscription``)."""

    kind: ClassVar[ProviderKind] = KIND

    def __init__(
        self,
        credential: WebPushCredential,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
    ) -> None:
        self.credential = credential
        self._signer: VapidSigner | None = None
        self._last_built: tuple[Message, WebPushRequest] | None = None
        self._client = client or httpx.AsyncClient(
            http2=True,
            verify=ssl_context(credential.ca_file),
            timeout=timeout,
            limits=httpx.Limits(max_connections=max_connections),
        )

    @property
    def signer(self) -> VapidSigner:
        # Created on first use so that a bad key surfaces in check() as data, not here.
        if self._signer is None:
            self._signer = VapidSigner(self.credential.private_key_pem, self.credential.subject)
        return self._signer

    def prepare(self, message: Message, device: Device) -> tuple[str, dict[str, str], bytes]:
        """Endpoint, headers and encrypted body for one send (no I/O)."""
        subscription = device.subscription
        if subscription is None:
            raise ValidationError(
                f"Device {device.token!r} has no Web Push subscription keys.",
                field="subscription",
                hint="Import the full PushSubscription JSON (endpoint, keys.p256dh, keys.auth).",
            )
        request = self._build(message)
        body = encrypt(request.body, receiver_keys(subscription.p256dh, subscription.auth))
        headers = {
            **request.headers,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.signer.authorization(subscription.endpoint),
        }
        return subscription.endpoint, headers, body

    def _build(self, message: Message) -> WebPushRequest:
        # A campaign without personalization hands the same Message object to every
        # device: build (and budget-check) it once. Identity, not equality, so a
        # personalized message is never mistaken for another.
        last = self._last_built
        if last is not None and last[0] is message:
            return last[1]
        request = build_webpush(message)
        self._last_built = (message, request)
        return request

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        """POST the encrypted message. Raises only for bad input and transport failures."""
        try:
            endpoint, headers, body = self.prepare(message, device)
        except ValidationError as exc:
            return _invalid_subscription(exc)
        try:
            response = await self._client.post(endpoint, headers=headers, content=body)
        except httpx.TimeoutException as exc:
            raise ProviderTimeoutError(
                f"The push service at {endpoint} did not answer in time.",
                hint="Delivery is unknown; retrying may send a duplicate.",
            ) from exc
        except httpx.HTTPError as exc:
            raise TransportError(
                f"Could not reach the push service at {endpoint}: {exc}",
                hint="Check the network, proxy and extra CA settings.",
            ) from exc
        return interpret(response)

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
        await self._client.aclose()


@register(KIND)
def create_webpush_provider(credential: Credential, **options: Any) -> Provider:
    """Registry factory: ``create_provider(WebPushCredential(...), client=..., timeout=...)``."""
    if not isinstance(credential, WebPushCredential):
        raise ConfigError(f"The Web Push provider needs a WebPushCredential, not {credential!r}.")
    return WebPushProvider(credential, **options)


def _invalid_subscription(exc: ValidationError) -> SendResult:
    # A malformed subscription can never work: a permanent rejection of this device,
    # not an exception that would stop the whole campaign.
    detail: dict[str, Any] = {"field": exc.field, "message": exc.message}
    return SendResult(
        SendStatus.REJECTED,
        KIND,
        reason="InvalidSubscription",
        explanation=f"{exc.message} Re-import this browser's subscription.",
        raw=detail,
    )
