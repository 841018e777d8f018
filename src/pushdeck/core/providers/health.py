"""Is a provider up, down, or asking us to wait? Decided from its recent answers.

The dispatcher keeps one ``RouteHealth`` per *route*: one way of reaching a push
service (APNs production, APNs sandbox, FCM, each Web Push service origin), because
one being down says nothing about the others.

- **Up**: sends go out; a transient failure (5xx, 429, timeout, no connection) costs
  the device one of its tries and is retried after a jittered backoff.
- **Down**: when most of the last ``window`` answers were transient (``ratio``), or the
  provider sent a ``Retry-After`` of a second or more. Nothing is sent except one
  *probe* at a time, after a wait that doubles from ``probe_base`` up to ``probe_cap``
  (or exactly the ``Retry-After`` the provider gave). Devices waiting for the route
  spend none of their tries. The first answer that is not transient to a request
  started after the outage began brings the route back up.
- **Gave up**: down for ``pause_after`` seconds. Its devices stay queued; the campaign
  ends ``paused`` with the reason, and ``pushdeck campaigns send NAME`` resumes.

Pure bookkeeping (no I/O); the clocks are injectable for tests.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

#: A ``Retry-After`` at least this long means "stop sending", not "slow down a bit".
HOLD_IS_OUTAGE = 1.0


@dataclass(frozen=True)
class HealthPolicy:
    window: int = 20  # recent answers considered per route
    ratio: float = 0.75  # this share of them transient => the route is down
    probe_base: float = 5.0  # first wait before probing a route that is down (s)
    probe_cap: float = 30.0  # longest wait between probes (s)
    retry_after_cap: float = 600.0  # longest Retry-After honoured (s)
    pause_after: float = 300.0  # down this long => stop waiting, pause the campaign (s)


class RouteState(StrEnum):
    GO = "go"  # send
    PROBE = "probe"  # down, but one request may test whether it is back
    WAIT = "wait"  # down: not now
    GAVE_UP = "gave_up"  # down for too long: leave its devices queued


class RouteHealth:
    """What the recent answers of one route say about it."""

    def __init__(
        self,
        label: str,
        policy: HealthPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now().astimezone(),
    ) -> None:
        self.label = label  # "APNs", "APNs (sandbox)", "Web Push service push.example.net"
        self.policy = policy
        self._clock = clock
        self._wall = wall
        self.recent: deque[bool] = deque(maxlen=max(1, policy.window))  # True = transient
        self.down_at: float | None = None  # monotonic time the outage was declared
        self.down_since: datetime | None = None  # the same moment, local wall clock
        self.gate = 0.0  # monotonic: nothing is sent to this route before it
        self.delay = 0.0  # current wait between probes
        self.prober: int | None = None  # the device whose send is the current probe
        self.gave_up = False
        self.reason = ""  # the last transient failure, in plain words
        self.outages = 0  # how many times it went down in this run

    @property
    def down(self) -> bool:
        return self.down_at is not None

    def state(self) -> RouteState:
        """May a new send go to this route now?"""
        if self.gave_up:
            return RouteState.GAVE_UP
        if self.down_at is None:
            return RouteState.GO
        now = self._clock()
        if now - self.down_at >= self.policy.pause_after:
            self.gave_up = True
            return RouteState.GAVE_UP
        if self.prober is not None or now < self.gate:
            return RouteState.WAIT
        return RouteState.PROBE

    def start_probe(self, device_id: int) -> None:
        self.prober = device_id

    def end_probe(self, device_id: int) -> None:
        if self.prober == device_id:
            self.prober = None

    def answered(self, started: float) -> None:
        """A non-transient answer (accepted, or a permanent rejection) to a request
        sent at ``started`` (monotonic): the service is working."""
        if self.down_at is not None and started < self.down_at:
            return  # an answer to a request from before the outage proves nothing now
        self.recent.append(False)
        if self.down_at is not None:
            self.down_at = self.down_since = None
            self.recent.clear()
            self.delay = 0.0
            self.gate = 0.0

    def failed(self, reason: str, retry_after: float | None, started: float) -> None:
        """A transient failure of a request sent at ``started`` (monotonic)."""
        now = self._clock()
        self.reason = reason
        self.recent.append(True)
        hold = None if retry_after is None else min(retry_after, self.policy.retry_after_cap)
        if self.down_at is None:
            transient = sum(self.recent)
            full = len(self.recent) == self.recent.maxlen
            if (hold or 0.0) >= HOLD_IS_OUTAGE or (
                full and transient >= self.policy.ratio * len(self.recent)
            ):
                self.down_at, self.down_since = now, self._wall()
                self.delay = self.policy.probe_base
                self.outages += 1
                self._hold(now, hold)
            elif hold:
                self.gate = max(self.gate, now + hold)  # a short pause for everyone
            return
        if started >= self.down_at:  # a probe (or a send begun during the outage) failed
            self.delay = min(max(self.delay * 2, self.policy.probe_base), self.policy.probe_cap)
        self._hold(now, hold)

    def _hold(self, now: float, hold: float | None) -> None:
        # Never before the provider's Retry-After; never sooner than our own probe delay
        # either (a Retry-After of 0, or a date already past, must not become a busy loop).
        self.gate = max(self.gate, now + max(self.delay, hold or 0.0))

    def notice(self) -> str:
        """One line for progress displays, e.g. "APNs unavailable since 14:02 (503
        ServiceUnavailable); retrying in 30 s"."""
        if self.down_since is None:
            return ""
        head = _why(f"{self.label} unavailable since {self.down_since:%H:%M}", self.reason)
        if self.gave_up:
            return f"{head}; stopped waiting"
        left = self.gate - self._clock()
        if self.prober is not None or left <= 0:
            return f"{head}; checking whether it is back"
        return f"{head}; retrying in {math.ceil(left)} s"

    def gave_up_text(self) -> str:
        """Why this route's devices were left queued (stored as the campaign's error)."""
        since = f"{self.down_since:%Y-%m-%d %H:%M}" if self.down_since else "?"
        head = _why(f"{self.label} unavailable since {since}", self.reason)
        return f"{head}; stopped waiting after {duration(self.policy.pause_after)}."


def _why(head: str, reason: str) -> str:
    """ "APNs unavailable since 14:02 (503 ServiceUnavailable)", or with a colon when
    the reason is a sentence of its own (it may carry parentheses)."""
    reason = reason.rstrip(".") or "temporary failures"
    return f"{head}: {reason}" if "(" in reason or ":" in reason else f"{head} ({reason})"


def duration(seconds: float) -> str:
    """ "45 s", "5 min", "2 min 30 s", "1 h 5 min" (whole seconds)."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s" if whole or seconds == 0 else f"{seconds:g} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs and not hours else []
    return " ".join(parts)
