"""``scripts/setup`` waits for another apt run (it holds apt's locks right after boot) and
says what it is doing, instead of dying at ``apt-get update``.

The real script runs against a stand-in ``apt-get`` that behaves like apt 2.6 with a real
POSIX lock: ``update`` fails at once ("Could not get lock … held by process N") while the
lock is held; ``install`` waits for it only when given ``DPkg::Lock::Timeout``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FAKE_APT = r"""#!{python}
import fcntl, os, sys, time
lock_path = os.environ["FAKE_APT_LOCK"]
with open(os.environ["FAKE_APT_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\n")
timeout = 0.0
for i, arg in enumerate(sys.argv):
    if arg.startswith("DPkg::Lock::Timeout="):
        timeout = float(arg.split("=", 1)[1])
command = next(a for a in sys.argv[1:] if a in ("update", "install"))
deadline = time.monotonic() + (timeout if command == "install" else 0.0)
fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
while True:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except OSError:
        if time.monotonic() >= deadline:
            print(f"E: Could not get lock {lock_path}. It is held by process 4242 (apt-get)",
                  file=sys.stderr)
            sys.exit(100)
        time.sleep(0.1)
with open(os.environ["FAKE_APT_LOG"], "a") as log:
    log.write(f"done {command}\n")
"""


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _setup_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The real script in a folder whose .venv is already installed (so only apt runs)."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "setup", root / "scripts" / "setup")
    (root / "pyproject.toml").write_text("")
    venv_bin = root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    _executable(venv_bin / "python", "#!/bin/sh\nexit 0\n")
    stamp = root / ".venv" / ".pushdeck-installed"
    stamp.touch()
    os.utime(stamp, (time.time() + 5, time.time() + 5))
    fake = tmp_path / "bin"
    fake.mkdir()
    _executable(fake / "apt-get", FAKE_APT.replace("{python}", sys.executable))
    # One package is "missing", so the script has to install it.
    _executable(
        fake / "dpkg-query",
        '#!/bin/sh\n[ "$3" = "xvfb" ] && exit 1\necho -n "install ok installed"\n',
    )
    _executable(fake / "sudo", '#!/bin/sh\nexec "$@"\n')
    env = {
        **os.environ,
        "PATH": f"{fake}:{os.environ['PATH']}",
        "FAKE_APT_LOCK": str(tmp_path / "lists.lock"),
        "FAKE_APT_LOG": str(tmp_path / "apt.log"),
        "PUSHDECK_APT_LOCK_WAIT": "60",
    }
    return root, env


def _hold_lock(path: Path, seconds: float) -> threading.Thread:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.lockf(fd, fcntl.LOCK_EX)

    def release() -> None:
        time.sleep(seconds)
        fcntl.lockf(fd, fcntl.LOCK_UN)
        os.close(fd)

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_setup_waits_for_apt_lock_and_says_so(tmp_path: Path) -> None:
    root, env = _setup_copy(tmp_path)
    holder = _hold_lock(tmp_path / "lists.lock", 4.0)
    try:
        result = subprocess.run(
            ["bash", str(root / "scripts" / "setup")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        holder.join()
    assert result.returncode == 0, result.stdout + result.stderr
    log = (tmp_path / "apt.log").read_text().splitlines()
    assert "done update" in log and "done install" in log, log
    assert log.index("done update") < log.index("done install")
    assert all("DPkg::Lock::Timeout=60" in line for line in log if not line.startswith("done"))
    out = result.stdout + result.stderr
    assert "Installing system packages: xvfb" in out
    assert "updating the package lists" in out
    assert "waiting for another package manager" in out
    assert "held by process 4242" in out
    assert out.count("waiting for another package manager") == 1  # said once, not per retry


def test_setup_gives_up_with_a_clear_message_when_the_lock_stays(tmp_path: Path) -> None:
    root, env = _setup_copy(tmp_path)
    env["PUSHDECK_APT_LOCK_WAIT"] = "2"
    holder = _hold_lock(tmp_path / "lists.lock", 8.0)
    try:
        result = subprocess.run(
            ["bash", str(root / "scripts" / "setup")],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    finally:
        holder.join()
    assert result.returncode != 0
    assert "still held after 2s" in result.stderr
    assert "done install" not in (tmp_path / "apt.log").read_text()
