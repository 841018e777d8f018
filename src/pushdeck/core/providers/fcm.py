"""The FCM HTTP v1 provider: one ``messages:send`` per token, multiplexed over HTTP/2.

    provider = create_provider(FcmCredential(service_account=json.loads(file)))
    result = await provider.send(message, device)          # or validate_only=True
    check = await provider.check()
    await provider.aclose()

Every FCM answer becomes a ``SendResult`` (see ``fcm_errors``); only transport
failures raise ``TransportError`` (``NotSentError`` when the message never left, e.g.
no connection, or no access token because Google's token endpoint was unreachable).
A 5xx/429 from the token endpoint is a transient result, not an auth failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from pushdeck.core.common.errors import CredentialError, NotSentError, TransportError
from pushdeck.core.common.model import (
    Device,
    Message,
    ProviderKind,
    SendResult,
    SendStatus,
    TokenKind,
)
from pushdeck.core.messages.payloads.fcm import FcmRequest, build_fcm
from pushdeck.core.messages.payloads.live_activity import FCM_TOKEN_ATTRIBUTE
from pushdeck.core.providers import fcm_errors
from pushdeck.core.providers.base import (
    CheckResult,
    inconclusive_check,
    register,
    retry_after_header,
)
from pushdeck.core.providers.credentials import FCM_ENDPOINT, Credential, FcmCredential
from pushdeck.core.providers.fcm_auth import GoogleAccessToken, TokenRefused
from pushdeck.core.providers.http2 import (
    DEFAULT_CONNECTIONS,
    H2Client,
    H2Response,
    client_ssl_context,
    json_object,
)

#: Shaped like a registration token but belonging to no device.
CHECK_TOKEN = "pushdeck-credentials-check:not-a-real-registration-token"


class FcmProvider:
    """Sends to one Firebase project with one service account."""

    kind: ClassVar[ProviderKind] = ProviderKind.FCM

    def __init__(
        self,
        credential: FcmCredential,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not credential.project_id or not credential.client_email:
            raise CredentialError(
                "The service account JSON lacks project_id or client_email.",
                hint="Use the key file downloaded from Firebase → Project settings → "
                "Service accounts.",
            )
        context = client_ssl_context(credential.ca_file)

        def client_for(origin: str) -> H2Client:
            return H2Client(origin, context, connections=connections, request_timeout=timeout)

        self.client = client_for((credential.endpoint or FCM_ENDPOINT).rstrip("/"))
        self.tokens = GoogleAccessToken(credential, client_for, clock)
        self.path = f"/v1/projects/{credential.project_id}/messages:send".encode()

    async def send(
        self,
        message: Message,
        device: Device,
        *,
        notification_id: str = "",
        validate_only: bool = False,
    ) -> SendResult:
        token, live_activity_token = device.token, ""
        if device.token_kind is not TokenKind.DEVICE:
            # A Live Activity (or push-to-start) token through FCM: FCM reaches the app by
            # its registration token, kept with the device, and hands the token on.
            live_activity_token = device.token
            token = str(device.attributes.get(FCM_TOKEN_ATTRIBUTE, ""))
            if not token:
                return _no_registration_token(device)
        request = build_fcm(
            message, token, validate_only=validate_only, live_activity_token=live_activity_token
        )
        return await self.send_request(request)

    async def send_request(self, request: FcmRequest) -> SendResult:
        """Send a prebuilt body; refresh the access token once if Google says 401."""
        try:
            token = await self._access_token()
            response = await self._post(token, request.body)
            if response.status == 401 and not _fcm_code(response):
                self.tokens.invalidate(token)
                response = await self._post(await self._access_token(), request.body)
        except TokenRefused as refused:
            return _token_refused(refused)
        return interpret(response)

    async def _access_token(self) -> str:
        try:
            return await self.tokens.get()
        except NotSentError:
            raise
        except TransportError as exc:
            # Whatever happened to the token request, the message itself never left.
            raise NotSentError(
                f"Could not get an access token from Google: {exc.message}", hint=exc.hint
            ) from exc

    async def check(self) -> CheckResult:
        """A ``validate_only`` send to a token no device has: proves auth and project."""
        probe = Message(title="Pushdeck credentials check")
        result = await self.send_request(build_fcm(probe, CHECK_TOKEN, validate_only=True))
        return check_outcome(result)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.tokens.aclose()

    async def _post(self, token: str, content: bytes) -> H2Response:
        headers = [
            *self.client.base_headers(b"POST", self.path),
            (b"authorization", b"Bearer " + token.encode()),
            (b"content-type", b"application/json; charset=UTF-8"),
        ]
        return await self.client.request(headers, content)


def interpret(response: H2Response) -> SendResult:
    """Turn one ``messages:send`` answer into a ``SendResult``."""
    body = json_object(response.body)
    raw: dict[str, Any] = {"status": response.status, "headers": response.headers, "body": body}
    if response.status == 200:
        name = str(body.get("name", ""))
        return SendResult(SendStatus.ACCEPTED, ProviderKind.FCM, 200, name, raw=raw)
    error = body.get("error")
    if not isinstance(error, dict):
        error = {}  # e.g. an HTML error page from a proxy: fall back on the HTTP status
    code, rpc_status = fcm_errors.error_code(error), str(error.get("status", ""))
    mapped = fcm_errors.lookup(code, rpc_status, response.status)
    status, explanation = mapped.status, mapped.explanation
    text = str(error.get("message", ""))
    if (code or rpc_status) == "INVALID_ARGUMENT":
        status, explanation = _invalid_argument(error, text)
    return SendResult(
        status=status,
        provider=ProviderKind.FCM,
        http_status=response.status,
        reason=code or rpc_status or str(response.status),
        explanation=explanation,
        retryable=mapped.retryable,
        retry_after=retry_after_header(response.headers),
        raw=raw,
    )


def _invalid_argument(error: dict[str, Any], text: str) -> tuple[SendStatus, str]:
    if fcm_errors.is_bad_token(text):
        return SendStatus.TOKEN_DEAD, "The registration token is not a valid FCM token: remove it."
    fields = "; ".join(fcm_errors.field_violations(error)) or text
    return SendStatus.REJECTED, f"FCM found an invalid field in the message: {fields}."


def _fcm_code(response: H2Response) -> str:
    error = json_object(response.body).get("error")
    return fcm_errors.error_code(error) if isinstance(error, dict) else ""


def _no_registration_token(device: Device) -> SendResult:
    return SendResult(
        SendStatus.REJECTED,
        ProviderKind.FCM,
        reason="MissingRegistrationToken",
        explanation=f"This {device.token_kind} token is reached through FCM, which also needs "
        f"the app's FCM registration token: import it in an attr.{FCM_TOKEN_ATTRIBUTE} column.",
        raw={"token": device.token[:80]},
    )


def _token_refused(refused: TokenRefused) -> SendResult:
    if refused.status == 429 or refused.status >= 500:
        # Google's sign-in service is down or throttling: the service account is not
        # the problem, and the message was never sent. Transient, not an auth failure.
        return SendResult(
            SendStatus.REJECTED,
            ProviderKind.FCM,
            http_status=refused.status,
            reason="OAUTH_UNAVAILABLE",
            explanation=f"Google's sign-in service answered {refused.status} ({refused.reason}); "
            "the message was not sent. Pushdeck retries later.",
            retryable=True,
            raw={"status": refused.status, "reason": refused.reason},
        )
    return SendResult(
        SendStatus.AUTH_FAILURE,
        ProviderKind.FCM,
        http_status=refused.status,
        reason="OAUTH_TOKEN_REFUSED",
        explanation=f"Google refused the service account ({refused.reason}): the key may be "
        "deleted or disabled; download a new service account key.",
        raw={"status": refused.status, "reason": refused.reason},
    )


def check_outcome(result: SendResult) -> CheckResult:
    """What the dry run's answer says about the credentials."""
    if result.accepted or result.reason == "INVALID_ARGUMENT":
        return CheckResult(
            True,
            "FCM accepted the service account.",
            "A validate_only request (nothing is delivered) reached the project: Google "
            f"signed us in and answered {result.reason or 'OK'} about the dummy token.",
        )
    if result.status is SendStatus.AUTH_FAILURE:
        return CheckResult(
            False, f"FCM refused the credentials: {result.reason}.", result.explanation
        )
    if result.retryable:
        return inconclusive_check("FCM", result)
    return CheckResult(
        False,
        f"Unexpected FCM answer to the check: {result.http_status} {result.reason}.",
        result.explanation,
    )


@register(ProviderKind.FCM)
def create_fcm_provider(credential: Credential, **options: Any) -> FcmProvider:
    if not isinstance(credential, FcmCredential):
        raise CredentialError(f"An FCM provider needs an FCM credential, not {credential!r}.")
    return FcmProvider(credential, **options)
