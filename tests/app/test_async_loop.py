"""The network loop after shutdown: a late submit (a page's timer firing after its window
closed) is dropped quietly instead of raising 'Event loop is closed' into Qt."""

from __future__ import annotations

import warnings

from pushdeck.app.async_loop import AsyncLoop


def test_submit_after_shutdown_runs_nothing_and_raises_nothing(qapp) -> None:  # type: ignore[no-untyped-def]
    loop = AsyncLoop()
    loop.shutdown()
    ran: list[str] = []

    async def job() -> None:
        ran.append("ran")

    called: list[object] = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a coroutine never awaited would warn on collection
        future = loop.submit(job(), called.append, called.append)
    assert future.cancelled()
    assert ran == [] and called == [] and loop.pending == 0


def test_submit_before_shutdown_still_reports_its_result(qtbot) -> None:  # type: ignore[no-untyped-def]
    loop = AsyncLoop()
    try:
        results: list[int] = []

        async def job() -> int:
            return 42

        loop.submit(job(), results.append)
        qtbot.waitUntil(lambda: results == [42], timeout=5000)
    finally:
        loop.shutdown()
