"""The provider protocol, its registry, and the shared result helpers.

A provider turns (rendered Message, Device) into one request, sends it, and returns a
``SendResult``. Rejections are data; only transport failures raise (``TransportError``).
Each provider module registers a factory here, so dispatch never switches on kinds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from pushdeck.core.credentials import Credential
from pushdeck.core.model import Device, Message, ProviderKind, SendResult


@dataclass(frozen=True)
class CheckResult:
    """Outcome of ``Provider.check()``: do these credentials work, in plain words."""

    ok: bool
    summary: str
    details: str = ""


@runtime_checkable
class Provider(Protocol):
    """One push service reached with one credential."""

    kind: ClassVar[ProviderKind]

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        """Send ``message`` to ``device``.

        ``notification_id`` is a stable id derived from (campaign, device) so that a
        re-send after a crash is recognizable (APNs uses it as ``apns-id``).
        """
        ...

    async def check(self) -> CheckResult:
        """Prove the credentials work without notifying anyone."""
        ...

    async def aclose(self) -> None:
        """Close connections. The provider must not be used afterwards."""
        ...


ProviderFactory = Callable[[Credential], Provider]
_REGISTRY: dict[ProviderKind, ProviderFactory] = {}


def register(kind: ProviderKind) -> Callable[[ProviderFactory], ProviderFactory]:
    """Class/function decorator: make ``create_provider`` know this provider."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        _REGISTRY[kind] = factory
        return factory

    return decorate


def create_provider(credential: Credential, **options: Any) -> Provider:
    """Build the provider for ``credential.kind`` (importing provider modules lazily)."""
    _import_builtin_providers()
    factory = _REGISTRY[credential.kind]
    return factory(credential, **options) if options else factory(credential)


def _import_builtin_providers() -> None:
    # Imported here, not at module top, so that base.py has no heavy imports and
    # each provider module can import base.py without a cycle.
    import importlib

    for name in ("apns", "fcm", "webpush", "sandbox"):
        importlib.import_module(f"pushdeck.core.providers.{name}")
