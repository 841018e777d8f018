"""Where Pushdeck keeps its files, and how it creates them (owner-only, cleaned up).

Default locations follow platform conventions (platformdirs).
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

import platformdirs

APP_NAME = "Pushdeck"
WORKSPACE_ENV = "PUSHDECK_WORKSPACE"


def data_dir() -> Path:
    """The per-user data directory, e.g. ~/.local/share/Pushdeck on Linux."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    """The per-user config directory (recent workspaces, preferences)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    """The per-user cache directory (scratch files of imports into a PostgreSQL workspace)."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def default_workspace_path() -> Path:
    """``$PUSHDECK_WORKSPACE`` when set, else ``<data dir>/workspace.pushdeck``."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return data_dir() / "workspace.pushdeck"


def demo_workspace_path() -> Path:
    """Where the ready-made demo workspace lives."""
    return data_dir() / "demo.pushdeck"


# --------------------------------------------------------------------------- private files
#
# Everything Pushdeck writes holds device tokens, personal attributes or the collector
# token: the workspace, its backups, exports, reports, rejected-row files, staging files.
# They are created owner-only (0600) whatever the umask. On Windows the user's profile
# folders already carry an owner-only ACL, which new files inherit; nothing is changed there.

PRIVATE_MODE = 0o600
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation at this level


@overload
def open_private(path: Path, mode: Literal["w"] = "w", **kwargs: Any) -> TextIO: ...
@overload
def open_private(path: Path, mode: Literal["wb"], **kwargs: Any) -> BinaryIO: ...


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """Open ``path`` for writing (created or truncated), owner-only before any byte is in it.

    ``mode`` is "w" or "wb"; ``kwargs`` go to ``open`` (encoding, newline). An existing
    regular file is made owner-only too; a device or pipe (``/dev/stdout``) is left as it is.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"open_private writes; mode {mode!r} is not 'w' or 'wb'")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_BINARY, PRIVATE_MODE)
    try:
        _restrict(fd)
        return open(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and owner-only, for a writer that opens it itself (Qt, SQLite).

    Writers that open with truncation keep the mode they find, so the data they write is
    never readable by others, even for a moment.
    """
    open_private(path, "wb").close()


def create_private_new_file(path: Path) -> bool:
    """Create ``path`` empty and owner-only if it does not exist; never opens an existing one.

    Returns whether it was created. Used for the workspace itself: opening an existing
    database file outside SQLite would drop SQLite's locks (see store/workspace.py).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, PRIVATE_MODE)
    except FileExistsError:
        return False
    try:
        _restrict(fd)
    finally:
        os.close(fd)
    return True


def _restrict(fd: int) -> None:
    # os.open's mode passes through the umask; a umask like 0o277 would leave 0400, and an
    # existing file keeps its mode. Set it outright, on regular files only.
    if sys.platform != "win32" and stat.S_ISREG(os.fstat(fd).st_mode):
        os.fchmod(fd, PRIVATE_MODE)


# --------------------------------------------------------------------------- scratch folders
#
# A large import stages its rows in a folder beside the workspace (up to 1.6× the file).
# A process killed mid-import cannot remove it, so every scratch folder holds a lock file
# that its owner (and the owner's helper process) keep locked for the folder's life. The
# next import or workspace open removes folders whose lock is free: their owners are gone.
# flock, not fcntl: an fcntl lock is per process, so it would neither conflict with this
# process's own live folders nor survive this process closing another descriptor.

IMPORT_SCRATCH_PREFIX = ".pushdeck-import-"
_OWNER_LOCK = "owner.lock"
#: A folder without a lock file (made by an older Pushdeck) is stale once this old.
_UNLOCKED_STALE_SECONDS = 3600


class ScratchDir:
    """An owner-only folder, locked while it is in use; ``lock_fd`` can go to a helper."""

    def __init__(self, path: Path, lock_fd: int) -> None:
        self.path = path
        self.lock_fd = lock_fd


@contextmanager
def scratch_dir(parent: Path, prefix: str = IMPORT_SCRATCH_PREFIX) -> Iterator[ScratchDir]:
    """A new folder under ``parent`` (mode 0700), locked until the block ends, then removed."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        lock_fd = os.open(path / _OWNER_LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_MODE)
        try:
            _lock(lock_fd, blocking=True)
            yield ScratchDir(path, lock_fd)
        finally:
            os.close(lock_fd)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_abandoned_scratch_dirs(parent: Path, prefix: str = IMPORT_SCRATCH_PREFIX) -> list[Path]:
    """Remove the scratch folders under ``parent`` whose owner process is gone."""
    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed  # an unreadable folder: nothing we could clean anyway
    for path in candidates:
        if path.is_symlink() or not path.is_dir():
            continue
        if _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _abandoned(path: Path) -> bool:
    lock_path = path / _OWNER_LOCK
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            return False
        return age > _UNLOCKED_STALE_SECONDS
    except OSError:
        return False
    try:
        return _lock(fd, blocking=False)
    finally:
        os.close(fd)  # releases the lock we may just have taken


def _lock(fd: int, *, blocking: bool) -> bool:
    """Lock ``fd``'s whole file exclusively; False if another holder has it."""
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True
