"""A full disk, for real: the workspace on a small tmpfs. One clear message saying what was
kept, no traceback, a workspace that opens and closes, and an import that completes once
there is room again."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushdeck.core.common.errors import WorkspaceError
from pushdeck.core.common.model import App
from pushdeck.core.devices import staged_import as import_staged
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs mounted for the test (needs root, i.e. CAP_SYS_ADMIN)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def grow(disk: Path) -> None:
    """Free space the way a user would, by giving the disk more room."""
    subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)


def devices_csv(path: Path, rows: int) -> Path:
    path.write_text(
        "token,platform,tags,attr.name\n"
        + "".join(f"{i:064x},ios,vip;beta,Ana Maria {i}\n" for i in range(rows)),
        encoding="utf-8",
    )
    return path


def pushdeck(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_import_that_fills_the_disk_says_what_was_saved_and_completes_later(
    small_disk: Path, tmp_path: Path
) -> None:
    workspace = small_disk / "w.pushdeck"
    assert pushdeck(workspace, "apps", "add", "shop").returncode == 0
    src = devices_csv(tmp_path / "devices.csv", 30_000)

    result = pushdeck(workspace, "devices", "import", str(src), "--app", "shop")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [ln for ln in result.stderr.splitlines() if ln.startswith("pushdeck: ")] == [
        result.stderr.splitlines()[0]
    ]
    found = re.search(
        r"The disk holding (\S+) is full: the first ([\d,]+) rows of devices\.csv were saved "
        r"\(([\d,]+) devices\); nothing after row ([\d,]+) was saved",
        result.stderr,
    )
    assert found, result.stderr
    assert found[1] == str(workspace)
    saved = int(found[3].replace(",", ""))
    assert 0 < saved < 30_000 and found[2] == found[4]
    count = pushdeck(workspace, "devices", "count")  # opens, reads and closes on a full disk
    assert count.returncode == 0, count.stderr
    assert int(count.stdout) == saved  # exactly what the message said, nothing half-written

    grow(small_disk)
    again = pushdeck(workspace, "devices", "import", str(src), "--app", "shop", "--json")
    assert again.returncode == 0, again.stderr
    assert int(pushdeck(workspace, "devices", "count").stdout) == 30_000


def test_a_large_import_that_fills_the_disk_saves_nothing_and_leaves_no_staging(
    small_disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)  # the staged path, in two parts
    monkeypatch.setattr(import_staged, "PARALLEL_BYTES", 0)
    ws = Workspace.open(small_disk / "w.pushdeck")
    add_app(ws, App("shop"))
    src = devices_csv(tmp_path / "big.csv", 12_000)
    with pytest.raises(WorkspaceError) as caught:
        import_devices(ws, src, "shop", report_file=small_disk / "rejected.csv")
    message = str(caught.value)
    assert f"The disk holding {ws.path} is full: nothing of big.csv was saved" in message
    assert caught.value.__context__ is not None  # the cause is kept, for --debug
    assert device_store.count_devices(ws) == 0
    assert not list(small_disk.glob(".pushdeck-import-*"))
    ws.close()
    with pytest.raises(Exception, match="closed"):
        ws.scalar("SELECT 1")
    grow(small_disk)
    indexes = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices'"
    with Workspace.open(tmp_path / "fresh.pushdeck") as fresh:
        expected = {r[0] for r in fresh.query(indexes)}
    with Workspace.open(small_disk / "w.pushdeck") as again:
        assert {r[0] for r in again.query(indexes)} == expected  # dropped for the load: back
        assert import_devices(again, src, "shop").inserted == 12_000


def test_close_still_closes_when_the_disk_is_full(small_disk: Path) -> None:
    ws = Workspace.open(small_disk / "w.pushdeck")
    add_app(ws, App("shop"))
    filler = small_disk / "filler"
    with pytest.raises(OSError), filler.open("wb") as fh:
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    with pytest.raises(Exception, match="full"):
        with ws.transaction() as conn:
            conn.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                ((f"k{i}", "x" * 1000) for i in range(5000)),
            )
    ws.close()  # no exception, and the connection is closed
    with pytest.raises(Exception, match="closed"):
        ws.scalar("SELECT 1")
    filler.unlink()
    with Workspace.open(small_disk / "w.pushdeck") as again:
        assert again.scalar("SELECT count(*) FROM meta WHERE key GLOB 'k*'") == 0
