"""``pushdeck worker``: send queued campaigns and run schedules on a shared workspace
until SIGTERM or SIGINT (docs/workers.md)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
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
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, _stopper(loop_worker, signum))
        try:
            await loop_worker.run()
        finally:
            for group in opened.values():
                for provider in group.values():
                    await provider.aclose()

    event_loop.run(run())
    return 0


def _stopper(loop_worker: WorkerLoop, signum: int) -> Callable[[], None]:
    def stop() -> None:
        _say(f"{signal.Signals(signum).name}: finishing the sends in flight, then stopping")
        loop_worker.stop()

    return stop
