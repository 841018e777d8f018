"""A workspace the CLI cannot use, or a row it cannot read, is one clear message on stderr
naming the object and what to do: no traceback without --debug, a non-zero exit."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pushdeck.core.campaigns.library import create_campaign
from pushdeck.core.campaigns.spec import spec_from_dict
from pushdeck.core.common.model import App
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices


def pushdeck(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_message(result: subprocess.CompletedProcess[str]) -> str:
    """The single error message of a failed command (and that it is single)."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("pushdeck: ")
    assert [line for line in lines if line.startswith("pushdeck: ")] == lines[:1]
    assert len(result.stderr.splitlines()) <= 3, result.stderr  # message, and what to do
    return result.stderr


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        add_devices(ws, [{"token": f"{i:064x}"} for i in range(3)])
        for name in ("Spring", "Summer"):
            doc = {
                "name": name,
                "app": "shop",
                "audience": {"all": True},
                "message": {"title": "x"},
            }
            create_campaign(ws, spec_from_dict(doc))
    return path


def corrupt(path: Path, sql: str) -> None:
    """Change a row behind Pushdeck's back, as a hand edit or another tool would."""
    conn = sqlite3.connect(path)
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_a_folder_given_as_the_workspace(tmp_path: Path) -> None:
    for args in (["campaigns", "list"], ["devices", "count"], ["apps", "add", "x"]):
        message = one_message(pushdeck(tmp_path, *args))
        assert f"{tmp_path} is a folder, not a workspace file" in message
        assert ".pushdeck" in message  # what to give instead
    assert list(tmp_path.iterdir()) == []  # nothing was created in it


@pytest.mark.parametrize(
    "spec",
    ["{broken", "[]", json.dumps({"name": "Spring", "app": "shop"}), "42"],
    ids=["not-json", "not-an-object", "missing-fields", "a-number"],
)
def test_bad_json_in_a_stored_campaign_names_the_campaign(workspace: Path, spec: str) -> None:
    corrupt(workspace, f"UPDATE campaigns SET spec = '{spec}' WHERE name = 'Spring'")
    for args in (["campaigns", "list"], ["campaigns", "status", "Spring"]):
        message = one_message(pushdeck(workspace, *args))
        assert "campaign 'Spring'" in message and "spec" in message
        assert "'campaigns'" in message and "backup" in message  # what to do
    assert pushdeck(workspace, "campaigns", "status", "Summer").returncode == 0


def test_an_unknown_campaign_status_names_the_campaign_and_the_status(workspace: Path) -> None:
    corrupt(workspace, "UPDATE campaigns SET status = 'exploded' WHERE name = 'Summer'")
    for args in (
        ["campaigns", "list"],
        ["campaigns", "status", "Summer"],
        ["campaigns", "send", "Summer"],
    ):
        message = one_message(pushdeck(workspace, *args))
        assert "campaign 'Summer'" in message and "'exploded'" in message
        assert "draft" in message  # the statuses it knows


def test_bad_json_in_a_stored_device_names_the_device(workspace: Path) -> None:
    corrupt(workspace, f"UPDATE devices SET attributes = '{{oops' WHERE token = '{2:064x}'")
    message = one_message(pushdeck(workspace, "devices", "list"))
    assert f"device {2:064x}"[:23] in message and "'devices'" in message


def test_debug_still_shows_the_traceback(workspace: Path) -> None:
    corrupt(workspace, "UPDATE campaigns SET spec = '{broken' WHERE name = 'Spring'")
    result = pushdeck(workspace, "--debug", "campaigns", "list")
    assert result.returncode != 0 and "Traceback" in result.stderr


def test_the_workspace_file_itself_is_never_imported_from_or_exported_over(
    workspace: Path,
) -> None:
    import hashlib

    before = hashlib.sha256(workspace.read_bytes()).hexdigest()
    for args in (
        ["devices", "import", str(workspace), "--app", "shop"],
        ["devices", "export", str(workspace)],
        ["devices", "export", str(workspace.with_name("w.pushdeck-wal"))],
        ["report", "Spring", "--format", "csv", "-o", str(workspace)],
    ):
        result = pushdeck(workspace, *args)
        message = one_message(result)
        assert "it is the workspace's own file" in message, args
    assert hashlib.sha256(workspace.read_bytes()).hexdigest() == before
    assert pushdeck(workspace, "devices", "count").stdout.strip() == "3"
