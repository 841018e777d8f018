"""ChangeWatcher: which areas of a workspace changed, whoever changed them."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from pushdeck.core.campaigns.library import create_campaign, get_campaign
from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.demo.workspace import DEMO_APP, fill_demo
from pushdeck.core.store import Workspace
from pushdeck.core.store.changes import ChangeWatcher
from pushdeck.core.store.drafts import save_draft
from pushdeck.core.store.segments import Segment, save_segment


def test_changes_by_another_connection_are_seen_by_area(
    ws_target: Path | str, tmp_path: Path
) -> None:
    fill_demo(ws_target, devices=60)  # a file or a PostgreSQL database
    path = ws_target
    with Workspace.open(path) as mine, Workspace.open(path) as other:
        watcher = ChangeWatcher(mine)
        assert watcher.poll() == frozenset()
        spec = get_campaign(other, DEMO_CAMPAIGN).spec
        create_campaign(other, replace(spec, name="Second"))
        assert watcher.poll() == {"campaigns"}
        assert watcher.poll() == frozenset()  # reported once
        save_segment(other, Segment("ios", {"field": "platform", "op": "=", "value": "ios"}))
        assert watcher.poll() == {"segments"}


def test_own_writes_are_seen_and_drafts_change_nothing_shown(
    ws_target: Path | str, tmp_path: Path
) -> None:
    fill_demo(ws_target, devices=60)  # a file or a PostgreSQL database
    path = ws_target
    with Workspace.open(path) as ws:
        watcher = ChangeWatcher(ws)
        save_draft(ws, "composer", {"version": 1, "message": {"title": "typing…"}})
        assert watcher.poll() == frozenset()  # autosave refreshes no page
        spec = get_campaign(ws, DEMO_CAMPAIGN).spec
        create_campaign(ws, replace(spec, name="Mine"))
        assert watcher.poll() == {"campaigns"}


def test_an_import_by_the_cli_process_is_a_device_change(
    ws_target: Path | str, tmp_path: Path
) -> None:
    fill_demo(ws_target, devices=60)  # a file or a PostgreSQL database
    path = ws_target
    devices = tmp_path / "d.csv"
    devices.write_text("token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(5)))
    with Workspace.open(path) as ws:
        watcher = ChangeWatcher(ws)
        subprocess.run(
            [sys.executable, "-m", "pushdeck", "devices", "import", str(devices),
             "--app", DEMO_APP.name, "--workspace", str(path)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        assert watcher.poll() == {"devices"}


def test_a_check_from_the_cli_is_remembered_with_the_credential(
    ws_target: Path | str, tmp_path: Path
) -> None:
    from pushdeck.core.common.model import ProviderKind
    from pushdeck.core.credentials.secrets import get_record
    from pushdeck.core.store.check_results import last_check

    fill_demo(ws_target, devices=20)  # a file or a PostgreSQL database
    path = ws_target
    subprocess.run(
        [sys.executable, "-m", "pushdeck", "credentials", "check", DEMO_APP.name,
         "--workspace", str(path)],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    with Workspace.open(path) as ws:
        check = last_check(get_record(ws, DEMO_APP.name, ProviderKind.SANDBOX).facts)
        watcher = ChangeWatcher(ws)
        from pushdeck.core.store.check_results import record_check

        record_check(ws, DEMO_APP.name, "sandbox", False, "Refused", "403")
        assert watcher.poll() == {"apps"}  # the credentials page follows
        failed = last_check(get_record(ws, DEMO_APP.name, ProviderKind.SANDBOX).facts)
    assert check is not None and check.ok and check.at.endswith("Z")
    assert failed is not None and not failed.ok and failed.details == "403"
