"""The sandbox: a built-in simulated push service with simulated devices.

It lets the app work end to end on first launch with no credentials. Every outcome
is a pure function of (seed, device token, notification id, attempt), so a test or a
demo replays exactly. It still builds each platform's real payload, so a message
over budget fails here just as it would with a real provider.

Outcomes, in this order of precedence:
- dead: a ``dead_rate`` share of *tokens* (by seed and token alone, so a dead token
  stays dead) answer like the platform's "unregistered" (410 / 404);
- failure: a ``failure_rate`` share of *attempts* fail, three in four as a retryable
  503 (a retry is a new attempt and usually succeeds), one in four permanently;
- otherwise accepted, with a stable provider id.
Tokens starting with ``dead-`` or ``fail-`` always die or fail permanently (demos).

Engagement: each accepted notification of a campaign (its payload data names the campaign,
as the app would read it) is delivered, opened, pressed or dismissed by its simulated
device at the credential's open rate (a share of accepted sends), with the delays real
devices show: deliveries within seconds (or hours for offline devices), opens over the
following minutes and hours, up to two days. The device "reports" at once, so by the
time a send finishes its whole engagement curve is recorded (see ``take_engagement``).
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import (
    CAMPAIGN_KEY,
    VARIANT_KEY,
    Device,
    EngagementEvent,
    Message,
    Platform,
    ProviderKind,
    SendResult,
    SendStatus,
)
from pushdeck.core.messages.payloads import build_apns, build_fcm, build_webpush
from pushdeck.core.providers.base import CheckResult, Provider, register
from pushdeck.core.providers.credentials import Credential, SandboxCredential
from pushdeck.core.providers.sandbox_engagement import (
    EngagementRates,
    SentNotification,
    events_for,
    rates_for_open_share,
    simulate_engagement,
    stable_random,
)

__all__ = [
    "EngagementRates",
    "SandboxProvider",
    "SentNotification",
    "create_sandbox_provider",
    "simulate_engagement",
    "stable_random",
]

KIND = ProviderKind.SANDBOX
DEFAULT_TOPIC = "com.example.app"

# Per platform: what a real service says for a dead token and for a permanent rejection.
_DEAD = {
    Platform.IOS: (410, "Unregistered", "The app was uninstalled or the token expired."),
    Platform.ANDROID: (404, "UNREGISTERED", "The app was uninstalled or the token rotated."),
    Platform.WEB: (410, "Gone", "The user unsubscribed or the subscription expired."),
}
_REJECT = {
    Platform.IOS: (400, "DeviceTokenNotForTopic", "The token belongs to another app."),
    Platform.ANDROID: (403, "SENDER_ID_MISMATCH", "The token belongs to another project."),
    Platform.WEB: (400, "BadRequest", "The push service refused the request."),
}
_SIMULATED = " (simulated by the sandbox)"


class SandboxProvider:
    """Simulated push service; accepts devices of every platform."""

    kind: ClassVar[ProviderKind] = KIND

    def __init__(
        self,
        credential: SandboxCredential,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        engagement: bool = True,
    ) -> None:
        self.credential = credential
        self.topic = str(credential.extra.get("topic", DEFAULT_TOPIC))
        self._sleep = sleep
        self._clock = clock
        self._attempts: Counter[tuple[str, str]] = Counter()
        self.engagement = engagement  # False: the caller simulates engagement itself
        self._rates = rates_for_open_share(credential.open_rate)
        self._reported: list[EngagementEvent] = []

    async def send(
        self, message: Message, device: Device, *, notification_id: str = ""
    ) -> SendResult:
        body = self._build(message, device, notification_id)
        attempt = self._attempts[(device.token, notification_id)]
        self._attempts[(device.token, notification_id)] += 1
        cred = self.credential
        rng = stable_random(cred.seed, device.token, notification_id, attempt)
        await self._sleep(self._latency(rng))
        if self._is_dead(device.token):
            return self._dead(device)
        if device.token.startswith("fail-"):
            return self._rejected(device, rng)
        if rng.random() < cred.failure_rate:
            return self._unavailable() if rng.random() < 0.75 else self._rejected(device, rng)
        provider_id = f"sandbox-{rng.getrandbits(64):016x}"
        raw = {"status": 200, "bytes": len(body), "attempt": attempt}
        result = SendResult(SendStatus.ACCEPTED, KIND, 200, provider_id=provider_id, raw=raw)
        if self.engagement:
            self._device_reports(message, device, result)
        return result

    def _device_reports(self, message: Message, device: Device, result: SendResult) -> None:
        """What the simulated device will report about this notification, as a real app
        reads the campaign (and variant) from the payload's data."""
        campaign = str(message.data.get(CAMPAIGN_KEY, ""))
        if not campaign:
            return  # not a campaign's notification (a single push): nothing to attribute
        send = SentNotification(
            campaign,
            device.token,
            self._clock(),
            result,
            str(message.data.get(VARIANT_KEY, "")),
            tuple(action.id for action in message.actions),
        )
        self._reported.extend(events_for(send, self._rates, self.credential.seed))

    def take_engagement(self) -> list[EngagementEvent]:
        """Engagement reported since the last call (``EngagementReporter``)."""
        reported, self._reported = self._reported, []
        return reported

    def _build(self, message: Message, device: Device, notification_id: str) -> bytes:
        # The real builders enforce each platform's byte budget (PayloadError).
        if device.platform is Platform.IOS:
            return bytes(
                build_apns(message, topic=self.topic, notification_id=notification_id).body
            )
        if device.platform is Platform.ANDROID:
            return bytes(build_fcm(message, device.token).body)
        return build_webpush(message).body

    def _latency(self, rng: random.Random) -> float:
        # Log-normal jitter around the configured median: mostly fast, a few slow.
        median = max(0.0, self.credential.latency_ms) / 1000
        return median * math.exp(rng.gauss(0.0, 0.5)) if median else 0.0

    def _is_dead(self, token: str) -> bool:
        if token.startswith("dead-"):
            return True
        return (
            stable_random(self.credential.seed, token, "dead").random() < self.credential.dead_rate
        )

    def _dead(self, device: Device) -> SendResult:
        status, reason, explanation = _DEAD[device.platform]
        since = self._clock() - timedelta(days=1) if device.platform is Platform.IOS else None
        return SendResult(
            SendStatus.TOKEN_DEAD,
            KIND,
            status,
            reason=reason,
            explanation=explanation + " Remove the device" + _SIMULATED + ".",
            token_dead_since=since,
            raw={"status": status, "reason": reason},
        )

    def _rejected(self, device: Device, rng: random.Random) -> SendResult:
        status, reason, explanation = _REJECT[device.platform]
        return SendResult(
            SendStatus.REJECTED,
            KIND,
            status,
            reason=reason,
            explanation=explanation + _SIMULATED,
            raw={"status": status, "reason": reason},
        )

    def _unavailable(self) -> SendResult:
        # A scattered transient failure, like a real service's occasional 503: no
        # Retry-After, so the dispatcher backs off this one send. (A Retry-After is a
        # service-wide "everyone wait", which at a 1-2 % random rate would stall the
        # whole provider for a second at a time.)
        return SendResult(
            SendStatus.REJECTED,
            KIND,
            503,
            reason="ServiceUnavailable",
            explanation="The service is temporarily unavailable; retry later" + _SIMULATED + ".",
            retryable=True,
            raw={"status": 503},
        )

    async def check(self) -> CheckResult:
        cred = self.credential
        rates = {
            "failure_rate": cred.failure_rate,
            "dead_rate": cred.dead_rate,
            "open_rate": cred.open_rate,
        }
        bad = [f"{name}={value}" for name, value in rates.items() if not 0 <= value <= 1]
        if bad or cred.latency_ms < 0:
            return CheckResult(
                False,
                "Sandbox settings are out of range.",
                ", ".join(bad) or f"latency_ms={cred.latency_ms}",
            )
        return CheckResult(True, "The sandbox needs no credentials; it is ready.")

    async def aclose(self) -> None:
        return None


@register(KIND)
def create_sandbox_provider(credential: Credential, **options: Any) -> Provider:
    """Registry factory: ``create_provider(SandboxCredential(seed=1), sleep=...)``."""
    if not isinstance(credential, SandboxCredential):
        raise ConfigError(f"The sandbox provider needs a SandboxCredential, not {credential!r}.")
    return SandboxProvider(credential, **options)
