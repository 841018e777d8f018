"""Several senders for one campaign on a shared (PostgreSQL) workspace.

Every process that sends on a PostgreSQL workspace — a ``pushdeck worker``, or
``campaigns send`` and the app, which become one more worker for their campaign — has
a row in ``workers`` and a *lease*: its last heartbeat plus ``lease_seconds``, by the
database's clock (machines with skewed clocks still agree). It claims journal rows in
small chunks (``store.workers.claim``: ``FOR UPDATE SKIP LOCKED``, committed before the
sends start), so no device goes to two workers. A worker whose lease runs out (kill -9,
power loss, a cut network) is declared stopped by whichever worker notices first; its
in-flight rows go back to the queue counted as possibly duplicated, exactly as a
crashed single sender's are.

On SQLite nothing here is used: one sender per campaign (``sender_lease``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pushdeck.core.store import workers as rows
from pushdeck.core.store.workspace import ConnectionLost, Workspace

#: Seconds without a heartbeat after which a worker is dead and its claims re-queued.
DEFAULT_LEASE = 30.0


def shared(ws: Workspace) -> bool:
    """Whether sends on this workspace claim rows (PostgreSQL) or hold the one lease."""
    return ws.dialect.is_postgres


def live_workers(ws: Workspace) -> int:
    """How many ``pushdeck worker`` processes hold a current lease: the ones that pick up
    a queued campaign (a ``campaigns send`` sender only sends its own)."""
    return sum(
        1
        for r in rows.listing(ws)
        if r["kind"] == "worker" and float(r["silent_for"]) <= float(r["lease_seconds"])
    )


@dataclass
class WorkerLease:
    """This process as a worker: its id, and when its lease must be renewed."""

    ws: Workspace
    worker_id: int
    lease_seconds: float
    name: str = ""
    kind: str = "worker"
    renewed: float = field(default_factory=time.monotonic)
    scheduler: bool = False
    #: Rows this worker finished since the last heartbeat (shown by 'workers list').
    unreported: int = 0

    @classmethod
    def register(
        cls, ws: Workspace, name: str = "", kind: str = "worker", lease: float = DEFAULT_LEASE
    ) -> WorkerLease:
        label = name or f"{kind}@{socket.gethostname()}"
        return cls(ws, rows.register(ws, label, kind, lease, pid_space()), lease, label, kind)

    @property
    def heartbeat_every(self) -> float:
        return self.lease_seconds / 4

    def due(self) -> bool:
        return time.monotonic() - self.renewed >= self.heartbeat_every

    def beat(self) -> None:
        """Renew the lease. A worker declared dead (it was silent too long, say during a
        network cut) takes a new identity: its old claims were already re-queued."""
        if self.unreported:
            rows.add_sent(self.ws, self.worker_id, self.unreported)
            self.unreported = 0
        if not rows.heartbeat(self.ws, self.worker_id, self.scheduler):
            self.worker_id = rows.register(
                self.ws, self.name, self.kind, self.lease_seconds, pid_space()
            )
        self.renewed = time.monotonic()

    def beat_if_due(self) -> None:
        if self.due():
            self.beat()

    def stop(self) -> None:
        if self.unreported:
            rows.add_sent(self.ws, self.worker_id, self.unreported)
            self.unreported = 0
        rows.stop(self.ws, self.worker_id)


@cache
def pid_space() -> str:
    """This machine's boot and process-id namespace: two workers with the same value
    share process ids, so one can tell the other's process is gone ('' where unknown:
    then only the lease says so)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return ""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, another user's
    return False


def reap(ws: Workspace) -> int:
    """Re-queue the in-flight rows of workers that are gone: on this machine, a worker
    whose process no longer exists (kill -9: no need to wait out its lease); anywhere, a
    worker whose lease ran out. Returns how many rows were re-queued."""
    space = pid_space()
    if space:
        mine = os.getpid()
        gone = [w for w, pid in rows.running_in(ws, space) if pid != mine and _gone(pid)]
        rows.declare_stopped(ws, gone)
    return rows.reap_expired(ws)[1]


@dataclass(frozen=True)
class SchedulerHolder:
    """The process that runs a shared workspace's schedules (it holds the lock)."""

    name: str
    host: str
    pid: int
    kind: str  # 'worker', or 'run-due' (a cron run on a workspace without workers)
    silent_for: float  # seconds since its last heartbeat
    lease_seconds: float

    def describe(self) -> str:
        who = (
            f"worker {self.name!r}"
            if self.kind == "worker"
            else f"'pushdeck campaigns {self.kind}' ({self.name})"
        )
        late = (
            f"; silent for {self.silent_for:.0f} s, longer than its {self.lease_seconds:g} s lease"
            if self.silent_for > self.lease_seconds
            else ""
        )
        return f"{who} on host {self.host} (pid {self.pid}{late})"


def scheduler_holder(ws: Workspace) -> SchedulerHolder | None:
    """Who runs the schedules as the workers table says (None: nobody says so, e.g. a
    worker that took the lock this instant)."""
    flagged = [r for r in rows.listing(ws) if r["scheduler"]]
    if not flagged:
        return None
    # A worker killed a moment ago may still be flagged: the freshest heartbeat holds it.
    r = min(flagged, key=lambda r: float(r["silent_for"]))
    return SchedulerHolder(
        str(r["name"]), str(r["host"]), int(r["pid"]), str(r["kind"]),
        float(r["silent_for"]), float(r["lease_seconds"]),
    )  # fmt: skip


@contextmanager
def scheduler_role(ws: Workspace, kind: str) -> Iterator[WorkerLease | None]:
    """This process runs the schedules for the time of the block: it takes the
    scheduler's lock (the one every ``pushdeck worker`` tries) and is registered as a
    worker of ``kind`` flagged as the scheduler, so ``workers list`` and another
    ``campaigns run-due`` can name it. Yields None, taking nothing, when another
    process holds the lock: then it runs the schedules, not this one."""
    if not rows.try_scheduler_lock(ws):
        yield None
        return
    try:
        lease = WorkerLease.register(ws, kind=kind)
        lease.scheduler = True
        lease.beat()  # the flag, at once
        try:
            yield lease
        finally:
            try:
                lease.stop()
            except ConnectionLost:
                pass  # its lease runs out by itself
    finally:
        try:
            rows.release_scheduler_lock(ws)
        except ConnectionLost:
            pass  # the lock went with the session
