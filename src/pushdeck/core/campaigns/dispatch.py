"""The only sending loop: audience → journal → personalized sends → outcomes.

``send_campaign_async`` (or the blocking ``send_campaign``) starts or resumes one
campaign:

1. *Materialize* (once, in one transaction, which also marks the campaign 'sending':
   no one sees it sending with a partial journal): every targeted device gets a journal
   row — ``queued``, ``excluded`` (with the reason) or ``control`` (hold-out) — with
   its variant, platform, locale and time zone, all computed in SQL.
2. *Recover*: rows left ``in_flight`` by a crash are re-queued and counted as
   possibly duplicated (their first send may or may not have reached the provider).
3. *Send*: queued rows are read in pages by device id (flat memory), marked
   ``in_flight`` in small committed chunks right before their sends start, sent with
   bounded concurrency per provider, a throttle, Retry-After and jittered backoff,
   and their outcomes written back in batches.

Three kinds of failure are kept apart. A *permanent* answer (bad token, payload
refused) is final. A *transient* one (5xx, 429, timeout, no connection) never is: the
device is retried a few times (``max_attempts`` per run) and otherwise stays queued
with the reason. When most recent answers of a route are transient the route is
*down* (``provider_health``): nothing more is sent to it but one probe at a time,
waiting devices spend no tries, the progress says "APNs unavailable since 14:02 …;
retrying in 30 s", and after ``outage_pause_after`` seconds its devices are left
queued. A run that leaves devices waiting on a transient failure ends ``paused`` with
the reason (never ``sent``); ``send`` again (or Resume) sends them. Rows skipped while
their route was down are picked up by another pass over the queue once it is back.

Concurrency follows the provider: the dispatcher only bounds how many sends may be
*waiting or in flight* per provider (``DispatchOptions.concurrency``, memory-sized); how
many are on the wire at once is the provider's HTTP/2 pool's business, which fills each
connection to the server's advertised stream limit and opens more connections when full.

An auth failure stops the campaign at once (status ``failed`` with the provider's
explanation; unsent devices stay queued for a resume). Pause and cancel come from a
``SendControl`` (same process) or from the campaign's status in the workspace
(another process, e.g. ``pushdeck campaigns pause``).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pushdeck.core.campaigns import sender_lease
from pushdeck.core.campaigns import workers as worker_leases
from pushdeck.core.campaigns.approval import require_approved
from pushdeck.core.campaigns.audience import audience_rule, exclusion_case
from pushdeck.core.campaigns.hygiene import Clock, SendGate, wait_for_release
from pushdeck.core.campaigns.journal import (
    JournalState,
    Outcome,
    requeue_unfinished,
    write_outcomes,
)
from pushdeck.core.campaigns.library import (
    current_status,
    get_campaign,
    set_status,
    stored_status,
)
from pushdeck.core.campaigns.render_guard import RenderGuard, campaign_nothing_sent
from pushdeck.core.campaigns.spec import SENDABLE, Campaign, CampaignSpec, CampaignStatus
from pushdeck.core.campaigns.templating import Personalizer, require_valid_templates
from pushdeck.core.campaigns.variants import arm_for_bucket, bucket, notification_id
from pushdeck.core.common import event_loop
from pushdeck.core.common.errors import (
    ConfigError,
    CredentialError,
    NotSentError,
    PayloadError,
    PushdeckError,
    TransportError,
    WorkspaceError,
)
from pushdeck.core.common.model import (
    ApnsEnvironment,
    Device,
    Message,
    ProviderKind,
    SendResult,
    SendStatus,
)
from pushdeck.core.engagement.events import record_reported_engagement
from pushdeck.core.messages.payloads.live_activity import accepted_token_kinds
from pushdeck.core.providers.base import Provider
from pushdeck.core.providers.health import HealthPolicy, RouteHealth, RouteState
from pushdeck.core.store import send_memory
from pushdeck.core.store import workers as claims
from pushdeck.core.store.audience import materialize_and_start, materialize_journal
from pushdeck.core.store.db_errors import explain, retry_conflicts
from pushdeck.core.store.devices import row_to_device
from pushdeck.core.store.journal import (
    cancel_campaign as cancel_journal,
)
from pushdeck.core.store.journal import (
    cancel_queued,
    counts_by_state,
    mark_in_flight_while_sending,
    possibly_duplicated,
    queued_page,
    recover_in_flight,
    requeue,
    waiting_reasons,
)
from pushdeck.core.store.workspace import ConnectionLost, ServerRefused, Workspace


@dataclass(frozen=True)
class DispatchOptions:
    # Sends started and not finished per provider (waiting for a stream or in flight).
    # A bound for memory, not the wire: the provider's connections use what the server
    # allows (APNs: 1,000 streams per connection, more connections when full). 2,048 is
    # two full APNs connections: ~14,000 msgs/s at 150 ms, more than one core can send.
    concurrency: int = 2048
    max_attempts: int = 5  # per device and run, while its provider is up; then it waits
    backoff_base: float = 0.5  # seconds; doubles per attempt, full jitter
    backoff_cap: float = 30.0
    retry_after_cap: float = 600.0  # longest Retry-After honoured (the demo shortens it)
    # A provider is "down" when this share of its last `outage_window` answers were
    # transient (or it sent Retry-After >= 1 s): then only one probe at a time goes out,
    # `outage_probe_base` s after the last, doubling up to `outage_probe_cap` s, and
    # after `outage_pause_after` s of outage its devices are left queued (campaign paused).
    outage_window: int = 20
    outage_ratio: float = 0.75
    outage_probe_base: float = 5.0
    outage_probe_cap: float = 30.0
    outage_pause_after: float = 300.0
    page_size: int = 1000  # queued rows read at once
    chunk_size: int = 128  # rows committed as in_flight at once (bounds possible duplicates)
    flush_every: int = 500  # outcomes written per transaction
    flush_interval: float = 0.25  # seconds between flushes of a partial batch
    status_poll: float = 0.5  # seconds between checks for pause/cancel from elsewhere
    progress_interval: float = 0.2  # seconds between progress events (the last always comes)
    seed: int | None = None  # jitter seed (tests); None = system randomness
    clock: Clock | None = None  # what caps and quiet hours call "now" (tests); None = UTC now
    # A worker leaving (SIGTERM) whose workspace does not come back gives up writing its
    # last outcomes after this many seconds (``OutcomesNotWritten``); None: never.
    stop_timeout: float | None = None
    say: Callable[[str], None] | None = None  # a worker's log line (database trouble)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress bars: counts by journal state, rate and ETA."""

    campaign: str
    status: str
    counts: Mapping[str, int]
    total: int  # journal rows (= targeted devices)
    remaining: int  # queued + in flight
    rate: float  # outcomes per second in this run
    eta_seconds: float | None
    possibly_duplicated: int
    #: Plain words about providers that are down, e.g. "APNs unavailable since 14:02
    #: (503 ServiceUnavailable); retrying in 30 s" ("" while all is well).
    notice: str = ""

    @property
    def done(self) -> int:
        return self.total - self.remaining


