"""Top-level test configuration shared by every test directory."""

from __future__ import annotations

import importlib.abc
import os
import sys

# Qt must never try to open a real display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class _BlockQt(importlib.abc.MetaPathFinder):
    """Makes PySide6 and pyqtgraph unimportable, proving the core runs without Qt."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in ("PySide6", "shiboken6", "pyqtgraph", "pytestqt"):
            raise ImportError(f"{name} is blocked: the core must not need Qt")


if os.environ.get("PUSHDECK_BLOCK_QT") == "1":
    sys.meta_path.insert(0, _BlockQt())
