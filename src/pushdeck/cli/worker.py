"""``pushdeck worker``: send queued campaigns and run schedules on a shared workspace
until SIGTERM or SIGINT (docs/workers.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pushdeck.cli.campaigns import providers_for
from pushdeck.cli.context import Context
from pushdeck.core.common import event_loop
from pushdeck.core.common.errors import ConfigError
from pushdeck.core.common.model import ProviderKind
from pushdeck.core.providers.base import Provider

if TYPE_CHECKING:
    from pushdeck.core.campaigns.worker_loop import WorkerLoop


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from pushdeck.core.campaigns.workers import DEFAULT_LEASE

    parser = subparsers.add_parser(
        "worker",
        help="send queued campaigns and run schedules on a shared workspace (until stopped)",
    )
    parser.add_argument("--name", default="", help="shown by 'pushdeck workers list'")
    parser.add_argument(
        "--lease",
        type=float,
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help="silence after which other workers take this one's devices over (default %(default)g)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often to look for work when no notification comes (default %(default)g)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=2048, help="most sends in progress per provider"
    )
    parser.add_argument(
        "--stop-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="after SIGTERM/SIGINT, how long to keep trying to write the last outcomes to a "
        "workspace that does not answer; then exit 1 saying how many were not written "
        "(default %(default)g)",
    )
    parser.set_defaults(handler=_worker)


def _say(text: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def _worker(ctx: Context, args: argparse.Namespace) -> int:
    from pushdeck.core.campaigns.dispatch import DispatchOptions
    from pushdeck.core.campaigns.worker_loop import WorkerLoop, WorkerOptions

    if args.lease <= 0 or args.poll <= 0 or args.stop_timeout <= 0:
        raise ConfigError("--lease, --poll and --stop-timeout must be more than 0 seconds.")
    ws = ctx.workspace()
    opened: dict[str, Mapping[ProviderKind, Provider]] = {}

    def providers(app: str) -> Mapping[ProviderKind, Provider]:
        if app not in opened:  # kept open: the next campaign of the app reuses them
            opened[app] = providers_for(ws, app)
        return opened[app]

    options = WorkerOptions(
        name=args.name,
        lease=args.lease,
        poll=args.poll,
        dispatch=DispatchOptions(concurrency=args.concurrency),
        stop_timeout=args.stop_timeout,
    )
    loop_worker = WorkerLoop(ws, providers, options, _say)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        # Python-level handlers, not loop.add_signal_handler: they run even while the loop
        # is stuck in a database call that does not return, so the watchdog still starts.
        handler = _stopper(loop, loop_worker)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, handler)
        try:
            await loop_worker.run()
        finally:
            for group in opened.values():
                for provider in group.values():
                    await provider.aclose()

    event_loop.run(run())
    return 0


#: Seconds past --stop-timeout after which the watchdog ends the process: the loop's own
#: bound (OutcomesNotWritten) normally comes first; this one holds when a database call
#: never returns (a server that hangs rather than refuses), which no loop can interrupt.
WATCHDOG_GRACE = 10.0


def _stopper(
    loop: asyncio.AbstractEventLoop, loop_worker: WorkerLoop
) -> Callable[[int, object], None]:
    watchdog: list[threading.Timer] = []

    def stop(signum: int) -> None:
        _say(f"{signal.Signals(signum).name}: finishing the sends in flight, then stopping")
        loop_worker.stop()

    def on_signal(signum: int, _frame: object) -> None:
        if not watchdog:
            timeout = loop_worker.options.stop_timeout
            watchdog.append(threading.Timer(timeout + WATCHDOG_GRACE, _hang_up, (loop_worker,)))
            watchdog[0].daemon = True
            watchdog[0].start()
        loop.call_soon_threadsafe(stop, signum)  # printing here could re-enter a print

    return on_signal


def _hang_up(loop_worker: WorkerLoop) -> None:
    """The watchdog: say what is lost, and end the process (exit 1) from this thread."""
    from pushdeck.core.campaigns.dispatch import outcomes_not_written

    lease = loop_worker.lease
    control = loop_worker.control
    error = outcomes_not_written(
        control.unwritten, loop_worker.options.stop_timeout, control.campaign,
        lease.name if lease is not None else "", loop_worker.options.lease,
        "a call to the database did not return",
    )  # fmt: skip
    print(f"pushdeck: {error}", file=sys.stderr, flush=True)
    os._exit(1)
