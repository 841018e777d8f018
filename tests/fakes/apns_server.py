"""A fake APNs that checks requests the way Apple does and answers with Apple's reasons.

    fake = FakeApns(pki, topic="com.example.app", team_id=..., key_id=..., public_key=pub)
    await fake.start()            # fake.url -> use as the credential's endpoint
    fake.dead_tokens[token] = ms  # 410 Unregistered with that timestamp
    fake.forced[token] = "TooManyRequests"   # answer that token with any reason code
    fake.server.goaway_after(5) / fail_next(...)  # transport faults (see h2server)
    fake.server.outage_while(path, outage_response(503))  # down while the file exists
    fake.accepted                 # Counter of apns-id values answered 200 (duplicates!)

``apns_like=True`` advertises what Apple does (1 stream until a first answer, then 1,000);
``latency=0.06`` answers each request 60 ms after it arrived (see h2server).

Token auth: the ES256 JWT is verified against the team's public key (alg, kid, iss,
signature) and its ``iat`` must be under an hour old by ``fake.clock`` (or not before
``fake.expire_before``). Certificate auth (``client_ca`` given): the TLS client
certificate must verify against that CA and its subject must name the topic.
"""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.h2server import H2Server, Request, Response
from tests.fakes.tls import TestPKI

STATUS_OF: dict[str, int] = {
    **dict.fromkeys(
        [
            "BadCollapseId", "BadDeviceToken", "BadExpirationDate", "BadMessageId",
            "BadPriority", "BadTopic", "DeviceTokenNotForTopic", "DuplicateHeaders",
            "IdleTimeout", "InvalidPushType", "MissingDeviceToken", "MissingTopic",
            "PayloadEmpty", "TopicDisallowed",
        ],
        400,
    ),
    **dict.fromkeys(
        [
            "BadCertificate", "BadCertificateEnvironment", "ExpiredProviderToken", "Forbidden",
            "InvalidProviderToken", "MissingProviderToken", "UnrelatedKeyIdInToken",
            "BadEnvironmentKeyIdInToken",
        ],
        403,
    ),
    "BadPath": 404,
    "MethodNotAllowed": 405,
    "ExpiredToken": 410,
    "Unregistered": 410,
    "PayloadTooLarge": 413,
    "TooManyProviderTokenUpdates": 429,
    "TooManyRequests": 429,
    "InternalServerError": 500,
    "ServiceUnavailable": 503,
    "Shutdown": 503,
}  # fmt: skip

SUFFIX = {
    "alert": "", "background": "", "voip": ".voip", "complication": ".complication",
    "fileprovider": ".pushkit.fileprovider", "liveactivity": ".push-type.liveactivity",
    "location": ".location-query", "mdm": "", "pushtotalk": ".voip-ptt",
    "widgets": ".push-type.widgets", "controls": ".push-type.controls",
}  # fmt: skip
_TOKEN = re.compile(r"[0-9a-f]{64,200}", re.IGNORECASE)


