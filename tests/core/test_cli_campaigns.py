"""The campaign and events verbs end to end against the sandbox (the scriptable contract)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pushdeck.cli import main
from pushdeck.core.common.model import App, ProviderKind
from pushdeck.core.credentials import secrets
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.core.campaign_helpers import add_devices


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def workspace(tmp_path: Path) -> str:
    path = tmp_path / "w.pushdeck"
    with Workspace.open(path) as ws:
        add_app(ws, App("shop", apns_topic="com.example.shop"))
        add_devices(
            ws,
            [{"token": f"s{i}", "provider": "sandbox", "platform": "ios"} for i in range(40)]
            + [{"token": "out", "provider": "sandbox", "platform": "ios", "opt_in": "denied"}],
        )
        secrets.store_credential(
            ws,
            "shop",
            ProviderKind.SANDBOX,
            "sandbox",
            None,
            {"behaviour": {"latency_ms": 0, "failure_rate": 0, "dead_rate": 0}},
        )
    return str(path)


def test_create_send_status_events(
    workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "c.json"
    spec.write_text(
        json.dumps(
            {
                "name": "Hello",
                "app": "shop",
                "audience": {"all": True},
                "message": {"title": "Hi {{ nickname }}", "body": "b"},
            }
        )
    )
    code, out, err = run(
        capsys, "--workspace", workspace, "campaigns", "create", "--file", str(spec)
    )
    assert (code, out) == (0, "Hello\n")
    assert "nickname" in err  # unknown variable: a warning, not a failure
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "send", "Hello", "--json")
    assert code == 0
    sent = json.loads(out)
    assert sent["status"] == "sent"
    assert sent["counts"]["accepted"] == 40 and sent["counts"]["excluded"] == 1
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "status", "Hello", "--json")
    status = json.loads(out)
    assert status["possibly_duplicated"] == 0 and status["targeted"] == 41
    events = tmp_path / "e.ndjson"
    events.write_text(
        json.dumps(
            {
                "event_id": "1",
                "kind": "opened",
                "campaign": "Hello",
                "device": "s1",
                "at": "2026-05-01T09:00:00Z",
            }
        )
        + "\n"
    )
    code, out, _ = run(capsys, "--workspace", workspace, "events", "import", str(events))
    assert code == 0 and out.startswith("1 recorded")
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "list", "--json")
    assert json.loads(out)[0]["status"] == "sent"


def test_cancel_and_errors(
    workspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "c.json"
    spec.write_text(
        json.dumps(
            {
                "name": "Later",
                "app": "shop",
                "audience": {"all": True},
                "message": {"title": "x"},
                "schedule": {"at": "2099-01-01T00:00:00Z"},
            }
        )
    )
    run(capsys, "--workspace", workspace, "campaigns", "create", "--file", str(spec))
    code, out, _ = run(capsys, "--workspace", workspace, "campaigns", "run-due", "--json")
    assert json.loads(out) == {"sent": [], "missed": [], "waiting": ["Later"], "refused": []}
    assert run(capsys, "--workspace", workspace, "campaigns", "cancel", "Later")[0] == 0
    code, _, err = run(capsys, "--workspace", workspace, "campaigns", "send", "Later")
    assert code == 1 and "cancelled" in err and "Traceback" not in err
    code, _, err = run(capsys, "--workspace", workspace, "campaigns", "status", "Nope")
    assert code == 1 and "no campaign named 'Nope'" in err
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "name": "B",
                "app": "shop",
                "audience": {"all": True},
                "message": {"title": "{% if %}"},
            }
        )
    )
    code, _, err = run(capsys, "--workspace", workspace, "campaigns", "create", "--file", str(bad))
    assert code == 1 and "message.title" in err
