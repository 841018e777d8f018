"""``pushdeck workspace copy``: SQLite ⇄ PostgreSQL, every row, verified, all or nothing.

The commands run as a user runs them: ``pushdeck`` in a process of its own, on the demo
workspace (``pushdeck demo``) and a fresh database of the throwaway server.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pushdeck.core.common.model import App
from pushdeck.core.demo.campaign import DEMO_CAMPAIGN
from pushdeck.core.reports.dashboard import aggregates_csv_text, dashboard_data
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.copy import LOCAL_META, TABLES, content_rows, verify

PUSHDECK = [sys.executable, "-m", "pushdeck"]


def _pushdeck(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*PUSHDECK, *args], capture_output=True, text=True, timeout=600, check=False
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.pushdeck"
    _pushdeck("demo", str(path))
    return path


def _rows(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in key order (meta without its local bookkeeping)."""
    everything = {}
    for table in TABLES:
        where = (
            f" WHERE key NOT IN ({', '.join(repr(k) for k in LOCAL_META)})"
            if table.name == "meta"
            else ""
        )
        columns = [
            c
            for c in (
                [r["name"] for r in ws.query(f"PRAGMA table_info({table.name})")]
                if ws.dialect.is_sqlite
                else [r[0] for r in ws.query(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                    " AND table_schema = current_schema() ORDER BY ordinal_position",
                    (table.name,),
                )]
            )
        ]  # fmt: skip
        everything[table.name] = [
            tuple(r)
            for r in ws.query(
                f"SELECT {', '.join(sorted(columns))} FROM {table.name}{where}"
                f" ORDER BY {', '.join(table.key)}"
            )
        ]
    return everything


def _report(ws: Workspace) -> tuple[str, Any, Any]:
    data = dashboard_data(ws, DEMO_CAMPAIGN)
    return aggregates_csv_text(data), data.overall, data.by_variant


def test_the_demo_goes_to_postgresql_and_back_with_every_row_and_report_the_same(
    demo: Path, pg_database: str, tmp_path: Path
) -> None:
    to_pg = _pushdeck("workspace", "copy", str(demo), pg_database)
    back = tmp_path / "back.pushdeck"
    _pushdeck("workspace", "copy", pg_database, str(back))

    assert "devices: 3,000 / 3,000 rows" in to_pg.stderr  # progress, per table
    assert "devices" in to_pg.stdout and "DIFFERENT" not in to_pg.stdout
    assert "1 credential(s) copied as keyring references" in to_pg.stdout
    assert "stay in this machine's keyring" in to_pg.stdout
    user_password = pg_database.split(":")[2].split("@")[0]
    assert user_password not in to_pg.stdout + to_pg.stderr  # the URI is shown redacted

    with (
        Workspace.open(demo, create=False) as original,
        Workspace.open(pg_database, create=False) as shared,
        Workspace.open(back, create=False) as returned,
    ):
        expected = _rows(original)
        assert sum(map(len, expected.values())) > 10_000  # devices, journal, events, ...
        assert _rows(shared) == expected
        assert _rows(returned) == expected
        assert _report(shared) == _report(original)
        assert _report(returned) == _report(original)
        # Identity sequences moved past the copied ids: new rows get new ones.
        add_app(shared, App("second"))
        app_ids = [r[0] for r in shared.query("SELECT id FROM apps ORDER BY id")]
        assert len(set(app_ids)) == 2 and app_ids[1] > app_ids[0]
        # And the triggers are back: a new device's tags reach device_tags.
        record = dict.fromkeys(device_store._COLUMNS, "")
        record.update(
            app_id=app_ids[1], platform="ios", provider="apns", token="ab" * 32,
            environment="production", opt_in="unknown", tags='["vip"]', attributes="{}",
            test=0, created_at="2026-01-01T00:00:00Z", last_seen=None, token_kind="device",
        )  # fmt: skip
        device_store.upsert_devices(shared, [record])
        assert (
            shared.scalar(
                "SELECT count(*) FROM device_tags t JOIN devices d ON d.id = t.device_id"
                " WHERE d.app_id = ?",
                (app_ids[1],),
            )
            == 1
        )


