"""Credential objects handed to providers: secret material plus the non-secret facts.

These are assembled by ``pushdeck.core.credentials.secrets`` from the keyring (secrets) and the
workspace (everything else). Nothing here touches storage. ``endpoint`` and
``ca_file`` let a credential point at a corporate proxy or a local fake server;
TLS verification is never switched off, an extra CA is only *added*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pushdeck.core.common.model import ApnsEnvironment, ProviderKind

APNS_HOSTS: Mapping[ApnsEnvironment, str] = {
    ApnsEnvironment.SANDBOX: "https://api.sandbox.push.apple.com",
    ApnsEnvironment.PRODUCTION: "https://api.push.apple.com",
}
FCM_ENDPOINT = "https://fcm.googleapis.com"


@dataclass(frozen=True, repr=False)
class ApnsTokenCredential:
    """APNs token-based auth: a .p8 signing key (ES256)."""

    key_pem: bytes
    key_id: str
    team_id: str
    topic: str
    environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION
    endpoint: str = ""  # overrides the environment's host when set
    ca_file: str = ""
    kind: ProviderKind = ProviderKind.APNS

    def __repr__(self) -> str:  # never print the key
        return f"ApnsTokenCredential(key_id={self.key_id!r}, team_id={self.team_id!r})"


@dataclass(frozen=True, repr=False)
class ApnsCertCredential:
    """APNs certificate-based auth: a .p12 bundle and its password."""

    p12: bytes
    password: bytes | None
    topic: str
    environment: ApnsEnvironment = ApnsEnvironment.PRODUCTION
    endpoint: str = ""
    ca_file: str = ""
    kind: ProviderKind = ProviderKind.APNS

    def __repr__(self) -> str:
        return f"ApnsCertCredential(topic={self.topic!r})"


@dataclass(frozen=True, repr=False)
class FcmCredential:
    """FCM HTTP v1: a Google service account (its ``token_uri`` is where OAuth goes)."""

    service_account: Mapping[str, Any]
    endpoint: str = ""  # overrides https://fcm.googleapis.com when set
    ca_file: str = ""
    kind: ProviderKind = ProviderKind.FCM

    @property
    def project_id(self) -> str:
        return str(self.service_account.get("project_id", ""))

    @property
    def client_email(self) -> str:
        return str(self.service_account.get("client_email", ""))

    def __repr__(self) -> str:
        return f"FcmCredential(project_id={self.project_id!r})"


@dataclass(frozen=True, repr=False)
class WebPushCredential:
    """Web Push VAPID key pair (P-256) and the contact subject (mailto: or https:)."""

    private_key_pem: bytes
    public_key: str  # base64url of the 65-byte uncompressed point (applicationServerKey)
    subject: str
    ca_file: str = ""
    kind: ProviderKind = ProviderKind.WEBPUSH

    def __repr__(self) -> str:
        return f"WebPushCredential(public_key={self.public_key!r})"


@dataclass(frozen=True)
class SandboxCredential:
    """The built-in simulated push service needs no secret; only its behaviour."""

    latency_ms: float = 20.0
    failure_rate: float = 0.02
    dead_rate: float = 0.01
    open_rate: float = 0.12
    seed: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)
    kind: ProviderKind = ProviderKind.SANDBOX


Credential = (
    ApnsTokenCredential | ApnsCertCredential | FcmCredential | WebPushCredential | SandboxCredential
)
