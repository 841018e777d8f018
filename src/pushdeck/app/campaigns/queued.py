"""Send on a shared workspace: queue the campaign for the team's workers, then follow it.

On PostgreSQL the app does not send: ``queue_campaign`` hands the campaign to the
``pushdeck worker`` processes (whoever pressed Send may close the laptop), and a timer
reads its journal once a second, each read a job on the workspace thread (never SQL on
the GUI thread), until the campaign settles (``queue.SETTLED``). The progress reaches
the panel as the same ``Progress`` / ``SendSummary`` a local send produces; its notice
says the workers have it, or that none is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from pushdeck.app.campaigns.confirm import PLATFORM_NAMES, SHORT_PROVIDER_NAMES
from pushdeck.app.errors import describe
from pushdeck.app.tasks import TaskRunner, WorkerContext
from pushdeck.core.campaigns.dispatch import Progress, SendSummary
from pushdeck.core.common.errors import PermissionDeniedError, PushdeckError

if TYPE_CHECKING:
    from pushdeck.core.campaigns.queue import QueuedState
    from pushdeck.core.campaigns.spec import Campaign
    from pushdeck.core.store.workspace import Workspace

#: How often the journal is read while the workers send.
POLL_MS = 1000
QUEUED_NOTE = "Queued for the team's workers: this computer may close."
NO_WORKER_NOTE = "No worker is running: start one with 'pushdeck worker'."
#: The title of the dialog when Send could not hand the campaign to the workers.
NOT_QUEUED_TITLE = "Campaign not queued"


class NotQueuedError(PushdeckError):
    """Send could not queue the campaign. Its text has three parts, each saying something
    the others do not: what happened (nothing was sent), why (in the window's words when
    known, else the core's refusal), and what to do in the window (the core's hints name
    CLI commands)."""

    def __init__(self, name: str, reason: str, advice: str) -> None:
        super().__init__(
            f"“{name}” was not queued for the team's workers, so nothing was sent.\n\n{reason}",
            hint=advice,
        )
        self.campaign = name


def why_and_what_to_do(ws: Workspace, name: str, exc: PushdeckError) -> tuple[str, str]:
    """Why the core refused to queue ``name`` (``exc``) and what the user can do about it
    in the window (on the workspace thread: it looks at the campaign and its audience)."""
    from pushdeck.core.campaigns.library import get_campaign
    from pushdeck.core.campaigns.spec import SENDABLE
    from pushdeck.core.credentials.secrets import list_records
    from pushdeck.core.team.roles import SENDERS

    again = "then press Send again"
    if isinstance(exc, PermissionDeniedError):
        if exc.role in SENDERS:  # a sender, refused: the campaign waits for an approval
            return exc.message, f"Approve it in its review (Review / send… › Approve), {again}."
        return exc.message, "Ask a sender or an admin of this workspace to approve and send it."
    try:
        campaign = get_campaign(ws, name)
        if campaign.status not in SENDABLE:  # cancelled (sending and sent queue as no-ops)
            return (
                f"It is {campaign.status}, and a {campaign.status} campaign stays that way "
                "(its report keeps what it sent before).",
                "Duplicate it (Duplicate… on this page) and send the copy.",
            )
        app = campaign.spec.app
        if not list_records(ws, app):
            return _no_credential(ws, campaign, again)
    except Exception:  # noqa: BLE001 - a failed look leaves the core's own words
        pass
    return exc.message, exc.hint or f"Correct what it says, {again}."


def _no_credential(ws: Workspace, campaign: Campaign, again: str) -> tuple[str, str]:
    """The app has no credential: which ones its audience needs, and where to add them."""
    from pushdeck.core.campaigns.audience import Exclusion, audience_rule, exclusion_case
    from pushdeck.core.common.model import DEFAULT_PROVIDER, Platform
    from pushdeck.core.store.audience import count_by_reason_and_platform

    app = campaign.spec.app
    rows = count_by_reason_and_platform(ws, audience_rule(ws, campaign.spec), exclusion_case([]))
    # The devices nothing else excludes: with no provider given, the store's CASE leaves
    # them '' (NOT IN (NULL) is never true), a fixed one would say 'no_credential'.
    waiting: dict[str, int] = {}
    for reason, platform, n in rows:
        if reason in ("", Exclusion.NO_CREDENTIAL):
            waiting[platform] = waiting.get(platform, 0) + n
    order = [p for p in PLATFORM_NAMES if p in waiting]
    kinds = [SHORT_PROVIDER_NAMES[DEFAULT_PROVIDER[Platform(p)]] for p in order]
    devices = " and ".join(
        f"{waiting[p]:,} {PLATFORM_NAMES[p]} device{'s' if waiting[p] != 1 else ''} ({kind})"
        for p, kind in zip(order, kinds, strict=True)
    )
    why = f"App “{app}” has no credential in this workspace, and the workers need one "
    why += f"for each kind of device: this audience has {devices}." if devices else "to send."
    if len(kinds) == 1:
        add = f"{'a' if kinds[0] == 'Web Push' else 'an'} {kinds[0]} credential"
    else:
        add = f"{' and '.join(kinds)} credentials" if kinds else "a credential"
    return why, (
        f"Add {add} for “{app}” on the Apps & credentials page and give each worker its "
        f"secret (in the worker's own keyring or credentials folder), {again}."
    )


class QueueFollower(QObject):
    """One queued campaign, from ``queue_campaign`` until it settles.

    Reports through callbacks on the GUI thread: ``on_started(name)`` once queued,
    ``on_progress(Progress)`` each poll, ``on_finished(SendSummary)`` when settled,
    ``on_failed(exc)`` when it could not be queued.
    """

    def __init__(
        self,
        runner: TaskRunner,
        name: str,
        *,
        on_started: Callable[[str], None],
        on_progress: Callable[[Progress], None],
        on_finished: Callable[[SendSummary], None],
        on_failed: Callable[[BaseException], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner, self.name = runner, name
        self._started, self._progress = on_started, on_progress
        self._finished, self._failed = on_finished, on_failed
        self.paused = False
        self.timer = QTimer(self, interval=POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._polling = False
        self._since = 0.0  # when it was queued (monotonic), for the rate and the summary
        self._first_done = -1
        self._last: Progress | None = None
        self._over = False
        # The window (and its runner with it) may go while this still follows: its timer
        # must not hand a poll to a deleted runner then.
        runner.destroyed.connect(self.stop)

    def start(self) -> None:
        self._queue(first=True)

    def _queue(self, *, first: bool) -> None:
        name = self.name

        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.queue import queue_campaign

            ws = ctx.require_ws()
            try:
                queue_campaign(ws, name)
            except PushdeckError as exc:
                raise NotQueuedError(name, *why_and_what_to_do(ws, name, exc)) from exc

        self.runner.run(job, lambda _r: self._on_queued(first), self._on_queue_failed)

    def _on_queued(self, first: bool) -> None:
        if self._over:
            return
        if first:
            self._since = time.monotonic()
            self._started(self.name)
        self.poll()
        self.timer.start()

    def _on_queue_failed(self, exc: BaseException) -> None:
        if self._over:
            return  # no longer followed (another workspace was opened)
        self.stop()
        self._failed(exc)

    def poll(self) -> None:
        """Read the campaign's journal on the workspace thread (one read at a time)."""
        if self._polling or self._over:
            return
        self._polling = True
        name = self.name

        def job(ctx: WorkerContext) -> QueuedState:
            from pushdeck.core.campaigns.queue import queued_state

            return queued_state(ctx.require_ws(), name)

        self.runner.run(job, self._on_polled, self._on_poll_failed)

    def _on_polled(self, state: QueuedState) -> None:
        self._polling = False
        if self._over:
            return
        snapshot = state.progress
        if self._first_done < 0:
            self._first_done = snapshot.done
        elapsed = time.monotonic() - self._since
        rate = (snapshot.done - self._first_done) / elapsed if elapsed > 0 else 0.0
        note = QUEUED_NOTE if state.live_workers else NO_WORKER_NOTE
        if state.live_workers:
            note += f" ({state.live_workers} worker{'s' if state.live_workers > 1 else ''})"
        snapshot = replace(
            snapshot,
            rate=rate,
            eta_seconds=snapshot.remaining / rate if rate > 0 else None,
            notice=note,
        )
        self._last = snapshot
        self._progress(snapshot)  # the final counts too: the panel shows where it ended
        if not state.settled:
            return
        self.stop()
        self._finished(
            SendSummary(
                campaign=snapshot.campaign,
                status=snapshot.status,
                counts=snapshot.counts,
                possibly_duplicated=snapshot.possibly_duplicated,
                error=state.error,
                elapsed=elapsed,
            )
        )

    def _on_poll_failed(self, exc: BaseException) -> None:
        # The workers send on regardless; say that this window lost sight, and retry.
        self._polling = False
        if self._last is not None and not self._over:
            self._progress(
                replace(self._last, notice=f"Cannot read the progress now: {describe(exc)}")
            )

    def pause(self) -> None:
        """Ask the workers to stop after their in-flight sends (the campaign settles
        as paused)."""
        self.paused = True
        name = self.name

        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.dispatch import pause_campaign

            pause_campaign(ctx.require_ws(), name)

        self.runner.run(job, lambda _r: self.poll(), self._on_poll_failed)

    def resume(self) -> None:
        self.paused = False
        self._queue(first=False)

    def cancel(self) -> None:
        name = self.name

        def job(ctx: WorkerContext) -> None:
            from pushdeck.core.campaigns.dispatch import cancel_campaign

            cancel_campaign(ctx.require_ws(), name)

        self.runner.run(job, lambda _r: self.poll(), self._on_poll_failed)

    def stop(self) -> None:
        """Stop following (the campaign goes on with the workers). Late job answers
        then find ``_over`` set and do nothing (this object may be deleted by then)."""
        if not self._over:
            self._over = True
            self.timer.stop()
