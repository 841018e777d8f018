"""Pushdeck: compose, preview, send and measure push notifications from the desktop."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pushdeck")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
