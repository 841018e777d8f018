"""While the app runs, Python's cyclic garbage is collected on the GUI thread only."""

from __future__ import annotations

import gc
import itertools
import threading
import weakref

from pushdeck.app.gui_gc import GuiThreadCollector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_garbage_made_on_a_worker_thread_is_collected_on_the_gui_thread(qapp) -> None:
    collected_on: list[str] = []
    collector = GuiThreadCollector()
    collector.start()
    try:
        assert not gc.isenabled()

        def make_garbage() -> None:
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle only the cyclic collector can free
            weakref.finalize(a, lambda: collected_on.append(threading.current_thread().name))

        def worker() -> None:
            make_garbage()
            # Far past every threshold: with automatic collection, it would run here.
            junk = [[Node()] for _ in range(50_000)]
            for x, y in itertools.pairwise(junk):
                x.append(y)
                y.append(x)

        thread = threading.Thread(target=worker, name="not-the-gui")
        thread.start()
        thread.join()
        assert collected_on == []  # nothing was collected on the worker thread
        collector.check()  # what the GUI thread's timer does
        if not collected_on:  # the cycle reached an older generation: a full pass
            gc.collect()
        assert collected_on == [threading.main_thread().name]
    finally:
        collector.stop()
    assert gc.isenabled()  # handed back when the app stops
