"""Background image loading for previews, with a cache and a status for each reference.

Files and URLs load on Qt's global thread pool (QImage is safe off the GUI thread; URLs are
fetched by the core's ``media.fetch_image``, since the app does no network I/O itself); the
result comes back through a queued signal. Until then a preview shows "Loading image…", and
afterwards the image or what went wrong.
"""

from __future__ import annotations

import itertools
import weakref
from pathlib import Path
from urllib.parse import unquote, urlparse

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from pushdeck.core.common.errors import PushdeckError
from pushdeck.core.messages.media import fetch_image

LOADING = "Loading image…"


def local_path(ref: str) -> Path | None:
    """The file a reference points at, or None for remote URLs."""
    parsed = urlparse(ref)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme in ("http", "https", "data"):
        return None
    return Path(ref).expanduser()


class _Relay(QObject):
    """Carries finished loads to the GUI thread. ONE for the whole app, owned by the
    QApplication: a pool thread must never emit on an object that may be in the middle
    of being destroyed on the GUI thread (a closed page's cache): that is a virtual call
    on a half-destroyed object, "pure virtual method called" and SIGABRT. The
    application's destructor waits for the pool before it deletes its children, so this
    relay outlives every load."""

    loaded = Signal(int, str, QImage, str)  # the cache's key, reference, image, error


_RELAY: _Relay | None = None
#: The caches still alive, by key: a load for a cache deleted since is dropped.
_CACHES: weakref.WeakValueDictionary[int, ImageCache] = weakref.WeakValueDictionary()
_keys = itertools.count(1)


def _shared_relay() -> _Relay:
    global _RELAY
    if _RELAY is not None:
        try:
            _RELAY.objectName()
        except RuntimeError:  # deleted with an application since replaced
            _RELAY = None
    if _RELAY is None:
        _RELAY = _Relay(QCoreApplication.instance())
        _RELAY.loaded.connect(_deliver)
    return _RELAY


def _deliver(key: int, ref: str, image: QImage, error: str) -> None:
    cache = _CACHES.get(key)
    if cache is None:
        return  # its page closed while this loaded: nobody waits for it
    try:
        cache.loaded(ref, image, error)
    except RuntimeError:
        pass  # the cache's C++ side is gone, its Python side not yet


class _LoadJob(QRunnable):
    def __init__(self, key: int, ref: str, path: Path | None, relay: _Relay) -> None:
        super().__init__()
        self._key, self._ref, self._path, self._relay = key, ref, path, relay

    def run(self) -> None:
        if self._path is None:
            image, error = self._fetch()
        else:
            image = QImage(str(self._path))
            error = "" if not image.isNull() else f"Can't read image: {self._path.name}"
            if not self._path.exists():
                error = f"Image file not found: {self._path.name}"
        self._relay.loaded.emit(self._key, self._ref, image, error)

    def _fetch(self) -> tuple[QImage, str]:
        try:
            data = fetch_image(self._ref)
        except PushdeckError as exc:
            return QImage(), exc.message
        image = QImage.fromData(data)
        return image, "" if not image.isNull() else "The image could not be decoded."


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
        self._key = next(_keys)
        _CACHES[self._key] = self

    def image(self, ref: str) -> QImage | None:
        if ref in self._images:
            return self._images[ref]
        if ref not in self._errors and ref not in self._pending:
            self._pending.add(ref)
            self._pool.start(_LoadJob(self._key, ref, local_path(ref), _shared_relay()))
        return None

    def status(self, ref: str) -> str:
        return self._errors.get(ref, LOADING)

    def wait_idle(self, msecs: int = 5000) -> None:
        """Wait for pending loads (tests and screenshots)."""
        self._pool.waitForDone(msecs)

    def shutdown(self, msecs: int = 2000) -> bool:
        """Drop the loads not started yet and wait (bounded) for the running ones; True
        when none runs any more. The window calls it on quit: a pool thread still in
        Python while the interpreter finalizes can take the process down with it."""
        self._pool.clear()
        return self._pool.waitForDone(msecs)

    def loaded(self, ref: str, image: QImage, error: str) -> None:
        """A load finished (on the GUI thread, through the shared relay)."""
        self._pending.discard(ref)
        self.generation += 1
        if error:
            self._errors[ref] = error
        else:
            self._images[ref] = image
        self.image_ready.emit(ref)
