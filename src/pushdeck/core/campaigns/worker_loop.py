"""``pushdeck worker``: a headless sender for a shared (PostgreSQL) workspace.

One loop, until stopped (SIGTERM/SIGINT call ``WorkerLoop.stop``):

1. renew this worker's lease, and re-queue the rows of workers whose lease ran out;
2. if it holds the scheduler's advisory lock (one worker at a time; the lock goes
   with the session, so when that worker dies another takes it within a poll), run
   what is due, as ``campaigns run-due`` does;
3. join every campaign marked 'sending' that has queued rows (claims, see
   ``campaigns.workers``), one after another;
4. sleep until a NOTIFY says a campaign was queued, or the poll interval passed.

Stopping finishes the sends in flight, writes their outcomes and leaves the campaign
'sending' for the other workers. A broken database connection is reopened with a
backoff; outcomes already known are written after reconnecting. Any other refusal of
the server (disk full, a cancelled statement, …) is said, with what to do, and tried
again after a backoff, the outcomes kept in memory (store/db_errors.py). A stopping
worker whose workspace does not come back gives up after ``stop_timeout`` seconds
(``OutcomesNotWritten``: a clear message and a non-zero exit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from pushdeck.core.campaigns.dispatch import (
    DispatchOptions,
    OutcomesNotWritten,
    SendControl,
    send_campaign_async,
)
from pushdeck.core.campaigns.library import get_campaign
from pushdeck.core.campaigns.scheduling import run_due
from pushdeck.core.campaigns.spec import ScheduleKind
from pushdeck.core.campaigns.workers import DEFAULT_LEASE, WorkerLease, reap, shared
from pushdeck.core.common.errors import ConfigError, PushdeckError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import Provider
from pushdeck.core.store import workers as rows
from pushdeck.core.store.db_errors import explain
from pushdeck.core.store.workspace import ConnectionLost, ServerRefused, Workspace

ProvidersFor = Callable[[str], Mapping[ProviderKind, Provider]]
Say = Callable[[str], None]


@dataclass(frozen=True)
class WorkerOptions:
    name: str = ""
    lease: float = DEFAULT_LEASE  # seconds of silence after which this worker is dead
    poll: float = 2.0  # seconds between looks for work when no NOTIFY comes
    dispatch: DispatchOptions = field(default_factory=DispatchOptions)
    #: After a stop, seconds to keep trying to write the last outcomes to a workspace
    #: that does not answer; then the worker exits with OutcomesNotWritten.
    stop_timeout: float = 60.0


class WorkerLoop:
    def __init__(
        self, ws: Workspace, providers_for: ProvidersFor, options: WorkerOptions, say: Say
    ) -> None:
        if not shared(ws):
            raise ConfigError(
                f"{ws.location} is a workspace file: workers need a shared PostgreSQL workspace.",
                hint="Send from this machine with 'pushdeck campaigns send NAME', or "
                "schedule with cron and 'pushdeck campaigns run-due'.",
            )
        self.ws = ws
        self.providers_for = providers_for
        self.options = replace(
            options,
            dispatch=replace(options.dispatch, stop_timeout=options.stop_timeout, say=say),
        )
        self.say = say
        self.control = SendControl()
        self.stopping = False
        self.lease: WorkerLease | None = None
        self.lock_generation = -1  # ws.generation when the scheduler lock was taken
        self.told_missed: set[str] = set()  # missed campaigns already logged

    def stop(self) -> None:
        """Finish what is in flight, write it, and return from ``run`` (signal-safe)."""
        self.stopping = True
        self.control.leave()

    async def run(self) -> None:
        self.lease = WorkerLease.register(self.ws, self.options.name, "worker", self.options.lease)
        self.say(f"worker {self.lease.name} (id {self.lease.worker_id}) started")
        listener = rows.Listener(self.ws)
        delay = 0.0  # backoff while the server refuses (not a lost connection)
        try:
            while not self.stopping:
                try:
                    await self._turn()
                except ConnectionLost:
                    await self._reconnect()
                    continue
                except ServerRefused as exc:  # disk full, a cancelled statement, …
                    delay = min(max(1.0, delay * 2), 30.0)
                    self.say(f"the workspace refused: {explain(exc)}; trying again in {delay:g} s")
                    await self._pause(delay)
                    continue
                delay = 0.0
                await self._sleep(listener)
        finally:
            listener.close()
            await self._leave()

    async def _turn(self) -> None:
        assert self.lease is not None
        self.lease.beat()
        if reap(self.ws):
            self.say("re-queued the in-flight devices of a worker that stopped answering")
        if self._scheduler():
            try:
                report = await run_due(
                    self.ws, self.providers_for, options=self.options.dispatch,
                    worker=self.lease, control=self.control,
                )  # fmt: skip
            except PushdeckError as exc:  # e.g. a refused credential: recorded on it
                self.say(f"schedules: {exc}")
            else:
                for name in report.sent:
                    self.say(f"scheduled campaign {name}: sent its due devices")
                for name in set(report.missed) - self.told_missed:
                    self.say(f"scheduled campaign {name}: missed, waits for a decision")
                self.told_missed = set(report.missed)
        for name in rows.sending_campaigns(self.ws) + rows.stalled_campaigns(self.ws):
            if self.stopping:
                return
            await self._join(name)

    def _scheduler(self) -> bool:
        """Hold (or take) the scheduler's lock; it goes with the session, so after a
        reconnect it must be taken again."""
        assert self.lease is not None
        if self.lock_generation != self.ws.generation and rows.try_scheduler_lock(self.ws):
            self.lock_generation = self.ws.generation
            self.say("this worker runs the schedules")
            self.lease.scheduler = True
            self.lease.beat()  # said at once: 'campaigns run-due' names the scheduler
        self.lease.scheduler = self.lock_generation == self.ws.generation
        return self.lease.scheduler

    async def _join(self, name: str) -> None:
        campaign = get_campaign(self.ws, name)
        if campaign.spec.schedule.kind is ScheduleKind.LOCAL:
            # Its queue holds every time zone; only the zones due now may go, and only
            # the scheduler (run_due) knows which: joining would send the others early.
            return
        try:
            summary = await send_campaign_async(
                self.ws, name, providers=self.providers_for(campaign.spec.app),
                options=self.options.dispatch, worker=self.lease, join=True,
                control=self.control,
            )  # fmt: skip
        except ConnectionLost:
            raise
        except OutcomesNotWritten:  # a PushdeckError, but the worker's own end
            raise
        except PushdeckError as exc:  # one campaign's trouble (credentials) is not the worker's
            self.say(f"campaign {name}: {exc}")
            return
        if summary.status != "sending":
            self.say(f"campaign {name}: {summary.status}")

    async def _sleep(self, listener: rows.Listener) -> None:
        """Until a NOTIFY, the poll interval, or a stop (checked every 0.5 s)."""
        assert self.lease is not None
        left = min(self.options.poll, self.lease.heartbeat_every)
        while left > 0 and not self.stopping:
            step = min(0.5, left)
            if await asyncio.to_thread(listener.wait, step):
                return
            left -= step

    async def _pause(self, seconds: float) -> None:
        """Sleep, but not past a stop."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            await asyncio.sleep(min(0.2, deadline - time.monotonic()))

    def _time_left(self) -> float:
        """Seconds a stopping worker still spends on its workspace (inf before a stop)."""
        left_at = self.control.left_at
        if left_at is None:
            return float("inf")
        return left_at + self.options.stop_timeout - time.monotonic()

    async def _reconnect(self) -> None:
        delay = 0.2
        while not self.stopping:
            try:
                self.ws.reconnect()
                self.say("reconnected to the workspace")
                return
            except PushdeckError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _leave(self) -> None:
        if self.lease is None:
            return
        # The outcomes are written (or given up); now say goodbye, if we can: a few tries,
        # none after the stop timeout (the lease then runs out by itself).
        for attempt in range(20):
            try:
                self.lease.stop()
                if self.lock_generation == self.ws.generation:
                    rows.release_scheduler_lock(self.ws)
                break
            except ServerRefused:  # a lost connection too
                if attempt > 0 and self._time_left() <= 0:
                    self.say(f"worker {self.lease.name}: the workspace did not answer its goodbye")
                    return
                try:
                    self.ws.reconnect()
                except PushdeckError:
                    await asyncio.sleep(0.5)
        self.say(f"worker {self.lease.name} stopped")
