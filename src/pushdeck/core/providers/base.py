"""The provider protocol, its registry, and the shared result helpers.

A provider turns (rendered Message, Device) into one request, sends it, and returns a
``SendResult``. Rejections are data; only transport failures raise (``TransportError``).
Each provider module registers a factory here, so dispatch never switches on kinds.

Three kinds of "not accepted", reported differently (``pushdeck.core.providers.health``
and the dispatcher act on them):

- a permanent answer: ``SendResult`` with ``retryable=False`` (bad token, payload
  refused, dead token, credentials refused); sending again changes nothing;
- a transient answer: ``SendResult`` with ``retryable=True`` (5xx, 429, IdleTimeout…),
  often with ``retry_after`` seconds; or a request written and not answered
  (``TransportError``, ``ProviderTimeoutError``): delivery unknown, a retry may
  duplicate it;
- never reached the provider: ``NotSentError`` (DNS, connection refused, TLS
  handshake, nothing written): certainly not delivered, a retry duplicates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from pushdeck.core.common.model import Device, Message, ProviderKind, SendResult
from pushdeck.core.providers.credentials import Credential


@dataclass(frozen=True)
class CheckResult:
    """Outcome of ``Provider.check()``: do these credentials work, in plain words."""

    ok: bool
    summary: str
    details: str = ""
    #: False when the check could not reach a verdict (no network, DNS, TLS, the provider
    #: unavailable): the credential may well be fine. ``ok`` is then False too.
    conclusive: bool = True


def inconclusive_check(provider: str, result: SendResult) -> CheckResult:
    """A check answered with a temporary failure (503, 429…): no verdict on the credential."""
    what = f"{result.http_status} {result.reason}".strip() if result.http_status else result.reason
    return CheckResult(
        False,
        f"Could not check: {provider} answered {what}, a temporary failure.",
        result.explanation or "The service is unavailable or throttling; try again later.",
        conclusive=False,
    )


#: Longest ``Retry-After`` taken literally; a provider asking for more than a day is
#: treated as asking for a day (the campaign pauses long before that anyway).
RETRY_AFTER_CAP = 86_400.0


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 10.2.3), or None.

    Both forms: delay-seconds (``"120"``) and an HTTP-date (``"Wed, 21 Oct 2015
    07:28:00 GMT"``, counted from ``now``). A date in the past means "now" (0); garbage,
    negative numbers and empty values mean "not given". Capped at ``RETRY_AFTER_CAP``.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_CAP)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may lack a zone
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), RETRY_AFTER_CAP)


def retry_after_header(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """``retry_after_seconds`` of a response's ``retry-after`` header (lower-case names)."""
    return retry_after_seconds(headers.get("retry-after"), now)


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
    _import_builtin_providers(credential.kind)
    factory = _REGISTRY[credential.kind]
    return factory(credential, **options) if options else factory(credential)


def _import_builtin_providers(kind: ProviderKind) -> None:
    # Imported here, not at module top, so that base.py has no heavy imports and
    # each provider module can import base.py without a cycle. Only the module of the
    # kind asked for: a Web Push campaign does not load APNs' and FCM's (and PyJWT).
    import importlib

    if kind not in _REGISTRY:  # each built-in kind's module is named after it
        importlib.import_module(f"pushdeck.core.providers.{kind.value}")
