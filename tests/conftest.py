"""Top-level test configuration shared by every test directory."""

import os

# Qt must never try to open a real display in tests.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