@dataclass(frozen=True)
class SendSummary:
    campaign: str
    status: str
    counts: Mapping[str, int]
    possibly_duplicated: int
    error: str = ""
    elapsed: float = 0.0


class SendControl:
    """Pause / resume / cancel a running send from any thread (the app's buttons)."""

    def __init__(self) -> None:
        self.paused = False
        self.cancelled = False
        #: This process leaves the campaign (a worker shutting down): in-flight sends
        #: finish and are recorded, the campaign's status is left to the other workers.
        self.leaving = False
        self.left_at: float | None = None  # time.monotonic() of the first leave()
        #: Outcomes known in memory and not yet in the journal, and their campaign: what
        #: a stopping worker's watchdog reports if a database call never returns.
        self.unwritten = 0
        self.campaign = ""

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def cancel(self) -> None:
        self.cancelled = True

    def leave(self) -> None:
        self.leaving = True
        if self.left_at is None:
            self.left_at = time.monotonic()


class OutcomesNotWritten(WorkspaceError):
    """A leaving worker gave up: its workspace did not take its last outcomes in time."""


def outcomes_not_written(
    count: int, stop_timeout: float, campaign: str, worker: str, lease: float, why: str
) -> OutcomesNotWritten:
    """What a worker says when it stops without writing ``count`` outcomes."""
    of = f" of campaign {campaign!r}" if campaign else ""
    return OutcomesNotWritten(
        f"Stopped after {stop_timeout:g} s without the workspace: {count} outcome(s){of} "
        f"could not be written ({why}).",
        hint=f"Those {count} device(s) stay in flight under worker {worker}; once its lease "
        f"runs out ({lease:g} s after its last heartbeat) another worker re-queues them, "
        "marked possibly duplicated (they may have been delivered), and sends them again.",
    )


ProgressCallback = Callable[[Progress], None]


