"""Work around a PySide6 6.12 / CPython 3.11 bug: Qt calls drop references to None/True/False.

Every call of a Qt method that returns ``void`` (``QPainter.setPen``, ``drawEllipse``, ...)
decrements ``None``'s reference count without having incremented it. On Python 3.12+
``None`` is immortal and nothing happens; on 3.11 a few thousand paint calls bring the count
to zero and the interpreter aborts ("none_dealloc"). Until the binding is fixed (or the
project moves to Python 3.12+), give ``None`` a reference count so large that it can never
reach zero. This touches nothing else and is a no-op on 3.12+.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 60


def make_none_immortal() -> bool:
    """Bump the refcounts of None, True and False out of reach; True when applied."""
    if sys.version_info >= (3, 12) or getattr(make_none_immortal, "applied", False):
        return False
    for singleton in (None, True, False):  # bool results are affected the same way
        refcount = ctypes.c_ssize_t.from_address(id(singleton))
        refcount.value += _HEADROOM
    make_none_immortal.applied = True  # type: ignore[attr-defined]
    return True
