"""A fake FCM HTTP v1 service: Google's OAuth token endpoint plus ``messages:send``.

    fake = FakeFcm(pki, project_id="demo-project")
    await fake.start()
    account = fake.service_account()      # a service-account JSON whose token_uri is the fake
    cred = FcmCredential(account, endpoint=fake.url, ca_file=str(pki.ca_file))
    fake.dead_tokens.add(token)           # 404 UNREGISTERED
    fake.forced[token] = "QUOTA_EXCEEDED" # answer that token with any FCM error code
    fake.delivered                        # [(token, message)] accepted (not validate_only)
    fake.server.outage_while(path, outage_response(503))  # down while the file exists

Token endpoint: verifies the RS256 assertion against the account's public key (iss,
aud = token_uri, scope, exp - iat <= 1 h) and issues tokens that expire after
``token_lifetime`` seconds of ``fake.clock``. Send endpoint: 401 for unknown/expired
access tokens; validates the message like Google (exactly one target, known fields,
string data values, TTL format, priority, color, size) and answers google.rpc errors.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.h2server import H2Server, Request, Response
from tests.fakes.tls import TestPKI

FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# errorCode -> (HTTP status, google.rpc status)
ERRORS: dict[str, tuple[int, str]] = {
    "UNSPECIFIED_ERROR": (400, "INVALID_ARGUMENT"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "UNREGISTERED": (404, "NOT_FOUND"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "INTERNAL": (500, "INTERNAL"),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED"),
}
SCOPES = {
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/cloud-platform",
}
MESSAGE_FIELDS = {
    "name", "data", "notification", "android", "webpush", "apns", "fcm_options",
    "token", "topic", "condition",
}  # fmt: skip
PAYLOAD_LIMIT = 4096
APNS_FIELDS = {"headers", "payload", "fcm_options", "live_activity_token"}
APNS_FCM_OPTIONS = {"analytics_label", "image"}
_TTL = re.compile(r"\d+(\.\d{1,9})?s")
# google.protobuf.Timestamp in JSON: RFC 3339, UTC "Z", up to nanoseconds.
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
_LABEL = re.compile(r"[a-zA-Z0-9\-_.~%]{1,50}")
_NOTIFICATION_PRIORITIES = {
    "PRIORITY_UNSPECIFIED", "PRIORITY_MIN", "PRIORITY_LOW", "PRIORITY_DEFAULT",
    "PRIORITY_HIGH", "PRIORITY_MAX",
}  # fmt: skip
_FCM_TOKEN = re.compile(r"[A-Za-z0-9_:\-]{20,4096}")


class _Invalid(Exception):
    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message, self.field = message, field


class FakeFcm:
    def __init__(
        self,
        pki: TestPKI,
        *,
        project_id: str = "demo-project",
        token_lifetime: int = 3599,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.project_id = project_id
        self.token_lifetime = token_lifetime
        self.clock = clock
        self.key = _service_account_key()
        self.email = f"pushdeck@{project_id}.iam.gserviceaccount.com"
        self.access_tokens: dict[str, float] = {}  # token -> expiry
        self.assertions = 0
        self.dead_tokens: set[str] = set()
        self.forced: dict[str, str] = {}
        self.delivered: list[tuple[str, dict[str, Any]]] = []
        self.validated: list[dict[str, Any]] = []
        self.unauthorized = 0
        self._ids = itertools.count(1)
        self.server = H2Server(self.handle, pki.server_context())

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account(self, **overrides: str) -> dict[str, str]:
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        account = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "key-1",
            "private_key": pem,
            "client_email": self.email,
            "client_id": "1234567890",
            "token_uri": self.token_uri,
        }
        return account | overrides

    async def start(self) -> FakeFcm:
        await self.server.start()
        return self

    async def aclose(self) -> None:
        await self.server.aclose()

    def expire_all_tokens(self) -> None:
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    # -- routing -------------------------------------------------------------
    def handle(self, req: Request) -> Response:
        if req.method == "POST" and req.path == "/token":
            return self._token(req)
        if req.method == "POST" and req.path.endswith("/messages:send"):
            return self._send(req)
        return _rpc_error(404, "NOT_FOUND", "Not found.")

    # -- OAuth ---------------------------------------------------------------
    def _token(self, req: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(req.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.key.public_key(),
                algorithms=["RS256"],
                audience=self.token_uri,
                # Times are checked below against the fake's own (test-driven) clock.
                options={
                    "require": ["iss", "aud", "iat", "exp"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            return _oauth_error("invalid_grant", f"Invalid JWT: {exc}")
        problem = self._claims_problem(claims)
        if problem:
            return _oauth_error("invalid_grant", problem)
        self.assertions += 1
        token = f"ya29.fake-{next(self._ids)}"
        self.access_tokens[token] = self.clock() + self.token_lifetime
        body = {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}
        return Response(200, {"content-type": "application/json"}, json.dumps(body).encode())

    def _claims_problem(self, claims: dict[str, Any]) -> str:
        if claims["iss"] != self.email:
            return "Invalid JWT Signature."  # what Google says for an unknown account
        if not SCOPES & set(str(claims.get("scope", "")).split()):
            return "Invalid OAuth scope or ID token audience provided."
        if not claims["iat"] - 60 <= self.clock() < claims["exp"]:
            return "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
        if claims["exp"] - claims["iat"] > 3600:
            return "Invalid JWT: Token must be a short-lived token (60 minutes)."
        return ""

    # -- messages:send ---------------------------------------------------------
    def _send(self, req: Request) -> Response:
        if not self._authorized(req.headers.get("authorization", "")):
            self.unauthorized += 1
            return _rpc_error(401, "UNAUTHENTICATED", "Request had invalid authentication.")
        if req.path != f"/v1/projects/{self.project_id}/messages:send":
            return _rpc_error(404, "NOT_FOUND", "Requested entity was not found.")
        try:
            body = json.loads(req.body)
            message = _validate(body)
        except ValueError:
            return _rpc_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        except _Invalid as invalid:
            return _invalid_argument(invalid)
        token = str(message.get("token", ""))
        if token in self.forced:
            return _fcm_error(self.forced[token])
        if token in self.dead_tokens:
            return _fcm_error("UNREGISTERED")
        if body.get("validate_only"):
            self.validated.append(message)
            return _ok(f"projects/{self.project_id}/messages/fake_message_id")
        self.delivered.append((token, message))
        return _ok(f"projects/{self.project_id}/messages/0:{next(self._ids)}")

    def _authorized(self, header: str) -> bool:
        expiry = self.access_tokens.get(header.removeprefix("Bearer "))
        return header.startswith("Bearer ") and expiry is not None and self.clock() < expiry


@functools.cache
def _service_account_key() -> rsa.RSAPrivateKey:
    # RSA-2048 generation is slow; one key per test process keeps the suite fast.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _validate(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise _Invalid("Request contains an invalid argument.", "message")
    message: dict[str, Any] = body["message"]
    unknown = set(message) - MESSAGE_FIELDS
    if unknown:
        raise _Invalid(f'Invalid JSON payload received. Unknown name "{unknown.pop()}"', "message")
    targets = [key for key in ("token", "topic", "condition") if message.get(key)]
    if len(targets) != 1:
        raise _Invalid("Exactly one of token, topic or condition must be set.", "message")
    if "token" in message and not _FCM_TOKEN.fullmatch(message["token"]):
        raise _Invalid("The registration token is not a valid FCM registration token", "token")
    for key, value in (message.get("data") or {}).items():
        if not isinstance(value, str):
            raise _Invalid(f"Invalid value at 'message.data[{key}].value'", f"message.data[{key}]")
    _validate_android(message.get("android") or {})
    _validate_apns(message.get("apns") or {})
    label = (message.get("fcm_options") or {}).get("analytics_label")
    if label is not None and not _LABEL.fullmatch(label):
        raise _Invalid("Invalid analytics_label", "message.fcm_options.analytics_label")
    if _payload_size(message) > PAYLOAD_LIMIT:
        raise _Invalid("Message is too big", "message")
    return message


def _payload_size(message: dict[str, Any]) -> int:
    """FCM's 4096-byte limit is on the payload a device gets, notification + data (the
    Android block's merged in), as UTF-8 JSON; not on the request with its token and
    per-platform options."""
    android = message.get("android") or {}
    counted: dict[str, Any] = {}
    for part in ("notification", "data"):
        merged = {**(message.get(part) or {}), **(android.get(part) or {})}
        if merged:
            counted[part] = merged
    return len(json.dumps(counted, ensure_ascii=False, separators=(",", ":")).encode())


def _validate_android(android: dict[str, Any]) -> None:
    if "ttl" in android and not _TTL.fullmatch(str(android["ttl"])):
        raise _Invalid("Invalid value at 'message.android.ttl'", "message.android.ttl")
    if str(android.get("priority", "NORMAL")).upper() not in ("NORMAL", "HIGH"):
        raise _Invalid("Invalid value at 'message.android.priority'", "message.android.priority")
    notification = android.get("notification") or {}
    color = notification.get("color")
    if color is not None and not re.fullmatch(r"#[0-9a-fA-F]{6}", color):
        raise _Invalid("Invalid color format", "message.android.notification.color")
    if notification.get("visibility", "PRIVATE") not in ("PRIVATE", "PUBLIC", "SECRET"):
        raise _Invalid("Invalid visibility", "message.android.notification.visibility")
    priority = notification.get("notification_priority", "PRIORITY_UNSPECIFIED")
    if priority not in _NOTIFICATION_PRIORITIES:
        raise _Invalid(
            "Invalid notification_priority", "message.android.notification.notification_priority"
        )
    if "event_time" in notification and not _TIMESTAMP.fullmatch(notification["event_time"]):
        raise _Invalid("Invalid value at 'event_time'", "message.android.notification.event_time")
    flags = (
        (notification.get("sticky"), "notification.sticky"),
        (android.get("bandwidth_constrained_ok"), "bandwidth_constrained_ok"),
    )
    for flag, where in flags:
        if flag is not None and not isinstance(flag, bool):
            raise _Invalid(
                f"Invalid value at 'message.android.{where}'", f"message.android.{where}"
            )


def _validate_apns(apns: dict[str, Any]) -> None:
    unknown = set(apns) - APNS_FIELDS
    if unknown:
        raise _Invalid(f"Unknown name \"{unknown.pop()}\" at 'message.apns'", "message.apns")
    options = apns.get("fcm_options") or {}
    if set(options) - APNS_FCM_OPTIONS:
        raise _Invalid("Unknown name in message.apns.fcm_options", "message.apns.fcm_options")
    headers = apns.get("headers") or {}
    if not all(isinstance(v, str) for v in headers.values()):
        raise _Invalid("Invalid value at 'message.apns.headers'", "message.apns.headers")


def _ok(name: str) -> Response:
    return Response(200, {"content-type": "application/json"}, json.dumps({"name": name}).encode())


def _rpc_error(http: int, status: str, message: str, details: list[Any] | None = None) -> Response:
    error = {"code": http, "message": message, "status": status, "details": details or []}
    headers = {"content-type": "application/json"}
    if http in (429, 503):
        headers["retry-after"] = "17"
    return Response(http, headers, json.dumps({"error": error}).encode())


def outage_response(status: int = 503, retry_after: str | None = None) -> Response:
    """What Google answers while FCM (and its token endpoint) is down or throttling."""
    rpc = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}.get(status, "UNAVAILABLE")
    error = {"code": status, "message": "The service is currently unavailable.", "status": rpc}
    headers = {"content-type": "application/json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return Response(status, headers, json.dumps({"error": error}).encode())


def _fcm_error(code: str) -> Response:
    http, status = ERRORS[code]
    detail = {"@type": FCM_ERROR, "errorCode": code}
    return _rpc_error(http, status, f"Fake FCM says {code}.", [detail])


def _invalid_argument(invalid: _Invalid) -> Response:
    details: list[Any] = [{"@type": FCM_ERROR, "errorCode": "INVALID_ARGUMENT"}]
    if invalid.field:
        details.append(
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": invalid.field, "description": invalid.message}],
            }
        )
    return _rpc_error(400, "INVALID_ARGUMENT", invalid.message, details)


def _oauth_error(error: str, description: str) -> Response:
    body = {"error": error, "error_description": description}
    return Response(400, {"content-type": "application/json"}, json.dumps(body).encode())
