"""Simulated engagement for sandbox sends: delivered, opened, action, dismissed.

Times follow log-normal delays (most reactions within the first hour, a long tail over
the following hours), the shape real push engagement has. Everything is a pure
function of the seed and the send, so the same campaign simulates the same events,
with the same ids, every time (re-running never double-counts).

Every campaign sent through the sandbox gets its engagement this way: the provider
(an ``EngagementReporter``) plays the devices, which report what they did with the
notification, and the dispatcher records those reports through the same validation as
events a real app posts to the collector (``pushdeck.core.engagement.events``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from pushdeck.core.common.model import EngagementEvent, EngagementKind, SendResult

HORIZON = timedelta(hours=48)  # nothing is simulated later than this after the send
OFFLINE_SHARE = 0.15  # devices that receive the push only when they come back online
DELIVERY_RATE = 0.95  # accepted notifications that reach the device (within HORIZON)


@runtime_checkable
class EngagementReporter(Protocol):
    """A provider whose devices are simulated and report engagement, as real apps do."""

    def take_engagement(self) -> list[EngagementEvent]:
        """The engagement reported since the last call (each event once)."""
        ...


def stable_random(*parts: object) -> random.Random:
    """A PRNG seeded from ``parts``: stable across runs and Python versions (no hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class SentNotification:
    """One send whose engagement to simulate (only accepted results engage)."""

    campaign: str
    device_token: str
    sent_at: datetime
    result: SendResult
    variant: str = ""
    action_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class EngagementRates:
    """Conditional rates, each a share of *delivered* notifications."""

    open_rate: float | Mapping[str, float] = 0.12  # a float, or per variant ("" = default)
    delivery_rate: float = 0.95  # of accepted
    action_share: float = 0.3  # of engagements, when the message has actions
    dismiss_rate: float = 0.25  # of delivered and not engaged

    def open_rate_for(self, variant: str) -> float:
        if isinstance(self.open_rate, Mapping):
            return float(self.open_rate.get(variant, self.open_rate.get("", 0.0)))
        return self.open_rate


def rates_for_open_share(open_share: float) -> EngagementRates:
    """Rates under which ``open_share`` of *accepted* sends get opened: the rate a sandbox
    credential shows, and the reports' headline rate (opened ÷ accepted)."""
    share = min(max(open_share, 0.0), 1.0)
    delivery = max(DELIVERY_RATE, share)
    return EngagementRates(open_rate=share / delivery, delivery_rate=delivery)


def events_for(send: SentNotification, rates: EngagementRates, seed: int) -> list[EngagementEvent]:
    """Everything the device of ``send`` will report, at the times it will report it."""
    if not send.result.accepted:
        return []
    return list(_events_for(send, rates, seed))


def _delay(rng: random.Random, median_seconds: float, sigma: float) -> timedelta:
    seconds = median_seconds * math.exp(rng.gauss(0.0, sigma))
    return min(timedelta(seconds=seconds), HORIZON)


def _event_id(send: SentNotification, kind: EngagementKind) -> str:
    key = f"{send.campaign}\x1f{send.device_token}\x1f{kind}"
    return "sim-" + hashlib.sha256(key.encode()).hexdigest()[:24]


def _events_for(
    send: SentNotification, rates: EngagementRates, seed: int
) -> Iterator[EngagementEvent]:
    rng = stable_random(seed, send.campaign, send.device_token, "engagement")
    if rng.random() >= rates.delivery_rate:
        return
    offline = rng.random() < OFFLINE_SHARE
    delivered = send.sent_at + (_delay(rng, 5400, 1.0) if offline else _delay(rng, 2, 1.0))
    yield _event(send, EngagementKind.DELIVERED, delivered)
    if rng.random() < rates.open_rate_for(send.variant):
        at = delivered + _delay(rng, 900, 1.3)  # median 15 min
        if send.action_ids and rng.random() < rates.action_share:
            yield _event(send, EngagementKind.ACTION, at, rng.choice(send.action_ids))
        else:
            yield _event(send, EngagementKind.OPENED, at)
    elif rng.random() < rates.dismiss_rate:
        yield _event(send, EngagementKind.DISMISSED, delivered + _delay(rng, 1800, 1.2))


def _event(
    send: SentNotification, kind: EngagementKind, at: datetime, action_id: str = ""
) -> EngagementEvent:
    return EngagementEvent(
        _event_id(send, kind), kind, send.campaign, send.device_token, send.variant, at, action_id
    )


def simulate_engagement(
    sends: Iterable[SentNotification],
    *,
    open_rate: float | Mapping[str, float],
    now: datetime,
    seed: int = 0,
    rates: EngagementRates | None = None,
) -> list[EngagementEvent]:
    """Events that have happened by ``now`` for the accepted sends, oldest first.

    ``open_rate`` is the share of delivered notifications that are opened or get an
    action pressed (per variant when a mapping). Calling again later with a later
    ``now`` returns a superset with the same event ids.
    """
    base = rates or EngagementRates()
    rates = EngagementRates(open_rate, base.delivery_rate, base.action_share, base.dismiss_rate)
    events = [
        event
        for send in sends
        if send.result.accepted
        for event in _events_for(send, rates, seed)
        if event.at <= now
    ]
    return sorted(events, key=lambda e: (e.at, e.event_id))
