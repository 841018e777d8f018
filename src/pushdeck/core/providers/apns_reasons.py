"""Every APNs reason code -> (status, retryable, plain-language explanation).

Explanations say what happened and what to do, in that order, for someone who has
never read Apple's documentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pushdeck.core.common.model import SendStatus

_R = SendStatus.REJECTED
_DEAD = SendStatus.TOKEN_DEAD
_AUTH = SendStatus.AUTH_FAILURE


@dataclass(frozen=True)
class Reason:
    status: SendStatus
    retryable: bool
    explanation: str


REASONS: Mapping[str, Reason] = {
    # 400
    "BadCollapseId": Reason(_R, False, "The collapse id is longer than 64 bytes: shorten it."),
    "BadDeviceToken": Reason(
        _R,
        False,
        "The token is malformed or belongs to the other APNs environment (sandbox vs "
        "production): check the app build's environment, otherwise remove the token.",
    ),
    "BadExpirationDate": Reason(_R, False, "The expiration time is invalid: fix the TTL."),
    "BadMessageId": Reason(_R, False, "The apns-id is not a valid UUID: fix the notification id."),
    "BadPriority": Reason(
        _R, False, "The priority is invalid (use 10, 5 or 1; background pushes need 5)."
    ),
    "BadTopic": Reason(_R, False, "The topic is invalid: check the app's bundle id."),
    "DeviceTokenNotForTopic": Reason(
        _R,
        False,
        "The token belongs to a different app (topic): check the bundle id, or remove the token.",
    ),
    "DuplicateHeaders": Reason(_R, False, "A header was sent twice: this is a Pushdeck bug."),
    "IdleTimeout": Reason(_R, True, "The connection idled out: retry on a new connection."),
    "InvalidPushType": Reason(
        _R, False, "The push type does not match the payload or topic: fix the message type."
    ),
    "MissingDeviceToken": Reason(_R, False, "No device token was given: fix the device record."),
    "MissingTopic": Reason(_R, False, "No topic was given: set the app's bundle id."),
    "PayloadEmpty": Reason(_R, False, "The payload is empty: add content to the message."),
    "TopicDisallowed": Reason(
        _R, False, "Pushing to this topic is not allowed: check the app's APNs capabilities."
    ),
    # 403
    "BadCertificate": Reason(
        _AUTH, False, "The certificate is invalid: export a valid APNs certificate (.p12)."
    ),
    "BadCertificateEnvironment": Reason(
        _AUTH,
        False,
        "The certificate is for the other environment (sandbox vs production): switch the "
        "app's environment or use the matching certificate.",
    ),
    "ExpiredProviderToken": Reason(
        _AUTH, True, "The signing token expired: Pushdeck renews it and retries once."
    ),
    "Forbidden": Reason(_AUTH, False, "APNs refused this action for these credentials."),
    "InvalidProviderToken": Reason(
        _AUTH,
        False,
        "The signing token is invalid: check the Key ID, the Team ID and that the .p8 key "
        "was not revoked.",
    ),
    "MissingProviderToken": Reason(
        _AUTH, False, "No credentials were presented: configure a .p8 key or a certificate."
    ),
    "UnrelatedKeyIdInToken": Reason(
        _AUTH, True, "The key does not match this connection's first key: reconnect and retry."
    ),
    "BadEnvironmentKeyIdInToken": Reason(
        _AUTH,
        False,
        "The key is restricted to the other environment (sandbox vs production): use a key "
        "allowed for this environment.",
    ),
    # 404 / 405
    "BadPath": Reason(_R, False, "The request path is wrong: this is a Pushdeck bug."),
    "MethodNotAllowed": Reason(_R, False, "Only POST is allowed: this is a Pushdeck bug."),
    # 410
    "ExpiredToken": Reason(_DEAD, False, "The device token expired: remove it."),
    "Unregistered": Reason(
        _DEAD,
        False,
        "The device token is no longer active for this app (app removed or notifications "
        "turned off): remove it, unless the device registered again after the timestamp.",
    ),
    # 413
    "PayloadTooLarge": Reason(
        _R, False, "The payload is too large (4096 B, VoIP 5120 B): shorten it."
    ),
    # 429
    "TooManyProviderTokenUpdates": Reason(
        _R, True, "The signing token was renewed too often: retry later with the cached token."
    ),
    "TooManyRequests": Reason(
        _R, True, "Too many notifications to this device in a row: back off for this device."
    ),
    # 5xx
    "InternalServerError": Reason(_R, True, "APNs had an internal error: retry with backoff."),
    "ServiceUnavailable": Reason(_R, True, "APNs is unavailable: retry with backoff."),
    "Shutdown": Reason(_R, True, "The APNs server is shutting down: retry on a new connection."),
}


def lookup(reason: str, http_status: int) -> Reason:
    """The mapping for ``reason``; unknown reasons fall back on the HTTP status."""
    known = REASONS.get(reason)
    if known is not None:
        return known
    if http_status == 410:
        return Reason(_DEAD, False, "APNs says the token is no longer valid: remove it.")
    if http_status == 403:
        return Reason(_AUTH, False, f"APNs refused the credentials ({reason or 'no reason'}).")
    retryable = http_status == 429 or http_status >= 500
    return Reason(_R, retryable, f"APNs rejected the notification ({reason or http_status}).")
