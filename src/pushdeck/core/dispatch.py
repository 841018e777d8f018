"""The only sending loop: audience → journal → personalized sends → outcomes.

``send_campaign_async`` (or the blocking ``send_campaign``) starts or resumes one
campaign:

1. *Materialize* (once, in one transaction): every targeted device gets a journal
   row — ``queued``, ``excluded`` (with the reason) or ``control`` (hold-out) — with
   its variant, platform, locale and time zone, all computed in SQL.
2. *Recover*: rows left ``in_flight`` by a crash are re-queued and counted as
   possibly duplicated (their first send may or may not have reached the provider).
3. *Send*: queued rows are read in pages by device id (flat memory), marked
   ``in_flight`` in small committed chunks right before their sends start, sent with
   bounded concurrency per provider, a throttle, Retry-After and jittered backoff,
   and their outcomes written back in batches.

An auth failure stops the campaign at once (status ``failed`` with the provider's
explanation; unsent devices stay queued for a resume). Pause and cancel come from a
``SendControl`` (same process) or from the campaign's status in the workspace
(another process, e.g. ``pushdeck campaigns pause``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pushdeck.core import sender_lease
from pushdeck.core.audience import audience_rule, exclusion_sql
from pushdeck.core.campaigns import (
    SENDABLE,
    Campaign,
    CampaignStatus,
    current_status,
    get_campaign,
    set_status,
)
from pushdeck.core.errors import (
    ConfigError,
    CredentialError,
    PayloadError,
    PushdeckError,
    TransportError,
)
from pushdeck.core.hygiene import Clock, SendGate, wait_for_release
from pushdeck.core.journal import (
    JournalState,
    Outcome,
    cancel_queued,
    counts_by_state,
    mark_in_flight,
    possibly_duplicated,
    queued_page,
    recover_in_flight,
    requeue,
    write_outcomes,
)
from pushdeck.core.model import Device, Message, ProviderKind, SendResult, SendStatus
from pushdeck.core.providers.base import Provider
from pushdeck.core.store.devices import row_to_device
from pushdeck.core.store.workspace import Workspace, utcnow
from pushdeck.core.templating import Personalizer
from pushdeck.core.variants import arm_for_bucket, bucket, notification_id


@dataclass(frozen=True)
class DispatchOptions:
    concurrency: int = 64  # simultaneous sends per provider
    max_attempts: int = 5  # per device, retries included
    backoff_base: float = 0.5  # seconds; doubles per attempt, full jitter
    backoff_cap: float = 30.0
    retry_after_cap: float = 600.0  # longest Retry-After honoured (the demo shortens it)
    page_size: int = 1000  # queued rows read at once
    chunk_size: int = 128  # rows committed as in_flight at once (bounds possible duplicates)
    flush_every: int = 500  # outcomes written per transaction
    flush_interval: float = 0.25  # seconds between flushes of a partial batch
    status_poll: float = 0.5  # seconds between checks for pause/cancel from elsewhere
    progress_interval: float = 0.2  # seconds between progress events (the last always comes)
    seed: int | None = None  # jitter seed (tests); None = system randomness
    clock: Clock | None = None  # what caps and quiet hours call "now" (tests); None = UTC now


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

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def cancel(self) -> None:
        self.cancelled = True


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


def _materialized_key(campaign_id: int) -> str:
    return f"campaign_materialized:{campaign_id}"


def materialize(ws: Workspace, campaign: Campaign, available: Collection[ProviderKind]) -> int:
    """Write the journal row of every targeted device once; return how many were added."""
    key = _materialized_key(campaign.id)
    if ws.scalar("SELECT 1 FROM meta WHERE key = ?", (key,)):
        return 0
    spec = campaign.spec
    rule = audience_rule(ws, spec)
    case, case_params = exclusion_sql(available)
    # Variant assignment runs inside SQLite so materializing a million devices never
    # loads them into Python.
    ws.conn.create_function(
        "pushdeck_arm",
        2,
        lambda app, token: arm_for_bucket(spec, bucket(spec.name, app, token)),
        deterministic=True,
    )
    sql = (
        "INSERT OR IGNORE INTO journal (campaign_id, device_id, variant, state, reason,"
        " platform, locale, timezone, queued_at)"
        f" SELECT ?, d.id, pushdeck_arm(a.name, d.token), CASE WHEN ({case}) != '' THEN"
        " 'excluded' WHEN pushdeck_arm(a.name, d.token) = 'control' THEN 'control'"
        f" ELSE 'queued' END, {case}, d.platform, d.locale, d.timezone, ?"
        f" FROM devices d JOIN apps a ON a.id = d.app_id WHERE {rule.where}"
    )
    now = utcnow()
    with ws.transaction() as conn:
        cursor = conn.execute(sql, (campaign.id, *case_params, *case_params, now, *rule.params))
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, now))
    return cursor.rowcount


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
        self.throttle = _Throttle(campaign.spec.throttle_per_minute)
        self.semaphores = {k: asyncio.Semaphore(options.concurrency) for k in providers}
        self.gates: dict[ProviderKind, float] = {}  # Retry-After: no sends before this
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
        self.unknown: Counter[int] = Counter()  # device id -> transport errors so far
        self.counts: Counter[str] = Counter(counts_by_state(ws, campaign.id))
        self.duplicated = possibly_duplicated(ws, campaign.id)

    # ---- control

    def _check_stop(self) -> None:
        if self.stop_status is not None:
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
        flusher = asyncio.create_task(self._flush_periodically())
        try:
            await self._feed()
        except _Stop:
            pass
        finally:
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            flusher.cancel()
            self._flush()

    async def _feed(self) -> None:
        after = 0
        while True:
            rows = queued_page(
                self.ws, self.campaign.id, after, self.options.page_size, self.timezones
            )
            if not rows:
                return
            after = rows[-1]["id"]
            rows, moved = self.gate.admit(rows)  # held or excluded by caps and quiet hours
            for state, count in moved.items():
                self._move("queued", state, count)
            for start in range(0, len(rows), self._chunk()):
                await self._send_chunk(rows[start : start + self._chunk()])

    def _chunk(self) -> int:
        per_minute = self.campaign.spec.throttle_per_minute
        if per_minute:  # about a second's worth, so throttled rows are not in flight long
            return max(1, min(self.options.chunk_size, per_minute // 60))
        return self.options.chunk_size

    async def _send_chunk(self, rows: list[Any]) -> None:
        self._check_stop()
        ids = [r["id"] for r in rows]
        with self.ws.transaction() as conn:
            stored = current_status(self.ws, self.campaign.id)
            if stored is not CampaignStatus.SENDING:
                self.stop_status = stored
            else:
                mark_in_flight(conn, self.campaign.id, ids)
                self._move("queued", "in_flight", len(ids))
        if self.stop_status is not None:
            raise _Stop
        started: set[int] = set()
        try:
            for row in rows:
                self._check_stop()
                await self._spawn(row)
                started.add(row["id"])
        finally:
            # Rows marked in flight whose send never started are certainly unsent.
            unsent = [i for i in ids if i not in started]
            requeue(self.ws, self.campaign.id, unsent)
            self._move("in_flight", "queued", len(unsent))

    async def _spawn(self, row: Any) -> None:
        device = row_to_device(row)
        kind = device.provider
        await self.throttle.wait()
        await self.semaphores[kind].acquire()
        task = asyncio.create_task(self._deliver(device, row["j_variant"], row["j_attempts"]))
        self.tasks.add(task)
        task.add_done_callback(self._task_done(kind))

    def _task_done(self, kind: ProviderKind) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            self.tasks.discard(task)
            self.semaphores[kind].release()

        return done

    # ---- one device

    async def _deliver(self, device: Device, variant: str, attempts: int) -> None:
        assert device.id is not None
        try:
            message = self.personalizer.render(device, variant)
        except Exception as exc:  # noqa: BLE001 - a template failing for one device skips it
            self._record(
                Outcome(device.id, JournalState.SKIPPED, attempts, reason=f"Template: {exc}")
            )
            return
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
        last_reason = ""
        while attempts < self.options.max_attempts:
            await self._wait_gate(device.provider)
            if self.stop_status is CampaignStatus.FAILED:
                return _requeue_outcome(device.id, attempts)  # certainly not sent again
            attempts += 1
            try:
                result = await provider.send(message, device, notification_id=nid)
            except PayloadError as exc:
                return Outcome(device.id, JournalState.SKIPPED, attempts, reason=exc.message)
            except TransportError as exc:
                # The request may have reached the service: a retry may duplicate it.
                self.unknown[device.id] += 1
                last_reason = f"TransportError: {exc.message}"
                await self._backoff(attempts, None)
                continue
            if result.status is SendStatus.AUTH_FAILURE:
                self._fail(result)
                return _requeue_outcome(device.id, attempts - 1)
            if result.retryable:
                last_reason = result.reason or str(result.http_status)
                if attempts < self.options.max_attempts:
                    await self._backoff(attempts, result.retry_after, device.provider)
                    continue
                result = replace(result, reason=_gave_up(attempts, last_reason))
            return _outcome(device, result, attempts)
        return Outcome(
            device.id, JournalState.REJECTED, attempts, reason=_gave_up(attempts, last_reason)
        )

    async def _wait_gate(self, kind: ProviderKind) -> None:
        wait = self.gates.get(kind, 0.0) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _backoff(
        self, attempt: int, retry_after: float | None, kind: ProviderKind | None = None
    ) -> None:
        if retry_after is not None and kind is not None:
            # The provider asked everyone to wait: hold the whole provider, not one send.
            hold = min(retry_after, self.options.retry_after_cap)
            self.gates[kind] = max(self.gates.get(kind, 0.0), time.monotonic() + hold)
            await self._wait_gate(kind)
            return
        ceiling = min(self.options.backoff_cap, self.options.backoff_base * 2 ** (attempt - 1))
        await asyncio.sleep(self.rng.uniform(0, ceiling))

    # ---- journal writes

    def _record(self, outcome: Outcome) -> None:
        unknown = self.unknown.pop(outcome.device_id, 0)
        if unknown:
            outcome = replace(outcome, unknown_sends=unknown)
            self.duplicated += 1
        self.buffer.append(outcome)
        if len(self.buffer) >= self.options.flush_every:
            self._flush()

    async def _flush_periodically(self) -> None:
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.options.flush_interval)
            self._flush()
            if self.lease and time.monotonic() - renewed > sender_lease.HEARTBEAT:
                sender_lease.renew(self.ws, self.campaign.id, self.lease)
                renewed = time.monotonic()

    def _flush(self) -> None:
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        finished = [o for o in batch if o.state is not JournalState.QUEUED]
        unsent = [o.device_id for o in batch if o.state is JournalState.QUEUED]
        write_outcomes(self.ws, self.campaign.id, finished)
        requeue(self.ws, self.campaign.id, unsent)
        for outcome in finished:
            self._move("in_flight", outcome.state.value)
        self._move("in_flight", "queued", len(unsent))
        self.finished_this_run += len(finished)
        if time.monotonic() - self.last_emit >= self.options.progress_interval:
            self._emit()

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
            )
        )

    def _rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.finished_this_run / elapsed if elapsed > 0 else 0.0


def _gave_up(attempts: int, last_reason: str) -> str:
    return f"Gave up after {attempts} attempts; last: {last_reason}"


def _requeue_outcome(device_id: int, attempts: int) -> Outcome:
    return Outcome(device_id, JournalState.QUEUED, attempts)


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
) -> SendSummary:
    """Start or resume sending campaign ``name``; return when it is done or stopped.

    ``timezones`` limits this run to devices in those zones (local-time schedules).
    Raises CredentialError (after recording it) when a provider refuses the credentials.
    """
    campaign = get_campaign(ws, name)
    if campaign.status is CampaignStatus.SENT:
        return summary(ws, name)
    if campaign.status not in SENDABLE:
        raise ConfigError(
            f"Campaign {name!r} is {campaign.status} and cannot be sent.",
            hint=f"Duplicate it ('pushdeck campaigns duplicate {name} NEW') to send again.",
        )
    lease = sender_lease.acquire(ws, campaign.id, name)
    try:
        return await _send(
            ws, campaign, providers, on_progress, control or SendControl(), options, timezones,
            lease,
        )  # fmt: skip
    finally:
        sender_lease.release(ws, campaign.id, lease)


async def _send(
    ws: Workspace,
    campaign: Campaign,
    providers: Mapping[ProviderKind, Provider],
    on_progress: ProgressCallback | None,
    control: SendControl,
    options: DispatchOptions | None,
    timezones: Collection[str] | None,
    lease: str,
) -> SendSummary:
    name = campaign.name
    started = time.monotonic()
    set_status(ws, name, CampaignStatus.SENDING, error="", started=True)
    materialize(ws, campaign, providers.keys())
    recover_in_flight(ws, campaign.id)  # safe: the lease says no other sender is alive
    while True:
        dispatcher = _Dispatcher(
            ws, campaign, providers, options or DispatchOptions(), control, on_progress, timezones
        )
        dispatcher.lease = lease
        await dispatcher.run()
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
    if dispatcher.stop_status is CampaignStatus.FAILED:
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
        with ws.transaction() as conn:
            cancel_queued(conn, campaign.id)
        set_status(ws, name, CampaignStatus.CANCELLED, finished=True)
    elif stop is CampaignStatus.FAILED:
        set_status(ws, name, CampaignStatus.FAILED, error=dispatcher.error)
    elif stop is CampaignStatus.PAUSED:
        set_status(ws, name, CampaignStatus.PAUSED)
    elif _unfinished(ws, campaign.id) == 0:
        set_status(ws, name, CampaignStatus.SENT, finished=True)
    elif timezones is not None or wait_for_release(ws, campaign):
        # Local-time schedule: the zones due now are done, later ones wait their turn.
        # Devices held for their quiet hours wait for ``run_due`` to release them.
        set_status(ws, name, CampaignStatus.SCHEDULED)


def _unfinished(ws: Workspace, campaign_id: int) -> int:
    """Rows still queued, in flight or held (never 'sent' while any is)."""
    counts = counts_by_state(ws, campaign_id)
    return counts.get("queued", 0) + counts.get("in_flight", 0) + counts.get("held", 0)


def send_campaign(
    ws: Workspace,
    name: str,
    *,
    providers: Mapping[ProviderKind, Provider],
    on_progress: ProgressCallback | None = None,
    options: DispatchOptions | None = None,
) -> SendSummary:
    """Blocking form of ``send_campaign_async`` (CLI, demo, scripts)."""
    return asyncio.run(
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
    with ws.transaction() as conn:
        cancel_queued(conn, campaign.id)
        conn.execute(
            "UPDATE campaigns SET status = 'cancelled', finished_at = ?, updated_at = ?"
            " WHERE id = ?",
            (utcnow(), utcnow(), campaign.id),
        )


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
    "summary",
]
