"""``apps update`` sets an app's caps, quiet hours, zone and attribution window (bad values
are refused with what to write, nothing stored); ``campaigns review`` shows what they do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushdeck.cli import main
from pushdeck.core.common.model import App
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices, record_credentials


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def workspace(tmp_path: Path) -> str:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop"))
        add_devices(ws, [{"token": "t1", "timezone": "UTC"}, {"token": "t2"}])
        record_credentials(ws)
    return str(path)


def rules(capsys: pytest.CaptureFixture[str], workspace: str) -> dict[str, object]:
    code, out, _ = run(capsys, "--workspace", workspace, "apps", "list", "--json")
    assert code == 0
    return dict(json.loads(out)[0]["rules"])


def test_apps_update_sets_and_removes_the_defaults(
    workspace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rules(capsys, workspace) == {
        "frequency_cap": None, "quiet_hours": None, "timezone": "UTC",
        "attribution_window": "24h",
    }  # fmt: skip
    code, out, _ = run(
        capsys, "--workspace", workspace, "apps", "update", "shop", "--frequency-cap", "2/24h",
        "--quiet-hours", "21:00-08:00", "--timezone", "Europe/Lisbon",
        "--attribution-window", "3d",
    )  # fmt: skip
    assert code == 0 and "frequency cap 2/24h" in out and "quiet hours 21:00-08:00/hold" in out
    assert rules(capsys, workspace) == {
        "frequency_cap": "2/24h", "quiet_hours": "21:00-08:00/hold",
        "timezone": "Europe/Lisbon", "attribution_window": "3d",
    }  # fmt: skip
    code, _, _ = run(capsys, "--workspace", workspace, "apps", "update", "shop",
                     "--frequency-cap", "none", "--quiet-hours", "22:00-07:00/skip")  # fmt: skip
    assert code == 0
    assert rules(capsys, workspace)["frequency_cap"] is None
    assert rules(capsys, workspace)["quiet_hours"] == "22:00-07:00/skip"


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--frequency-cap", "2 per day", "is not N/WINDOW"),
        ("--frequency-cap", "0/24h", "from 1 to 1000"),
        ("--frequency-cap", "2/24 hours", "is not a duration"),
        ("--quiet-hours", "21:00-21:00", "the window is empty"),
        ("--quiet-hours", "9pm-8am", "is not a time of day"),
        ("--quiet-hours", "21:00-08:00/later", "'hold'"),
        ("--timezone", "Europe/Atlantis", "is not an IANA time zone name"),
        ("--attribution-window", "forever", "is not a duration"),
    ],
)
def test_apps_update_refuses_bad_values(
    workspace: str, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    code, _, err = run(capsys, "--workspace", workspace, "apps", "update", "shop", option, value)
    assert code != 0 and words in err and "Traceback" not in err
    assert rules(capsys, workspace)["frequency_cap"] is None  # nothing half-written
    code, _, err = run(capsys, "--workspace", workspace, "apps", "update", "nope",
                       "--frequency-cap", "2/24h")  # fmt: skip
    assert code != 0 and "no app named 'nope'" in err


def test_campaigns_review_shows_caps_and_quiet_hours(
    workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "--workspace", workspace, "apps", "update", "shop", "--quiet-hours",
        "00:00-23:59", "--timezone", "UTC")  # fmt: skip
    spec = tmp_path / "c.json"
    spec.write_text(json.dumps({"name": "C", "app": "shop", "audience": {"all": True},
                                "message": {"title": "t"}}))  # fmt: skip
    assert run(capsys, "--workspace", workspace, "campaigns", "create", "--file", str(spec))[0] == 0
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "review", "C", "--json")
    review = json.loads(out)
    # Quiet from 00:00 to 23:59 UTC: unless this runs in the last minute of a UTC day,
    # both devices (one without a zone: the app's UTC) are held until 23:59.
    if review["held"]:
        (group,) = review["held"]
        assert group["devices"] == 2 and group["timezone"] == "UTC"
        assert group["release_at"].endswith("T23:59:00Z")
    assert review["eligible"] == 2 and review["excluded"] == {}
    assert any("Quiet hours 00:00–23:59" in line for line in review["rules"])
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "review", "C")
    assert code == 0 and "rule: Quiet hours" in out
