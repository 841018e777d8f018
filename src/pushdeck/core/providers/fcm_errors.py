"""FCM HTTP v1 error answers -> (status, retryable, plain-language explanation).

The precise code is the ``errorCode`` of the ``google.firebase.fcm.v1.FcmError`` detail;
when there is none (e.g. 401, 403, 404 on the project) the google.rpc ``status`` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pushdeck.core.common.model import SendStatus

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_R = SendStatus.REJECTED
_AUTH = SendStatus.AUTH_FAILURE
_DEAD = SendStatus.TOKEN_DEAD


@dataclass(frozen=True)
class FcmReason:
    status: SendStatus
    retryable: bool
    explanation: str


ERROR_CODES: Mapping[str, FcmReason] = {
    "UNSPECIFIED_ERROR": FcmReason(_R, False, "FCM gave no reason for the failure."),
    "INVALID_ARGUMENT": FcmReason(
        _R, False, "FCM found an invalid field in the message: fix the field it names."
    ),
    "UNREGISTERED": FcmReason(
        _DEAD,
        False,
        "The registration token is no longer valid (app uninstalled or token rotated): remove it.",
    ),
    "SENDER_ID_MISMATCH": FcmReason(
        _R,
        False,
        "The token belongs to a different Firebase project: check that the service account "
        "is from the app's project, otherwise remove the token.",
    ),
    "QUOTA_EXCEEDED": FcmReason(
        _R, True, "FCM's sending quota was exceeded (project, device or topic): slow down."
    ),
    "UNAVAILABLE": FcmReason(_R, True, "FCM is overloaded: retry with backoff."),
    "INTERNAL": FcmReason(_R, True, "FCM had an internal error: retry with backoff."),
    "THIRD_PARTY_AUTH_ERROR": FcmReason(
        _AUTH,
        False,
        "Firebase could not authenticate with APNs or the Web Push service: upload a valid "
        "APNs key/certificate (or web credentials) in the Firebase project settings.",
    ),
    "APNS_AUTH_ERROR": FcmReason(
        _AUTH,
        False,
        "Firebase could not authenticate with APNs: upload a valid APNs key or certificate "
        "in the Firebase project settings.",
    ),
}

#: When no FcmError detail is present: the google.rpc status.
RPC_STATUSES: Mapping[str, FcmReason] = {
    "UNAUTHENTICATED": FcmReason(
        _AUTH,
        False,
        "Google rejected the access token: check the service account key is still valid.",
    ),
    "PERMISSION_DENIED": FcmReason(
        _AUTH,
        False,
        "The service account may not send messages: give it the Firebase Cloud Messaging "
        "API Admin role, and enable the FCM API in the project.",
    ),
    "NOT_FOUND": FcmReason(
        _AUTH, False, "The Firebase project was not found: check the service account's project_id."
    ),
    "RESOURCE_EXHAUSTED": ERROR_CODES["QUOTA_EXCEEDED"],
    "UNAVAILABLE": ERROR_CODES["UNAVAILABLE"],
    "INTERNAL": ERROR_CODES["INTERNAL"],
    "INVALID_ARGUMENT": ERROR_CODES["INVALID_ARGUMENT"],
}


def error_code(error: Mapping[str, Any]) -> str:
    """The FcmError ``errorCode`` of a google.rpc error, or ""."""
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping) and detail.get("@type") == FCM_ERROR_TYPE:
            return str(detail.get("errorCode", ""))
    return ""


def field_violations(error: Mapping[str, Any]) -> list[str]:
    """``field: description`` for each google.rpc.BadRequest field violation."""
    found = []
    for detail in error.get("details") or ():
        if not isinstance(detail, Mapping):
            continue
        for violation in detail.get("fieldViolations") or ():
            found.append(f"{violation.get('field', '?')}: {violation.get('description', '')}")
    return found


def lookup(code: str, rpc_status: str, http_status: int) -> FcmReason:
    known = ERROR_CODES.get(code) or RPC_STATUSES.get(rpc_status)
    if known is not None:
        return known
    retryable = http_status == 429 or http_status >= 500
    return FcmReason(_R, retryable, f"FCM rejected the message ({rpc_status or http_status}).")


def is_bad_token(message: str) -> bool:
    """INVALID_ARGUMENT about the token itself means the token is unusable."""
    lowered = message.lower()
    return "registration token" in lowered and "not a valid" in lowered