class _Reject(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason


class FakeApns:
    def __init__(
        self,
        pki: TestPKI,
        *,
        topic: str,
        team_id: str = "",
        key_id: str = "",
        public_key: ec.EllipticCurvePublicKey | None = None,
        client_ca: Path | None = None,
        max_concurrent_streams: int | None = None,
        record: bool = True,
        lean: bool = False,
        latency: float = 0.0,
        apns_like: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topic, self.team_id, self.key_id = topic, team_id, key_id
        self.public_key = public_key
        self.clock = clock
        self.expire_before = 0.0  # tokens with iat before this are "expired"
        self.dead_tokens: dict[str, int] = {}
        # Like Apple, a well-formed token that no device has is BadDeviceToken.
        self.forced: dict[str, str] = {"0" * 64: "BadDeviceToken"}
        # When set, the tokens registered in this server's environment; like Apple, any
        # other token (one from the other environment, say) is BadDeviceToken.
        self.device_tokens: set[str] | None = None
        # Live Activity and push-to-start tokens: like Apple, they accept only pushes
        # of type liveactivity (and any other token none): DeviceTokenNotForTopic.
        self.live_activity_tokens: set[str] = set()
        self.accepted: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.payloads: list[dict[str, Any]] = []
        self._verified: dict[str, float] = {}  # JWT -> iat, once its signature checked out
        self.record = record
        context = _server_context(pki, client_ca)
        self.server = H2Server(
            self.handle,
            context,
            max_concurrent_streams=max_concurrent_streams,
            record=record,
            lean=lean,
            latency=latency,
            apns_like=apns_like,
        )

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> FakeApns:
        await self.server.start()
        return self

    async def aclose(self) -> None:
        await self.server.aclose()

    # -- the handler ---------------------------------------------------------
    def handle(self, req: Request) -> Response:
        apns_id = req.headers.get("apns-id") or str(uuid.uuid4())
        try:
            token, payload = self._validate(req)
        except _Reject as rejection:
            self.rejections[rejection.reason] += 1
            return _error(rejection.reason, apns_id)
        if token in self.dead_tokens:
            body = {"reason": "Unregistered", "timestamp": self.dead_tokens[token]}
            return Response(410, {"apns-id": apns_id}, json.dumps(body).encode())
        if token in self.forced:
            return _error(self.forced[token], apns_id)
        if self.device_tokens is not None and token not in self.device_tokens:
            return _error("BadDeviceToken", apns_id)
        is_live = req.headers.get("apns-push-type") == "liveactivity"
        if is_live != (token in self.live_activity_tokens):
            return _error("DeviceTokenNotForTopic", apns_id)
        self.accepted[apns_id] += 1
        if self.record:
            self.payloads.append(payload)
        return Response(200, {"apns-id": apns_id})

    def _validate(self, req: Request) -> tuple[str, dict[str, Any]]:
        if req.method != "POST":
            raise _Reject("MethodNotAllowed")
        if not req.path.startswith("/3/device/"):
            raise _Reject("BadPath")
        names = [name for name, _ in req.raw_headers]
        if len(names) != len(set(names)):
            raise _Reject("DuplicateHeaders")
        self._check_auth(req)
        push_type = self._check_topic_and_type(req.headers)
        self._check_headers(req.headers, push_type)
        token = req.path.removeprefix("/3/device/")
        if not token:
            raise _Reject("MissingDeviceToken")
        if not _TOKEN.fullmatch(token):
            raise _Reject("BadDeviceToken")
        return token, _check_payload(req.body, push_type)

    def _check_auth(self, req: Request) -> None:
        if self.public_key is None:  # certificate mode
            subject = dict(x[0] for x in (req.peer_cert or {}).get("subject", ()))
            if not req.peer_cert:
                raise _Reject("MissingProviderToken")
            if self.topic not in subject.get("commonName", ""):
                raise _Reject("TopicDisallowed")
            return
        auth = req.headers.get("authorization", "")
        if not auth.startswith("bearer "):
            raise _Reject("MissingProviderToken")
        self._verify_jwt(auth.removeprefix("bearer "))

    def _verify_jwt(self, token: str) -> None:
        # Like Apple, verify a given token's signature once, then only re-check its age.
        iat = self._verified.get(token)
        if iat is None:
            iat = self._verify_signature(token)
            self._verified[token] = iat
        if self.clock() - iat > 3600 or iat < self.expire_before:
            raise _Reject("ExpiredProviderToken")

    def _verify_signature(self, token: str) -> float:
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=["ES256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise _Reject("InvalidProviderToken") from exc
        if header.get("kid") != self.key_id or claims.get("iss") != self.team_id:
            raise _Reject("InvalidProviderToken")
        return float(claims["iat"])

    def _check_topic_and_type(self, headers: dict[str, str]) -> str:
        topic = headers.get("apns-topic", "")
        if not topic:
            raise _Reject("MissingTopic")
        push_type = headers.get("apns-push-type", "alert")
        if push_type not in SUFFIX:
            raise _Reject("InvalidPushType")
        if not topic.startswith(self.topic):
            raise _Reject("DeviceTokenNotForTopic")
        if topic != self.topic + SUFFIX[push_type]:
            raise _Reject("InvalidPushType")
        return push_type

    def _check_headers(self, headers: dict[str, str], push_type: str) -> None:
        priority = headers.get("apns-priority", "10")
        if priority not in ("10", "5", "1") or (push_type == "background" and priority == "10"):
            raise _Reject("BadPriority")
        # Apple: Live Activity pushes take 5 or 10 only; a location query is never deferred.
        if push_type in ("liveactivity", "location") and priority == "1":
            raise _Reject("BadPriority")
        if not headers.get("apns-expiration", "0").isdigit():
            raise _Reject("BadExpirationDate")
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            raise _Reject("BadCollapseId")
        apns_id = headers.get("apns-id")
        if apns_id is not None and not _is_canonical_uuid(apns_id):
            raise _Reject("BadMessageId")


def _check_payload(body: bytes, push_type: str) -> dict[str, Any]:
    if not body:
        raise _Reject("PayloadEmpty")
    if len(body) > (5120 if push_type == "voip" else 4096):
        raise _Reject("PayloadTooLarge")
    try:
        payload = json.loads(body)
    except ValueError as exc:
        raise _Reject("PayloadEmpty") from exc
    aps = payload.get("aps") if isinstance(payload, dict) else None
    if not isinstance(aps, dict):
        raise _Reject("PayloadEmpty")
    if push_type == "background" and (aps.get("content-available") != 1 or "alert" in aps):
        raise _Reject("InvalidPushType")
    if push_type == "liveactivity":
        _check_live_activity(aps)
    if push_type in ("widgets", "controls") and (
        aps.get("content-changed") is not True or "alert" in aps
    ):
        raise _Reject("InvalidPushType")  # a reload push: {"aps": {"content-changed": true}}
    return payload


def _check_live_activity(aps: dict[str, Any]) -> None:
    """ActivityKit's rules for the aps of a Live Activity push."""
    event = aps.get("event")
    if event not in ("start", "update", "end") or not isinstance(aps.get("timestamp"), int):
        raise _Reject("InvalidPushType")  # not a Live Activity payload
    if event in ("start", "update") and not isinstance(aps.get("content-state"), dict):
        raise _Reject("InvalidPushType")
    if event == "start" and not (aps.get("attributes-type") and "attributes" in aps):
        raise _Reject("InvalidPushType")
    if "content-available" in aps or "badge" in aps:
        raise _Reject("InvalidPushType")


def _is_canonical_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _error(reason: str, apns_id: str) -> Response:
    status = STATUS_OF.get(reason, 400)
    headers = {"apns-id": apns_id}
    if status in (429, 503):
        headers["retry-after"] = "30"
    body: dict[str, Any] = {"reason": reason}
    if status == 410:
        body["timestamp"] = int(time.time() * 1000)
    return Response(status, headers, json.dumps(body).encode())


def outage_response(status: int = 503, retry_after: str | None = None) -> Response:
    """What APNs answers while it is down or throttling (for ``server.outage_while``)."""
    reason = {429: "TooManyRequests", 500: "InternalServerError"}.get(status, "ServiceUnavailable")
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return Response(status, headers, json.dumps({"reason": reason}).encode())


def _server_context(pki: TestPKI, client_ca: Path | None) -> ssl.SSLContext:
    context = pki.server_context()
    if client_ca is not None:
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cafile=str(client_ca))
    return context
