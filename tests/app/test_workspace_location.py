"""The app given a workspace it cannot open (``pushdeck --workspace postgresql://…`` or
``PUSHDECK_WORKSPACE`` set so, from a launcher with no terminal): a dialog says why, the
welcome page shows, and neither a file named after the URI nor the last workspace is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

import pushdeck.cli
from pushdeck.app import errors
from pushdeck.app import main as app_main
from pushdeck.app.main import build_window
from pushdeck.app.settings import AppSettings
from pushdeck.core.common.workspace_location import (
    SharedWorkspaceUnavailableError,
    WorkspaceLocationError,
    local_workspace_path,
    parse_workspace_location,
)
from pushdeck.core.store import Workspace

PASSWORD = "s3cret-Passw0rd"
PG_URI = f"postgresql://pushdeck:{PASSWORD}@localhost/team"


def test_pushdeck_without_a_command_hands_the_refusal_to_the_app(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    opened: list[tuple[object, object]] = []

    def fake_run_app(workspace: object, argv: list[str], *, workspace_error: object) -> int:
        opened.append((workspace, workspace_error))
        return 0

    monkeypatch.setattr(app_main, "run_app", fake_run_app)
    monkeypatch.setenv("PUSHDECK_WORKSPACE", PG_URI)
    assert pushdeck.cli.main([]) == 0
    [(workspace, error)] = opened
    assert workspace is None
    assert isinstance(error, SharedWorkspaceUnavailableError)
    err = capsys.readouterr().err
    assert "not available in this version yet" in err and PASSWORD not in err


@pytest.mark.parametrize("value", [PG_URI, "ftp://files.example/team.pushdeck"])
def test_the_window_says_why_and_opens_no_other_workspace(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config"
    last = tmp_path / "last.pushdeck"
    Workspace.open(last).close()
    settings = AppSettings.load(config / "app-settings.json")
    settings.remember(last)  # would normally be reopened at start
    with pytest.raises(WorkspaceLocationError) as refused:
        local_workspace_path(parse_workspace_location(value))
    before = set(tmp_path.rglob("*"))

    window = build_window(
        None, config_dir=config, demo_path=tmp_path / "d.pushdeck", workspace_error=refused.value
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.wait_until(lambda: errors.GATE.box is not None, timeout=10_000)
    box = errors.GATE.box
    assert box.windowTitle() == "Could not open the workspace"
    text = box.text()
    assert PASSWORD not in text
    assert ("not available in this version yet" in text) == value.startswith("postgresql:")
    assert "postgresql://" in text
    assert window.root.currentWidget() is window.welcome
    assert "Could not open" in window.welcome.status.text()
    qtbot.wait(200)  # nothing opens late either
    assert window.runner.workspace_path is None
    assert set(tmp_path.rglob("*")) == before
    box.close()
    window.runner.shutdown()