def test_a_non_empty_target_is_refused_and_force_replaces_it(
    demo: Path, pg_database: str, tmp_path: Path
) -> None:
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("theirs"))
    refused = _pushdeck("workspace", "copy", str(demo), pg_database, check=False)
    assert refused.returncode == 1
    assert "is not empty (1 rows)" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    with Workspace.open(pg_database) as ws:
        assert [r[0] for r in ws.query("SELECT name FROM apps")] == ["theirs"]

    _pushdeck("workspace", "copy", str(demo), pg_database, "--force")
    with Workspace.open(demo) as original, Workspace.open(pg_database) as shared:
        assert _rows(shared) == _rows(original)
        assert "theirs" not in [r[0] for r in shared.query("SELECT name FROM apps")]

    # The same for a file target.
    other = tmp_path / "other.pushdeck"
    with Workspace.open(other) as ws:
        add_app(ws, App("theirs"))
    assert _pushdeck("workspace", "copy", pg_database, str(other), check=False).returncode == 1
    _pushdeck("workspace", "copy", pg_database, str(other), "--force")
    with Workspace.open(demo) as original, Workspace.open(other) as copied:
        assert _rows(copied) == _rows(original)


def test_a_workspace_is_never_copied_onto_itself(demo: Path, pg_database: str) -> None:
    _pushdeck("workspace", "copy", str(demo), pg_database)
    for source, target in ((str(demo), str(demo)), (pg_database, pg_database)):
        refused = _pushdeck("workspace", "copy", source, target, "--force", check=False)
        assert refused.returncode == 1
        assert "are the same workspace" in refused.stderr
    with Workspace.open(demo) as original, Workspace.open(pg_database) as shared:
        assert _rows(shared) == _rows(original)


def test_a_missing_source_or_a_foreign_uri_is_a_clear_error(tmp_path: Path) -> None:
    missing = _pushdeck("workspace", "copy", str(tmp_path / "nope.pushdeck"), str(tmp_path / "x"),
                        check=False)  # fmt: skip
    assert missing.returncode == 1 and "No workspace at" in missing.stderr
    assert not (tmp_path / "x").exists()
    foreign = _pushdeck("workspace", "copy", "mysql://h/db", str(tmp_path / "y"), check=False)
    assert foreign.returncode != 0 and "mysql://" in foreign.stderr
    assert "Traceback" not in missing.stderr + foreign.stderr


def test_a_copy_killed_mid_way_leaves_the_target_as_it_was_and_the_next_one_works(
    tmp_path: Path, pg_database: str, demo: Path
) -> None:
    """The copy is one transaction on the target: kill -9 in the middle of it, and the
    target holds exactly what it held before (here: a first copy of the demo)."""
    big = tmp_path / "big.pushdeck"
    _pushdeck("demo", str(big), "--devices", "40000")
    _pushdeck("workspace", "copy", str(demo), pg_database)
    with Workspace.open(demo) as original:
        before = _rows(original)

    process = subprocess.Popen(
        [*PUSHDECK, "workspace", "copy", str(big), pg_database, "--force"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if line.strip().startswith("devices:"):  # rows are going over
            break
    else:
        pytest.fail(f"the copy ended before it copied devices (exit {process.wait()})")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    with Workspace.open(pg_database) as shared:
        assert _rows(shared) == before
    _pushdeck("workspace", "copy", str(big), pg_database, "--force")
    with Workspace.open(big) as source, Workspace.open(pg_database) as shared:
        assert all(check.same for check in verify(source, shared))
        assert content_rows(shared) > 80_000


def test_the_verification_sees_a_difference(demo: Path, pg_database: str) -> None:
    """The checksums would catch a changed byte (so 'same' in the output means it)."""
    _pushdeck("workspace", "copy", str(demo), pg_database)
    with psycopg.connect(pg_database, autocommit=True) as raw:
        raw.execute(
            "UPDATE devices SET attributes = attributes || ' '"
            " WHERE id = (SELECT min(id) FROM devices)"
        )
    with Workspace.open(demo) as original, Workspace.open(pg_database) as shared:
        checks = {c.table: c for c in verify(original, shared)}
    assert not checks["devices"].same
    assert checks["devices"].source_rows == checks["devices"].target_rows
    assert all(c.same for name, c in checks.items() if name != "devices")