class _Throttle:
    """At most ``per_minute`` send starts per minute, evenly spaced."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next = 0.0

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        slot = max(self.next, now)
        self.next = slot + self.interval  # reserve before sleeping: no two share a slot
        if slot > now:
            await asyncio.sleep(slot - now)


class _Stop(Exception):
    """Internal: the campaign must stop (auth failure, pause, cancel)."""


# --------------------------------------------------------------------------- materialize


def materialize(ws: Workspace, campaign: Campaign, available: Collection[ProviderKind]) -> int:
    """Write the journal row of every targeted device once; return how many were added."""
    spec = campaign.spec
    return materialize_journal(
        ws,
        campaign.id,
        audience_rule(ws, spec),
        exclusion_case(available, accepted_token_kinds(spec.message)),
        _arm_of(spec),
    )


def start_sending(
    ws: Workspace,
    campaign: Campaign,
    available: Collection[ProviderKind],
    from_statuses: Collection[CampaignStatus],
) -> bool:
    """Write the campaign's journal (once) and mark it 'sending', committed together:
    never 'sending' with a partial journal that workers would finish as 'sent', whatever
    happens to this process half-way (``store.audience.materialize_and_start``).

    False (nothing done) when its stored status is no longer one of ``from_statuses``:
    another client queued, sent or cancelled it since it was read.
    """
    spec = campaign.spec
    return materialize_and_start(
        ws,
        campaign.id,
        audience_rule(ws, spec),
        exclusion_case(available, accepted_token_kinds(spec.message)),
        _arm_of(spec),
        from_statuses={str(s) for s in from_statuses},
    ).started


def _arm_of(spec: CampaignSpec) -> Callable[[str, str], str]:
    """A device's arm; without variants or a hold-out every device's is '' (no hash)."""
    if not spec.variants and arm_for_bucket(spec, 0) == "":
        return lambda app, token: ""
    return lambda app, token: arm_for_bucket(spec, bucket(spec.name, app, token))


# --------------------------------------------------------------------------- dispatcher


class _Dispatcher:
    def __init__(
        self,
        ws: Workspace,
        campaign: Campaign,
        providers: Mapping[ProviderKind, Provider],
        options: DispatchOptions,
        control: SendControl,
        on_progress: ProgressCallback | None,
        timezones: Collection[str] | None,
    ) -> None:
        self.ws = ws
        self.campaign = campaign
        self.providers = providers
        self.options = options
        self.control = control
        self.on_progress = on_progress
        self.timezones = timezones
        self.personalizer = Personalizer(campaign.spec)
        self.gate = SendGate(ws, campaign, options.clock)  # frequency caps, quiet hours
        # Stops the send when most renders fail.
        self.render_guard = RenderGuard.for_campaign(ws, campaign, self.personalizer.render)
        self.throttle = _Throttle(campaign.spec.throttle_per_minute)
        # One send per provider until its first outcome (a refused credential then costs
        # one request, not thousands), then the whole window (see _task_done).
        self.semaphores = {k: asyncio.Semaphore(1) for k in providers}
        self.opened: set[ProviderKind] = set()
        self.done_callbacks: dict[ProviderKind, Callable[[asyncio.Task[None]], None]] = {}
        self.policy = HealthPolicy(
            window=options.outage_window,
            ratio=options.outage_ratio,
            probe_base=options.outage_probe_base,
            probe_cap=options.outage_probe_cap,
            retry_after_cap=options.retry_after_cap,
            pause_after=options.outage_pause_after,
        )
        self.health: dict[str, RouteHealth] = {}  # by route (see _route)
        self.routes_by_kind: dict[tuple[ProviderKind, str], RouteHealth] = {}
        self.deferred = False  # rows were skipped because their route was down
        self.deferred_routes: set[RouteHealth] = set()  # ... these routes, in this pass
        # After a complete pass, only the routes it left rows for matter (None: unknown,
        # the pass stopped early and unread rows may belong to any route).
        self.pending: set[RouteHealth] | None = None
        self.settled: set[int] = set()  # device ids left waiting for a later run
        self.waiting_reason = ""  # the last transient failure of a settled device
        self.outage_stop = False  # stopped because every route in use gave up
        self.rng = random.Random(options.seed)
        self.buffer: list[Outcome] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.error = ""
        self.stop_status: CampaignStatus | None = None
        self.started = time.monotonic()
        self.finished_this_run = 0
        self.last_flush = time.monotonic()
        self.last_poll = 0.0
        self.last_emit = 0.0
        self.lease = ""  # this sender's lease token, renewed while sending
        # Shared workspace: this process as a worker (rows are claimed, not paged).
        self.worker: worker_leases.WorkerLease | None = None
        self.db_lost = False  # the connection broke; outcomes wait in the buffer
        # The server refused a write, its connection intact (disk full, a cancelled
        # statement …): outcomes wait in the buffer until ``retry_at``, backing off.
        self.refused: BaseException | None = None
        self.retry_delay = 0.0
        self.retry_at = 0.0
        # Claimed rows handed back unsent because their route gave up: left for a later
        # run (as ``settled``), not claimed again by this one.
        self.left: set[int] = set()
        self.reconnecting: asyncio.Lock | None = None
        self.unknown: Counter[int] = Counter()  # device id -> transport errors so far
        self.counts: Counter[str] = Counter(counts_by_state(ws, campaign.id))
        self.duplicated = possibly_duplicated(ws, campaign.id)

    # ---- control

    def _check_stop(self) -> None:
        if self.stop_status is not None or self.control.leaving:
            raise _Stop
        if self.control.cancelled:
            self.stop_status = CampaignStatus.CANCELLED
        elif self.control.paused:
            self.stop_status = CampaignStatus.PAUSED
        elif time.monotonic() - self.last_poll > self.options.status_poll:
            self.last_poll = time.monotonic()
            stored = current_status(self.ws, self.campaign.id)
            if stored in (CampaignStatus.PAUSED, CampaignStatus.CANCELLED):
                self.stop_status = stored
        if self.stop_status is not None:
            raise _Stop

    def _fail(self, result: SendResult) -> None:
        if self.stop_status is None:
            what = result.explanation or result.reason or "credentials refused"
            self.error = (
                f"The {result.provider} provider refused Pushdeck's credentials "
                f"({result.reason or result.http_status}): {what} The campaign was stopped; "
                "unsent devices stay queued. Fix the credential, then run "
                f"'pushdeck campaigns send {self.campaign.name}' to resume."
            )
            self.stop_status = CampaignStatus.FAILED

    # ---- main loop

    async def run(self) -> None:
        self.reconnecting = asyncio.Lock()
        self.control.campaign = self.campaign.name
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            if self.worker is not None:
                await self._feed_claims()
            else:
                await self._feed()
        except _Stop:
            pass
        finally:
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            flusher.cancel()
            self._flush()
            # Never lose an outcome; a leaving worker, only until its stop timeout.
            while self.worker is not None and self.buffer:
                self._give_up_if_late()
                await self._recover()
                self._flush()
            record_reported_engagement(self.ws, self.providers.values())  # the rest of it

    # ---- shared workspace: claims

    async def _feed_claims(self) -> None:
        """As ``_feed``, but rows are claimed (other workers send the same campaign), and
        the run ends only when nothing is queued or in flight anywhere: rows of a worker
        that died come back to the queue when its lease runs out, and are sent here."""
        assert self.worker is not None
        while True:
            try:
                self.deferred, self.deferred_routes = False, set()
                complete = await self._feed_pass()
                if self.tasks:
                    await asyncio.gather(*list(self.tasks), return_exceptions=True)
                self._flush()
                if self.db_lost:
                    raise self._lost()
                if self.buffer:  # the server refused them: never release rows we hold
                    self._check_stop()
                    await self._wait_retry()
                    continue
                if self.deferred:
                    self.pending = set(self.deferred_routes) if complete else None
                    await self._until_a_route_opens()
                    continue
                # Nothing of ours is in flight now: a claim whose commit answer the
                # connection lost is certainly unsent.
                claims.release_own(self.ws, self.campaign.id, self.worker.worker_id)
                queued, in_flight = claims.open_work(
                    self.ws, self.campaign.id, self.timezones, self._not_again()
                )
                if queued:
                    continue  # re-queued by others (their transient failures, reaped rows)
                if not in_flight:
                    return
                await self._wait_for_others()
            except ConnectionLost:
                await self._reconnect()
            except ServerRefused as exc:  # disk full, a cancelled statement …: wait, retry
                self._database_failed(exc)
                if self.control.leaving:
                    raise _Stop from None  # what is left to write is written on the way out
                await self._wait_retry()

    async def _wait_for_others(self) -> None:
        """Other workers have rows in flight: wait for their outcomes, or for their
        lease to run out (then the rows are re-queued and this worker sends them)."""
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            self._check_stop()
            await asyncio.sleep(0.1)
        worker_leases.reap(self.ws)
        self._check_stop_now()

    def _not_again(self) -> set[int]:
        """Device ids this run does not claim again (they wait for a later run)."""
        return self.settled | self.left if self.left else self.settled

    def _check_stop_now(self) -> None:
        self.last_poll = 0.0
        self._check_stop()

    def _lost(self) -> Exception:
        self.db_lost = False
        return ConnectionLost[0]("the workspace connection was lost")

    async def _reconnect(self) -> None:
        """Open a new connection, waiting 0.2 s, 0.4 s … up to 10 s between tries (a
        leaving worker: until its stop timeout at most)."""
        assert self.reconnecting is not None
        async with self.reconnecting:
            if not self._connection_broken():
                return
            delay = 0.2
            while self._time_left() > 0:
                try:
                    self.ws.reconnect()
                    self.db_lost = False
                    if self.options.say is not None:
                        self.options.say("reconnected to the workspace")
                    return
                except Exception:  # noqa: BLE001 - the server is not back yet
                    await asyncio.sleep(min(delay, max(0.05, self._time_left())))
                    delay = min(delay * 2, 10.0)

    async def _recover(self) -> None:
        """Before writing the buffer again: a new connection if it broke, else the wait
        the server's last refusal set (``_database_failed``)."""
        if self._connection_broken():
            await self._reconnect()
        else:
            await self._wait_retry()

    async def _wait_retry(self) -> None:
        """Until ``retry_at``; a leaving worker stops waiting at its stop timeout."""
        while time.monotonic() < self.retry_at and self._time_left() > 0:
            await asyncio.sleep(min(0.2, self.retry_at - time.monotonic()))

    def _time_left(self) -> float:
        """Seconds a leaving worker still tries to write its outcomes (inf otherwise)."""
        timeout, left_at = self.options.stop_timeout, self.control.left_at
        if timeout is None or left_at is None:
            return math.inf
        return left_at + timeout - time.monotonic()

    def _give_up_if_late(self) -> None:
        """A leaving worker past its stop timeout: say what is lost, and stop trying."""
        if not self.buffer or self._time_left() > 0:
            return
        assert self.worker is not None and self.options.stop_timeout is not None
        count, self.buffer = len(self.buffer), []
        self.control.unwritten = 0
        why = (
            "its connection is lost and the server does not answer"
            if self.refused is None or self._connection_broken()
            else explain(self.refused)
        )
        raise outcomes_not_written(
            count, self.options.stop_timeout, self.campaign.name,
            self.worker.name or str(self.worker.worker_id), self.worker.lease_seconds, why,
        )  # fmt: skip

    def _database_failed(self, exc: BaseException) -> None:
        """Writing (or claiming) failed: a lost connection is reopened by ``_recover``;
        any other refusal is said, with what to do, and retried after a backoff."""
        if isinstance(exc, ConnectionLost):
            self.db_lost = True
            return
        self.refused = exc
        self.retry_delay = min(max(0.5, self.retry_delay * 2), 30.0)
        self.retry_at = time.monotonic() + self.retry_delay
        if self.options.say is not None:
            kept = f"; {len(self.buffer)} outcome(s) kept in memory" if self.buffer else ""
            self.options.say(
                f"campaign {self.campaign.name}: the workspace refused: {explain(exc)}"
                f"{kept}; trying again in {self.retry_delay:g} s"
            )

    def _database_ok(self) -> None:
        if self.refused is not None and self.options.say is not None:
            self.options.say(f"campaign {self.campaign.name}: the workspace takes writes again")
        self.refused, self.retry_delay = None, 0.0

    def _connection_broken(self) -> bool:
        conn = getattr(self.ws.conn, "raw", None)
        return conn is None or bool(conn.closed) or self.db_lost

    async def _feed(self) -> None:
        while True:
            self.deferred, self.deferred_routes = False, set()
            complete = await self._feed_pass()
            # Rows skipped (or handed back) while their route was down are still queued:
            # once one of those routes may be tried again, go over the queue once more.
            if self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
            self._flush()
            if not self.deferred:
                return
            self.pending = set(self.deferred_routes) if complete else None
            await self._until_a_route_opens()

    async def _feed_pass(self) -> bool:
        """One pass over the queue; False if it stopped early (every route waiting)."""
        after = 0
        while True:
            if self._all_routes_blocked():
                self.deferred = True  # the rest waits for the next pass
                return False
            if self.worker is not None:
                after = await self._claim_and_send(after)
                if after < 0:
                    return True
                continue
            rows = queued_page(
                self.ws, self.campaign.id, after, self.options.page_size, self.timezones
            )
            if not rows:
                return True
            after = rows[-1]["id"]
            if self.settled:
                rows = [r for r in rows if r["id"] not in self.settled]
            rows, moved = self.gate.admit(rows)  # held or excluded by caps and quiet hours
            for state, count in moved.items():
                self._move("queued", state, count)
            for start in range(0, len(rows), self._chunk()):
                await self._send_chunk(rows[start : start + self._chunk()])

    async def _claim_and_send(self, after: int) -> int:
        """Claim the next chunk above ``after`` and send it; the new ``after`` (-1: the
        queue above ``after`` is empty)."""
        assert self.worker is not None
        self._check_stop()
        worker_id, chunk, not_again = self.worker.worker_id, self._chunk(), self._not_again()
        status, rows = retry_conflicts(
            lambda: claims.claim(
                self.ws, self.campaign.id, worker_id, after, chunk, self.timezones, not_again
            )
        )
        if status != str(CampaignStatus.SENDING):
            self.stop_status = stored_status(status, self.campaign.name, self.campaign.id)
            raise _Stop
        if not rows:
            return -1
        self._move("queued", "in_flight", len(rows))
        after = rows[-1]["id"]
        rows, moved = self.gate.admit(rows)
        for state, count in moved.items():
            self._move("in_flight", state, count)
        await self._send_chunk(rows, claimed=True)
        return int(after)

    def _chunk(self) -> int:
        per_minute = self.campaign.spec.throttle_per_minute
        if per_minute:  # about a second's worth, so throttled rows are not in flight long
            return max(1, min(self.options.chunk_size, per_minute // 60))
        return self.options.chunk_size

    async def _send_chunk(self, rows: list[Any], *, claimed: bool = False) -> None:
        if claimed:  # already in flight under this worker's claim
            admitted = self._admit(rows)
            if len(admitted) < len(rows):  # their route is down: back to the queue
                keep = {r["id"] for r in admitted}
                back = [r["id"] for r in rows if r["id"] not in keep]
                claims.requeue_claimed(self.ws, self.campaign.id, back)
                self._move("in_flight", "queued", len(back))
            rows = admitted
            if not rows:
                return
            ids = [r["id"] for r in rows]
        else:
            self._check_stop()
            rows = self._admit(rows)
            if not rows:
                return
            ids = [r["id"] for r in rows]
            stored = mark_in_flight_while_sending(self.ws, self.campaign.id, ids)
            if stored is None:
                self._move("queued", "in_flight", len(ids))
            else:
                self.stop_status = stored_status(stored, self.campaign.name, self.campaign.id)
        if self.stop_status is not None and not claimed:
            raise _Stop
        started: set[int] = set()
        try:
            for index, row in enumerate(rows, 1):
                self._check_stop()
                await self._spawn(row)
                started.add(row["id"])
                if index % _SPAWNS_PER_TURN == 0 or index == len(rows):
                    # Let these sends start (and their requests be written) and the
                    # answers that came in be handled before preparing more: otherwise
                    # a whole window's personalization and encryption run before the
                    # first byte leaves, and answers wait, holding the streams.
                    await asyncio.sleep(0)
        finally:
            # Rows marked in flight whose send never started are certainly unsent.
            unsent = [i for i in ids if i not in started]
            requeue(self.ws, self.campaign.id, unsent)
            self._move("in_flight", "queued", len(unsent))

    async def _spawn(self, row: Any) -> None:
        device = row_to_device(row)
        kind = device.provider
        if self.throttle.interval:
            await self.throttle.wait()
        await self.semaphores[kind].acquire()
        task = asyncio.create_task(self._deliver(device, row["j_variant"], row["j_attempts"]))
        self.tasks.add(task)
        done = self.done_callbacks.get(kind)
        if done is None:
            done = self.done_callbacks[kind] = self._task_done(kind)
        task.add_done_callback(done)

    def _task_done(self, kind: ProviderKind) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.semaphores[kind].release()
            self._widen(kind)  # a task that never reached the provider (say, a template)

        return done

    def _widen(self, kind: ProviderKind) -> None:
        """Open the provider's whole window after its first answer (of any kind): a
        refused credential costs one request, and a first device that meets an outage
        does not spend all its tries alone before the route's health can be judged."""
        if kind not in self.opened:
            self.opened.add(kind)
            for _ in range(self.options.concurrency - 1):
                self.semaphores[kind].release()

    # ---- routes: is the provider up?

    def _route(self, kind: ProviderKind, environment: str, token: str) -> RouteHealth:
        """The health of the way a device is reached (APNs host, Web Push origin…)."""
        if kind is not ProviderKind.WEBPUSH:  # twice per message: no key built each time
            known = self.routes_by_kind.get((kind, environment))
            if known is not None:
                return known
        if kind is ProviderKind.APNS:
            sandbox = environment == ApnsEnvironment.SANDBOX.value
            key, label = f"apns:{environment}", "APNs (sandbox)" if sandbox else "APNs"
        elif kind is ProviderKind.WEBPUSH:
            origin = "/".join(token.split("/", 3)[:3])  # https://host[:port]
            key, label = f"webpush:{origin}", f"Web Push service {origin.split('//')[-1]}"
        else:
            key, label = kind.value, _LABELS.get(kind, kind.value)
        health = self.health.get(key)
        if health is None:
            health = self.health[key] = RouteHealth(label, self.policy)
        if kind is not ProviderKind.WEBPUSH:
            self.routes_by_kind[kind, environment] = health
        return health

    def _device_route(self, device: Device) -> RouteHealth:
        return self._route(device.provider, device.environment.value, device.token)

    def _admit(self, rows: list[Any]) -> list[Any]:
        """The rows that may be sent now: none to a route that is down, except one probe."""
        admitted = []
        for row in rows:
            kind = _KINDS[row["provider"]]  # a dict lookup, not Enum.__call__
            health = self._route(kind, row["environment"], row["token"])
            state = health.state()
            if state is RouteState.GO:
                admitted.append(row)
            elif state is RouteState.PROBE:
                health.start_probe(row["id"])
                admitted.append(row)
            elif state is RouteState.WAIT:
                self._defer(health)  # stays queued; the next pass tries again
            elif self.worker is not None:
                self.left.add(row["id"])  # gave up: not claimed again in this run
            # GAVE_UP: stays queued for a later run; the campaign ends paused with why
        return admitted

    def _defer(self, health: RouteHealth) -> None:
        self.deferred = True
        self.deferred_routes.add(health)

    def _route_states(self) -> set[RouteState]:
        """The states of the routes the queued rows may still need; stops the run
        (paused, with the reason) when every one of them gave up waiting."""
        routes = self.health.values() if self.pending is None else self.pending
        states = {h.state() for h in routes}
        if states == {RouteState.GAVE_UP}:
            self.outage_stop = True
            self.stop_status = CampaignStatus.PAUSED
            raise _Stop
        return states

    def _all_routes_blocked(self) -> bool:
        """Every route that matters is down and not due for a probe: stop reading."""
        if not self.health:
            return False
        return self._route_states() <= {RouteState.WAIT, RouteState.GAVE_UP}

    async def _until_a_route_opens(self) -> None:
        """Between passes: wait until some route that was down may be tried again."""
        while True:
            self._check_stop()
            if self._route_states() & {RouteState.GO, RouteState.PROBE}:
                return
            await asyncio.sleep(0.1)

    def _notice(self) -> str:
        notices = [n for n in (h.notice() for h in self.health.values()) if n]
        if self.refused is not None:  # a progress bar says it too (campaigns send, the app)
            notices.insert(0, f"the workspace refused: {explain(self.refused)}")
        return "; ".join(notices)

    def waiting_text(self, unfinished: int) -> str:
        """Why devices are still queued after this run ("" if none waits on a failure)."""
        parts = [h.gave_up_text() for h in self.health.values() if h.gave_up]
        if self.settled:
            parts.append(
                f"{_devices(len(self.settled))} got only temporary failures "
                f"(last: {self.waiting_reason.rstrip('.')})."
            )
        if not parts or not unfinished:
            return ""
        return (
            " ".join(parts) + f" {_devices(unfinished)} not sent yet stay queued: run "
            f"'pushdeck campaigns send {self.campaign.name}' (or Resume in the app) to "
            "send them."
        )

    # ---- one device

    async def _deliver(self, device: Device, variant: str, attempts: int) -> None:
        assert device.id is not None
        if self.render_guard.stopped:  # spawned before the stop: certainly not sent
            self._record(_requeue_outcome(device.id, attempts))
            return
        try:
            message = self.personalizer.render(device, variant)
        except Exception as exc:  # noqa: BLE001 - a template failing for one device skips it
            reason = f"Template: {exc}"
            self._record(Outcome(device.id, JournalState.SKIPPED, attempts, reason=reason))
            stop = self.render_guard.failure(reason)
            if stop and self.stop_status is None:
                self.error, self.stop_status = stop, CampaignStatus.FAILED
            return
        if device.token_kind not in accepted_token_kinds(message):
            # A variant or localization changed what the message is (say, into a Live
            # Activity update): this token cannot take it, so it is never sent.
            reason = f"Token kind {device.token_kind.value} does not take this message."
            self._record(Outcome(device.id, JournalState.SKIPPED, attempts, reason=reason))
            return
        self.render_guard.success()
        nid = notification_id(self.campaign.name, device.app, device.token)
        try:
            outcome = await self._attempts(device, message, nid, attempts)
        except PushdeckError as exc:  # e.g. a device the provider cannot address at all
            outcome = Outcome(device.id, JournalState.REJECTED, attempts + 1, reason=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not leave the row in flight
            outcome = Outcome(
                device.id, JournalState.REJECTED, attempts + 1, reason=f"Internal error: {exc!r}"
            )
        self._record(outcome)

    async def _attempts(self, device: Device, message: Message, nid: str, attempts: int) -> Outcome:
        assert device.id is not None
        provider = self.providers[device.provider]
        health = self._device_route(device)
        tries = 0  # transient failures of this device in this run while its route was up
        last = ""
        while True:
            if health.down and health.prober != device.id:
                # Its route went down meanwhile: hand the row back without spending a try.
                self._defer(health)
                return _unfinished_outcome(device.id, attempts, last)
            await self._wait_gate(health)
            if self.stop_status is CampaignStatus.FAILED:
                return _requeue_outcome(device.id, attempts)  # certainly not sent again
            attempts += 1
            started = time.monotonic()
            try:
                result = await provider.send(message, device, notification_id=nid)
                self._widen(device.provider)
            except PayloadError as exc:
                health.end_probe(device.id)
                return Outcome(device.id, JournalState.SKIPPED, attempts, reason=exc.message)
            except TransportError as exc:
                self._widen(device.provider)
                if not isinstance(exc, NotSentError):
                    # Written and not answered: it may have arrived; a retry may duplicate.
                    self.unknown[device.id] += 1
                last, retry_after, status = exc.message, None, None
            else:
                if result.status is SendStatus.AUTH_FAILURE:
                    health.end_probe(device.id)
                    self._fail(result)
                    return _requeue_outcome(device.id, attempts - 1)
                if not result.retryable:
                    health.answered(started)
                    health.end_probe(device.id)
                    return _outcome(device, result, attempts)
                last, retry_after = _transient_words(result), result.retry_after
                status = result.http_status
            was_down = health.down
            health.failed(last, retry_after, started)
            health.end_probe(device.id)
            if health.down:
                self._defer(health)  # tried again in a later pass, once the route is back
                return _unfinished_outcome(device.id, attempts, last, status)
            if not was_down:
                tries += 1
            if tries >= self.options.max_attempts:
                self.settled.add(device.id)  # waits for the next run, with the reason
                self.waiting_reason = last
                reason = f"Waiting after {tries} temporary failures; last: {last}"
                return _unfinished_outcome(device.id, attempts, reason, status, final=True)
            await self._backoff(tries)

    async def _wait_gate(self, health: RouteHealth) -> None:
        """A short Retry-After (under a second) holds every send of the route."""
        wait = health.gate - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _backoff(self, attempt: int) -> None:
        ceiling = min(self.options.backoff_cap, self.options.backoff_base * 2 ** (attempt - 1))
        await asyncio.sleep(self.rng.uniform(0, ceiling))

    # ---- journal writes

    def _record(self, outcome: Outcome) -> None:
        for health in self.health.values():  # a probe that ended any way at all is over
            health.end_probe(outcome.device_id)
        unknown = self.unknown.pop(outcome.device_id, 0)
        if unknown:
            outcome = replace(outcome, unknown_sends=unknown)
            self.duplicated += 1
        self.buffer.append(outcome)
        self.control.unwritten = len(self.buffer)
        if len(self.buffer) >= self.options.flush_every:
            self._flush()

    async def _flush_periodically(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.options.flush_interval)
            self._flush()
            if time.monotonic() - self.last_emit >= 1.0 and self._notice():
                self._emit()  # a countdown while a provider is down, even if nothing moves
            if self.lease and time.monotonic() - renewed > sender_lease.HEARTBEAT:
                sender_lease.renew(self.ws, self.campaign.id, self.lease)
                renewed = time.monotonic()
            if self.worker is not None:
                try:
                    if self.db_lost:
                        await self._reconnect()
                        self._flush()
                    self.worker.beat_if_due()
                except ConnectionLost:
                    self.db_lost = True
                except ServerRefused:
                    pass  # the heartbeat is tried again at the next turn

    def _flush(self) -> None:
        if not self.buffer or time.monotonic() < self.retry_at:
            return  # nothing, or the server refused the last write: wait for its backoff
        batch, self.buffer = self.buffer, []
        self.control.unwritten = len(batch)  # until written, even while a call hangs
        finished = [o for o in batch if o.state is not JournalState.QUEUED]
        unsent = [o for o in batch if o.state is JournalState.QUEUED]
        campaign_id = self.campaign.id
        try:
            # A deadlock or serialization failure is run again a few times at once.
            if finished:
                retry_conflicts(lambda: write_outcomes(self.ws, campaign_id, finished))
                self._written(finished)
                finished = []
            if unsent:
                retry_conflicts(lambda: requeue_unfinished(self.ws, campaign_id, unsent))
                self._move("in_flight", "queued", len(unsent))
                unsent = []
            record_reported_engagement(self.ws, self.providers.values())  # simulated devices
        except ServerRefused as exc:  # a lost connection too (ConnectionLost)
            if self.worker is None:
                raise
            # Kept, and written once reconnected or after the backoff (the re-queue only
            # touches rows still in flight).
            self.buffer = finished + unsent + self.buffer
            self.control.unwritten = len(self.buffer)
            self._database_failed(exc)
            return
        self.control.unwritten = len(self.buffer)
        self._database_ok()
        if time.monotonic() - self.last_emit >= self.options.progress_interval:
            self._emit()

    def _written(self, finished: list[Outcome]) -> None:
        if self.worker is not None:
            self.worker.unreported += len(finished)
        for state, count in Counter(o.state.value for o in finished).items():
            self._move("in_flight", state, count)
        self.finished_this_run += len(finished)

    def _move(self, source: str, target: str, count: int = 1) -> None:
        """Keep the in-memory counts in step with the journal (no query per event)."""
        self.counts[source] -= count
        self.counts[target] += count

    def _emit(self, status: str | None = None, *, exact: bool = False) -> None:
        self.last_emit = time.monotonic()
        if self.on_progress is None:
            return
        if exact:  # after a status change rewrote rows (e.g. cancel): ask the journal
            self.on_progress(progress(self.ws, self.campaign, status, self._rate()))
            return
        counts = {k: v for k, v in self.counts.items() if v}
        remaining = counts.get("queued", 0) + counts.get("in_flight", 0)
        rate = self._rate()
        self.on_progress(
            Progress(
                campaign=self.campaign.name,
                status=status or str(CampaignStatus.SENDING),
                counts=counts,
                total=sum(counts.values()),
                remaining=remaining,
                rate=rate,
                eta_seconds=remaining / rate if rate > 0 else None,
                possibly_duplicated=self.duplicated,
                notice=self._notice(),
            )
        )

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished_this_run / elapsed if elapsed > 0 else 0.0


#: Sends started between two turns of the event loop (see _send_chunk).
_SPAWNS_PER_TURN = 32

_LABELS = {ProviderKind.FCM: "FCM", ProviderKind.SANDBOX: "Sandbox"}
_KINDS = {kind.value: kind for kind in ProviderKind}


def _devices(count: int) -> str:
    return f"{count:,} device" + ("" if count == 1 else "s")


def _transient_words(result: SendResult) -> str:
    """ "503 ServiceUnavailable", with the Retry-After the provider asked for."""
    words = " ".join(str(x) for x in (result.http_status, result.reason) if x) or "failure"
    if result.retry_after is not None:
        words += f", Retry-After {result.retry_after:.0f} s"
    return words


def _requeue_outcome(device_id: int, attempts: int) -> Outcome:
    return Outcome(device_id, JournalState.QUEUED, attempts)


def _unfinished_outcome(
    device_id: int,
    attempts: int,
    last: str,
    http_status: int | None = None,
    *,
    final: bool = False,
) -> Outcome:
    """Back to the queue after a transient failure, with the reason for status displays."""
    reason = last if final else (f"Not sent yet: {last}" if last else "")
    return Outcome(device_id, JournalState.QUEUED, attempts, http_status=http_status, reason=reason)


def _outcome(device: Device, result: SendResult, attempts: int) -> Outcome:
    assert device.id is not None
    base = dict(
        attempts=attempts,
        provider_id=result.provider_id,
        http_status=result.http_status,
        reason=result.reason,
    )
    if result.status is SendStatus.ACCEPTED:
        return Outcome(device.id, JournalState.ACCEPTED, **base)  # type: ignore[arg-type]
    if result.status is SendStatus.TOKEN_DEAD:
        return _dead_outcome(device, result, base)
    return Outcome(device.id, JournalState.REJECTED, **base)  # type: ignore[arg-type]


def _dead_outcome(device: Device, result: SendResult, base: dict[str, Any]) -> Outcome:
    assert device.id is not None
    since = result.token_dead_since
    if since is not None and device.last_seen is not None and device.last_seen > since:
        # APNs says the token died at `since`, but the app registered it again later:
        # keep the device (Apple's documented rule for the 410 timestamp).
        base["reason"] = f"{result.reason} (token seen again after {since:%Y-%m-%d}; kept)"
        return Outcome(device.id, JournalState.DEAD, **base)
    at = (since or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    why = f"{result.provider}: {result.reason or result.http_status}"
    return Outcome(device.id, JournalState.DEAD, **base, unregister_reason=why, unregister_at=at)


# --------------------------------------------------------------------------- public API


def progress(
    ws: Workspace, campaign: Campaign, status: str | None = None, rate: float = 0.0
) -> Progress:
    counts = counts_by_state(ws, campaign.id)
    remaining = counts.get("queued", 0) + counts.get("in_flight", 0)
    return Progress(
        campaign=campaign.name,
        status=status or str(current_status(ws, campaign.id)),
        counts=counts,
        total=sum(counts.values()),
        remaining=remaining,
        rate=rate,
        eta_seconds=remaining / rate if rate > 0 else None,
        possibly_duplicated=possibly_duplicated(ws, campaign.id),
    )


async def send_campaign_async(
    ws: Workspace,
    name: str,
    *,
    providers: Mapping[ProviderKind, Provider],
    on_progress: ProgressCallback | None = None,
    control: SendControl | None = None,
    options: DispatchOptions | None = None,
    timezones: Collection[str] | None = None,
    worker: worker_leases.WorkerLease | None = None,
    join: bool = False,
) -> SendSummary:
    """Start or resume sending campaign ``name``; return when it is done or stopped.

    ``timezones`` limits this run to devices in those zones (local-time schedules).
    Raises CredentialError (after recording it) when a provider refuses the credentials.

    On a PostgreSQL workspace the send claims rows as ``worker`` (this process is
    registered as one for the send when None), so other workers may send the same
    campaign at once. ``join``: only help a campaign already 'sending' (queued for the
    workers); its status, journal and schedule are left as they are.
    """
    campaign = get_campaign(ws, name)
    if campaign.status is CampaignStatus.SENT:
        return summary(ws, name)
    if join and campaign.status is not CampaignStatus.SENDING:
        return summary(ws, name)
    if campaign.status not in SENDABLE:
        raise ConfigError(
            f"Campaign {name!r} is {campaign.status} and cannot be sent.",
            hint=f"Duplicate it ('pushdeck campaigns duplicate {name} NEW') to send again.",
        )
    require_approved(ws, campaign)  # a shared workspace: the role, and an editor's change
    if worker_leases.shared(ws):
        own = worker is None
        if worker is None:
            worker = worker_leases.WorkerLease.register(ws, kind="send")
        try:
            with send_memory.streaming(ws), _collector_for_sending():
                return await _send(
                    ws, campaign, providers, on_progress, control or SendControl(), options,
                    timezones, "", worker=worker, join=join,
                )  # fmt: skip
        finally:
            if own:
                try:
                    worker.stop()
                except ConnectionLost:
                    pass  # its lease runs out by itself
    lease = sender_lease.acquire(ws, campaign.id, name)
    try:
        with send_memory.streaming(ws), _collector_for_sending():
            return await _send(
                ws, campaign, providers, on_progress, control or SendControl(), options,
                timezones, lease,
            )  # fmt: skip
    finally:
        sender_lease.release(ws, campaign.id, lease)


#: Allocations between two young-generation collections while sending (CPython: 700).
_SENDING_GC_THRESHOLD = 50_000
_sending_now = 0  # sends running in this process (the app may run several at once)
_threshold_before = gc.get_threshold()


@contextlib.contextmanager
def _collector_for_sending() -> Iterator[None]:
    """Keep the cyclic garbage collector from re-walking the whole heap while sending.

    A send keeps thousands of tasks, futures and streams alive, so with CPython's
    defaults an object survives into the older generations and the collector ran ~700
    times in a 20,000-device campaign, repeatedly walking every module, class and
    function already loaded: ~10 % of the command's CPU (bench/README.md, third pass).
    While sending, what existed before is frozen (never walked; unfrozen after, so
    nothing is lost) and the young generation is collected every 50,000 allocations
    instead of 700; cycles made during the send are still collected.
    """
    global _sending_now, _threshold_before
    if _sending_now == 0:
        _threshold_before = gc.get_threshold()
        gc.freeze()
        gc.set_threshold(_SENDING_GC_THRESHOLD, *_threshold_before[1:])
    _sending_now += 1
    try:
        yield
    finally:
        _sending_now -= 1
        if _sending_now == 0:
            gc.set_threshold(*_threshold_before)
            gc.unfreeze()


async def _send(
    ws: Workspace,
    campaign: Campaign,
    providers: Mapping[ProviderKind, Provider],
    on_progress: ProgressCallback | None,
    control: SendControl,
    options: DispatchOptions | None,
    timezones: Collection[str] | None,
    lease: str,
    *,
    worker: worker_leases.WorkerLease | None = None,
    join: bool = False,
) -> SendSummary:
    name = campaign.name
    started = time.monotonic()
    require_valid_templates(campaign.spec)  # a campaign saved before today's checks
    if not join and not start_sending(ws, campaign, providers.keys(), SENDABLE):
        return summary(ws, name)  # sent or cancelled by another client meanwhile
    if worker is None:
        recover_in_flight(ws, campaign.id)  # safe: the lease says no other sender is alive
    else:
        # Other workers may be sending: only rows of dead workers (their lease ran out)
        # and of a crashed sender of an older Pushdeck are re-queued.
        worker_leases.reap(ws)
        claims.recover_unclaimed(ws, campaign.id)
    while True:
        dispatcher = _Dispatcher(
            ws, campaign, providers, options or DispatchOptions(), control, on_progress, timezones
        )
        dispatcher.lease = lease
        dispatcher.worker = worker
        await dispatcher.run()
        if control.leaving:
            return summary(ws, name, elapsed=time.monotonic() - started)
        if dispatcher.stop_status is not CampaignStatus.PAUSED or not control.paused:
            break
        set_status(ws, name, CampaignStatus.PAUSED)
        dispatcher._emit(str(CampaignStatus.PAUSED), exact=True)
        if not await _wait_resume(control):
            break  # cancelled while paused
        set_status(ws, name, CampaignStatus.SENDING)
    _finish(ws, campaign, dispatcher, control, timezones)
    result = summary(ws, name, elapsed=time.monotonic() - started)
    dispatcher._emit(result.status, exact=True)
    if dispatcher.stop_status is CampaignStatus.FAILED and not dispatcher.render_guard.stopped:
        raise CredentialError(dispatcher.error)
    return result


async def _wait_resume(control: SendControl) -> bool:
    while control.paused and not control.cancelled:
        await asyncio.sleep(0.05)
    return not control.cancelled


def _finish(
    ws: Workspace,
    campaign: Campaign,
    dispatcher: _Dispatcher,
    control: SendControl,
    timezones: Collection[str] | None,
) -> None:
    stop = CampaignStatus.CANCELLED if control.cancelled else dispatcher.stop_status
    name = campaign.name
    if stop is CampaignStatus.CANCELLED:
        cancel_queued(ws, campaign.id)
        set_status(ws, name, CampaignStatus.CANCELLED, finished=True)
    elif stop is CampaignStatus.FAILED:
        set_status(ws, name, CampaignStatus.FAILED, error=dispatcher.error)
    elif stop is CampaignStatus.PAUSED and not dispatcher.outage_stop:
        set_status(ws, name, CampaignStatus.PAUSED)  # asked for (button, another process)
    elif (unfinished := _unfinished(ws, campaign.id)) == 0:
        nothing_sent = campaign_nothing_sent(ws, name, counts_by_state(ws, campaign.id))
        if nothing_sent:  # every recipient skipped: not a success
            set_status(ws, name, CampaignStatus.FAILED, error=nothing_sent)
        else:
            set_status(ws, name, CampaignStatus.SENT, finished=True)
    elif timezones is not None or wait_for_release(ws, campaign):
        # Local-time schedule: the zones due now are done, later ones wait their turn.
        # Devices held for their quiet hours wait for 'run-due' to release them (the
        # campaign's scheduled_at is the next release), even when others wait on a
        # provider: 'run-due' retries devices left waiting on a provider with them.
        # Held devices count as unfinished, so held alone is never 'nothing sent'.
        waiting = dispatcher.waiting_text(_unfinished(ws, campaign.id, held=False))
        set_status(ws, name, CampaignStatus.SCHEDULED, error=waiting)
    elif waiting := dispatcher.waiting_text(unfinished):
        # Devices wait on a provider that failed transiently: never 'sent'. Paused with
        # the reason; 'campaigns send' (or Resume) sends them.
        set_status(ws, name, CampaignStatus.PAUSED, error=waiting)


def _unfinished(ws: Workspace, campaign_id: int, *, held: bool = True) -> int:
    """Rows still queued, in flight or (unless ``held`` is False) held for quiet hours
    (never 'sent' while any is)."""
    counts = counts_by_state(ws, campaign_id)
    unfinished = counts.get("queued", 0) + counts.get("in_flight", 0)
    return unfinished + (counts.get("held", 0) if held else 0)


def send_campaign(
    ws: Workspace,
    name: str,
    *,
    providers: Mapping[ProviderKind, Provider],
    on_progress: ProgressCallback | None = None,
    options: DispatchOptions | None = None,
) -> SendSummary:
    """Blocking form of ``send_campaign_async`` (CLI, demo, scripts), on uvloop if present."""
    return event_loop.run(
        send_campaign_async(ws, name, providers=providers, on_progress=on_progress, options=options)
    )


def summary(ws: Workspace, name: str, *, elapsed: float = 0.0) -> SendSummary:
    campaign = get_campaign(ws, name)
    return SendSummary(
        campaign=name,
        status=str(campaign.status),
        counts=counts_by_state(ws, campaign.id),
        possibly_duplicated=possibly_duplicated(ws, campaign.id),
        error=campaign.error,
        elapsed=elapsed,
    )


def campaign_status(ws: Workspace, name: str) -> dict[str, Any]:
    """The JSON of ``pushdeck campaigns status NAME --json``."""
    campaign = get_campaign(ws, name)
    counts = counts_by_state(ws, campaign.id)
    return {
        "name": campaign.name,
        "app": campaign.spec.app,
        "status": str(campaign.status),
        "error": campaign.error,
        "targeted": sum(counts.values()),
        "counts": {state.value: counts.get(state.value, 0) for state in JournalState},
        "possibly_duplicated": possibly_duplicated(ws, campaign.id),
        # Queued devices by their last temporary failure (provider down, throttled…).
        "waiting": [
            {"reason": reason, "devices": count}
            for reason, count in waiting_reasons(ws, campaign.id)
        ],
        "scheduled_at": campaign.scheduled_at,
        "started_at": campaign.started_at,
        "finished_at": campaign.finished_at,
    }


def pause_campaign(ws: Workspace, name: str) -> None:
    """Ask a running send (in any process) to stop after its in-flight sends."""
    campaign = get_campaign(ws, name)
    if campaign.status is CampaignStatus.PAUSED:
        return  # pausing twice is harmless
    if campaign.status not in (CampaignStatus.SENDING, CampaignStatus.SCHEDULED):
        raise ConfigError(f"Campaign {name!r} is {campaign.status}; only a sending one pauses.")
    set_status(ws, name, CampaignStatus.PAUSED)


def cancel_campaign(ws: Workspace, name: str) -> None:
    """Cancel: nothing more is sent; what was sent stays recorded."""
    campaign = get_campaign(ws, name)
    if campaign.status in (CampaignStatus.SENT, CampaignStatus.CANCELLED):
        raise ConfigError(f"Campaign {name!r} is already {campaign.status}.")
    cancel_journal(ws, campaign.id)


__all__ = [
    "DispatchOptions",
    "Progress",
    "SendControl",
    "SendSummary",
    "campaign_status",
    "cancel_campaign",
    "materialize",
    "pause_campaign",
    "progress",
    "send_campaign",
    "send_campaign_async",
    "start_sending",
    "summary",
]
