"""The APNs provider: token (.p8) or certificate (.p12) auth over one HTTP/2 pool.

    provider = create_provider(credential)            # ApnsTokenCredential | ApnsCertCredential
    result = await provider.send(message, device, notification_id=uuid_str)
    check = await provider.check()
    await provider.aclose()

Every APNs answer becomes a ``SendResult`` (see ``apns_reasons``); only transport
failures raise ``TransportError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from hpack import NeverIndexedHeaderTuple

from pushdeck.core.common.errors import CredentialError
from pushdeck.core.common.model import (
    ApnsEnvironment,
    Device,
    Message,
    ProviderKind,
    SendResult,
    SendStatus,
)
from pushdeck.core.messages.payloads.apns import ApnsRequest, build_apns
from pushdeck.core.providers import apns_reasons
from pushdeck.core.providers.apns_auth import ApnsTokenSigner, cert_ssl_context
from pushdeck.core.providers.apns_bodies import ApnsBodies
from pushdeck.core.providers.base import (
    CheckResult,
    inconclusive_check,
    register,
    retry_after_header,
)
from pushdeck.core.providers.credentials import (
    APNS_HOSTS,
    ApnsCertCredential,
    ApnsTokenCredential,
    Credential,
)
from pushdeck.core.providers.http2 import (
    DEFAULT_CONNECTIONS,
    H2Client,
    H2Response,
    Header,
    client_ssl_context,
    json_object,
)

_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{8,400}")
#: A syntactically valid token no device has: APNs answers BadDeviceToken if auth is fine.
CHECK_TOKEN = "0" * 64
#: Apple: retry these on a new connection.
NEW_CONNECTION_REASONS = frozenset({"IdleTimeout", "Shutdown", "UnrelatedKeyIdInToken"})

ApnsCredential = ApnsTokenCredential | ApnsCertCredential


class ApnsProvider:
    """Sends to one app (topic) with one APNs credential."""

    kind: ClassVar[ProviderKind] = ProviderKind.APNS

    def __init__(
        self,
        credential: ApnsCredential,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.credential = credential
        self.topic = credential.topic
        self.signer: ApnsTokenSigner | None = None
        if isinstance(credential, ApnsTokenCredential):
            self.signer = ApnsTokenSigner(credential, clock)
            context = client_ssl_context(credential.ca_file)
        else:
            context = cert_ssl_context(credential)
        self._context, self._connections, self._timeout = context, connections, timeout
        self._clients: dict[str, H2Client] = {}
        self.bodies = ApnsBodies(self.topic)
        #: The credential's own environment: where checks and bare-token sends go.
        self.client = self.client_for(credential.environment)

    def client_for(self, environment: ApnsEnvironment) -> H2Client:
        """The connection pool for a device's APNs environment.

        Devices carry their own environment: a build from Xcode or TestFlight registers
        a sandbox token, the App Store build a production one, and a token sent to the
        other host fails with BadDeviceToken. A token key works on both hosts, so each
        device goes to its own (a certificate may be single-environment; APNs then
        answers BadCertificateEnvironment, which is reported). A custom endpoint is
        the one host for every device.
        """
        origin = (self.credential.endpoint or APNS_HOSTS[environment]).rstrip("/")
        if origin not in self._clients:
            self._clients[origin] = H2Client(
                origin, self._context, connections=self._connections, request_timeout=self._timeout
            )
        return self._clients[origin]

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        body, headers = self.bodies.build(message, notification_id)
        return await self._post(device.token, body, headers, device.environment)

    async def send_request(
        self, token: str, request: ApnsRequest, *, environment: ApnsEnvironment | None = None
    ) -> SendResult:
        """Send a prebuilt request (``pushdeck push --payload`` and the benchmark use this)
        to the host of ``environment`` (default: the credential's)."""
        return await self._post(token, request.body, request.headers, environment)

    async def _post(
        self,
        token: str,
        body: bytes,
        apns_headers: Mapping[str, str],
        environment: ApnsEnvironment | None,
    ) -> SendResult:
        if not _HEX_TOKEN.fullmatch(token):
            return _bad_token_locally(token)
        client = self.client if environment is None else self.client_for(environment)
        headers = self._headers(token, apns_headers, client)
        response = await client.request(headers, body)
        if self.signer is not None and _reason(response) == "ExpiredProviderToken":
            # Our clock or Apple's disagree on the token's age: re-sign once and retry.
            self.signer.refresh(_authorization(headers))
            response = await client.request(self._headers(token, apns_headers, client), body)
        result = interpret(response)
        if result.reason in NEW_CONNECTION_REASONS:
            client.retire_connections()  # so the dispatcher's retry goes elsewhere
        return result

    async def check(self) -> CheckResult:
        """Prove the credentials work: a real request to a token no device has."""
        probe = Message(title="Pushdeck credentials check", ttl_seconds=0)
        request = build_apns(probe, topic=self.topic)
        result = await self.send_request(CHECK_TOKEN, request)
        return check_outcome(result)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def _headers(
        self, token: str, apns_headers: Mapping[str, str], client: H2Client
    ) -> list[Header]:
        # The path and the id are unique per request: never put them in the HPACK table.
        headers: list[Header] = [
            (b":method", b"POST"),
            (b":scheme", b"https"),
            (b":authority", client.authority),
            NeverIndexedHeaderTuple(b":path", b"/3/device/" + token.encode()),
        ]
        for name, value in apns_headers.items():
            if name == "apns-id":
                headers.append(NeverIndexedHeaderTuple(b"apns-id", value.encode()))
            else:
                headers.append((name.encode(), value.encode()))
        if self.signer is not None:
            headers.append((b"authorization", self.signer.header()))
        return headers


def interpret(response: H2Response) -> SendResult:
    """Turn one APNs answer into a ``SendResult``."""
    raw: dict[str, Any] = {"status": response.status, "headers": response.headers}
    apns_id = response.headers.get("apns-id", "")
    if response.status == 200:
        return SendResult(SendStatus.ACCEPTED, ProviderKind.APNS, 200, apns_id, raw=raw)
    body = json_object(response.body)
    raw["body"] = body
    reason = str(body.get("reason", ""))
    mapped = apns_reasons.lookup(reason, response.status)
    return SendResult(
        status=mapped.status,
        provider=ProviderKind.APNS,
        http_status=response.status,
        provider_id=apns_id,
        reason=reason,
        explanation=mapped.explanation,
        retryable=mapped.retryable,
        retry_after=retry_after_header(response.headers),
        token_dead_since=_dead_since(body) if mapped.status is SendStatus.TOKEN_DEAD else None,
        raw=raw,
    )


def check_outcome(result: SendResult) -> CheckResult:
    """What the probe's answer says about the credentials."""
    if result.reason == "BadDeviceToken":
        return CheckResult(
            True,
            "APNs accepted the credentials.",
            "A request to a deliberately invalid device token came back BadDeviceToken, "
            "which APNs only says after the key or certificate and the topic were accepted.",
        )
    if result.status is SendStatus.AUTH_FAILURE:
        return CheckResult(
            False, f"APNs refused the credentials: {result.reason}.", result.explanation
        )
    if result.retryable:
        return inconclusive_check("APNs", result)
    return CheckResult(
        False,
        f"Unexpected APNs answer to the check: {result.http_status} {result.reason or 'OK'}.",
        result.explanation or "APNs accepted a notification to a token no device should have.",
    )


def _bad_token_locally(token: str) -> SendResult:
    return SendResult(
        SendStatus.REJECTED,
        ProviderKind.APNS,
        reason="BadDeviceToken",
        explanation="The token is not a hexadecimal APNs device token; it was not sent. "
        "Check how the app reports its token (it must be hex, not base64).",
        raw={"token": token[:80]},
    )


def _reason(response: H2Response) -> str:
    return "" if response.status == 200 else str(json_object(response.body).get("reason", ""))


def _authorization(headers: list[Header]) -> bytes:
    return next((value for name, value in headers if name == b"authorization"), b"")


def _dead_since(body: Mapping[str, Any]) -> datetime | None:
    timestamp = body.get("timestamp")
    if not isinstance(timestamp, int | float):
        return None
    return datetime.fromtimestamp(timestamp / 1000, tz=UTC)  # APNs sends milliseconds


@register(ProviderKind.APNS)
def create_apns_provider(credential: Credential, **options: Any) -> ApnsProvider:
    if not isinstance(credential, ApnsTokenCredential | ApnsCertCredential):
        raise CredentialError(f"An APNs provider needs an APNs credential, not {credential!r}.")
    return ApnsProvider(credential, **options)


__all__ = ["CHECK_TOKEN", "ApnsProvider", "check_outcome", "create_apns_provider", "interpret"]
