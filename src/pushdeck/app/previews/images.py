"""Background image loading for previews, with a cache and a status for each reference.

Files load on Qt's global thread pool (QImage is safe off the GUI thread); the result comes
back through a queued signal. URLs are not fetched: the core has no download helper yet, and
the app never does network I/O itself, so URL images show a clear placeholder.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

URL_PLACEHOLDER = "Image loads from its URL on the device (not fetched in previews)"


def local_path(ref: str) -> Path | None:
    """The file a reference points at, or None for remote URLs."""
    parsed = urlparse(ref)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("http", "https", "data"):
        return None
    return Path(ref).expanduser()


class _Relay(QObject):
    loaded = Signal(str, QImage, str)


class _LoadJob(QRunnable):
    def __init__(self, ref: str, path: Path, relay: _Relay) -> None:
        super().__init__()
        self._ref, self._path, self._relay = ref, path, relay

    def run(self) -> None:
        image = QImage(str(self._path))
        error = "" if not image.isNull() else f"Can't read image: {self._path.name}"
        if not self._path.exists():
            error = f"Image file not found: {self._path.name}"
        self._relay.loaded.emit(self._ref, image, error)


class ImageCache(QObject):
    """Gives renderers images without blocking; emits ``image_ready`` when one arrives.

    Signals:
        image_ready(str): an image (or its error) for this reference is now known.
    """

    image_ready = Signal(str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._images: dict[str, QImage] = {}
        self._errors: dict[str, str] = {}
        self._pending: set[str] = set()
        self.generation = 0  # bumped whenever an image (or its error) arrives
        self._pool = pool or QThreadPool.globalInstance()
        self._relay = _Relay(self)
        self._relay.loaded.connect(self._on_relay_loaded)

    def image(self, ref: str) -> QImage | None:
        if ref in self._images:
            return self._images[ref]
        path = local_path(ref)
        if path is not None and ref not in self._errors and ref not in self._pending:
            self._pending.add(ref)
            self._pool.start(_LoadJob(ref, path, self._relay))
        return None

    def status(self, ref: str) -> str:
        if ref in self._errors:
            return self._errors[ref]
        if local_path(ref) is None:
            return URL_PLACEHOLDER
        return "Loading image…"

    def wait_idle(self, msecs: int = 5000) -> None:
        """Wait for pending loads (tests and screenshots)."""
        self._pool.waitForDone(msecs)

    def _on_relay_loaded(self, ref: str, image: QImage, error: str) -> None:
        self._pending.discard(ref)
        self.generation += 1
        if error:
            self._errors[ref] = error
        else:
            self._images[ref] = image
        self.image_ready.emit(ref)
