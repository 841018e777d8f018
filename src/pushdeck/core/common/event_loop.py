"""Run a coroutine on the fastest event loop available.

uvloop (libuv, Cython) runs the HTTP/2 sends of a campaign with less CPU per message
than asyncio's pure-Python loop (bench/README.md, issue 19). It is optional
(``pip install pushdeck[speed]``, Linux and macOS): without it, or with
``PUSHDECK_EVENT_LOOP=asyncio``, asyncio's default loop is used.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor when installed and wanted, else None (asyncio's)."""
    if os.environ.get("PUSHDECK_EVENT_LOOP", "").lower() == "asyncio" or sys.platform == "win32":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def loop_name() -> str:
    return "asyncio" if loop_factory() is None else "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, on uvloop where available."""
    factory = loop_factory()
    if factory is None:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
