"""Every file Pushdeck writes is owner-only (0600), whatever the umask: the workspace and
its -wal/-shm, exports, reports and rejected-row files hold device tokens, personal
attributes and the collector token."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import DEMO_APP, create_demo

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes only")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # the common default: new files readable by everyone
    yield
    os.umask(previous)


def pushdeck(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_workspace_exports_reports_and_rejected_rows_are_owner_only(
    tmp_path: Path, permissive_umask: None
) -> None:
    workspace = create_demo(tmp_path / "demo.pushdeck", devices=200)
    assert mode(workspace) == 0o600
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "existing.csv"
    existing.write_text("made by the user, readable by all\n")
    os.chmod(existing, 0o644)
    bad = tmp_path / "bad.csv"
    bad.write_text("token,platform\nnot-a-token,ios\n")

    commands = [
        ["devices", "export", str(out / "devices.csv")],
        ["devices", "export", str(out / "devices.ndjson")],
        ["devices", "export", str(existing)],
        ["devices", "import", str(bad), "--app", DEMO_APP.name, "--report", str(out / "rej.csv")],
        ["report", DEMO_CAMPAIGN, "--format", "csv", "-o", str(out / "report.csv")],
        ["report", DEMO_CAMPAIGN, "--format", "csv", "--per-device", "-o", str(out / "dev.csv")],
        ["report", DEMO_CAMPAIGN, "--format", "html", "-o", str(out / "report.html")],
        ["report", DEMO_CAMPAIGN, "--format", "pdf", "-o", str(out / "report.pdf")],
        ["report", DEMO_CAMPAIGN, "--format", "png", "-o", str(out / "report.png")],
    ]
    for command in commands:
        result = pushdeck(workspace, *command)
        assert result.returncode == 0, (command, result.stderr)

    written = sorted(out.iterdir())
    assert [p.name for p in written] == sorted(
        ["devices.csv", "devices.ndjson", "existing.csv", "rej.csv", "report.csv", "dev.csv",
         "report.html", "report.pdf", "report.png"]
    )  # fmt: skip
    assert all(p.stat().st_size > 0 for p in written)
    assert {p.name: oct(mode(p)) for p in written} == {p.name: "0o600" for p in written}
    assert "token" in existing.read_text()  # overwritten with the export, now private
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith("demo.pushdeck")]
    assert {name: oct(mode(tmp_path / name)) for name in leftovers} == {
        name: "0o600" for name in leftovers
    }
