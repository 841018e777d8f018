"""A large import on PostgreSQL merges without the devices' secondary indexes, then
rebuilds them (store/pg_bulk.py), whatever happens to the importing process.

Each test watches from outside: a second connection reading pg_indexes and meta while
an import runs in a process of its own, a process killed with SIGKILL in the middle of
the merge, a reader holding the table in an open transaction.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from pushdeck.core.common.model import App
from pushdeck.core.devices import staged_import
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace, pg_bulk, pg_copy
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app
from pushdeck.core.store.segment_rules import parse_rule
from pushdeck.core.store.segments import count_rule
from tests.core.test_import_copy import _import_process, _large_csv

ROWS = 80_000

_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = current_schema() AND tablename = 'devices'"
)
_PENDING = f"SELECT value FROM meta WHERE key = '{pg_bulk.PENDING}'"


def _indexes(conn: psycopg.Connection[tuple[object, ...]]) -> dict[str, str]:
    return {str(name): str(sql) for name, sql in conn.execute(_INDEXES).fetchall()}


def _merging(conn: psycopg.Connection[tuple[object, ...]]) -> bool:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND starts_with(query, %s) AND state = 'active'",
        (pg_copy.MERGE_MARK,),
    ).fetchone()
    return bool(row and row[0])


def _wait_for_merge(
    watcher: psycopg.Connection[tuple[object, ...]], process: subprocess.Popen[str]
) -> None:
    """Until the importing process's merge statement is running."""
    while not _merging(watcher):
        assert process.poll() is None, process.communicate()
        time.sleep(0.005)


def _prepared(uri: str, tmp_path: Path) -> Path:
    """A workspace with an app and a few devices, and a file far larger than them."""
    with Workspace.open(uri) as ws:
        add_app(ws, App("shop"))
        import_devices(ws, _large_csv(tmp_path / "first.csv", 500, seed=1), "shop")
    src = _large_csv(tmp_path / "large.csv", ROWS, seed=2, offset=500)
    assert src.stat().st_size > staged_import.STAGED_BYTES  # the COPY path, unpatched
    return src


def _watch(uri: str, until: Callable[[], bool]) -> list[dict[str, str]]:
    """The devices' indexes, read again and again until ``until()``."""
    seen = []
    with psycopg.connect(uri, autocommit=True) as watcher:
        while not until():
            seen.append(_indexes(watcher))
            time.sleep(0.01)
    return seen


def test_a_large_import_merges_without_secondary_indexes_and_rebuilds_each_one(
    pg_database: str, tmp_path: Path
) -> None:
    src = _prepared(pg_database, tmp_path)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        before = _indexes(conn)
    assert "devices_locale" in before and "devices_segment_prefix" in before

    process = _import_process(pg_database, src)
    seen = _watch(pg_database, lambda: process.poll() is not None)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert json.loads(out)["inserted"] > ROWS * 0.9

    fewest = min(seen, key=len)
    # Only the secondary indexes went: the keys stayed for every other writer.
    assert set(fewest) == {"devices_pkey", "devices_app_id_token_key"}, fewest
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert _indexes(conn) == before
        assert conn.execute(_PENDING).fetchone() is None
    rule = parse_rule("platform = ios and locale ^= pt and tag has vip")
    by_hand = (
        "SELECT count(*) FROM devices d WHERE platform = 'ios' AND locale LIKE 'pt%'"
        " AND opt_in <> 'denied' AND status = 'active'"
        " AND EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = d.id AND t.tag = 'vip')"
    )
    with Workspace.open(pg_database) as ws:
        assert count_rule(ws, rule, "shop") == ws.scalar(by_hand) > 0


def test_an_import_killed_mid_merge_gets_its_indexes_back_at_the_next_open(
    pg_database: str, tmp_path: Path
) -> None:
    src = _prepared(pg_database, tmp_path)
    with psycopg.connect(pg_database, autocommit=True) as conn:
        before = _indexes(conn)
        devices_before = conn.execute("SELECT count(*) FROM devices").fetchone()

    process = _import_process(pg_database, src)
    with psycopg.connect(pg_database, autocommit=True) as watcher:
        _wait_for_merge(watcher, process)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate()
        # Its session is gone with it (the merge rolled back), and so is its lock.
        deadline = time.monotonic() + 30
        while _merging(watcher) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = _indexes(watcher)
        assert set(left) < set(before), "nothing was dropped: the test proves nothing"
        assert json.loads(watcher.execute(_PENDING).fetchone()[0])  # type: ignore[index]
        assert watcher.execute("SELECT count(*) FROM devices").fetchone() == devices_before

    with Workspace.open(pg_database) as ws:  # any client that owns the tables
        with psycopg.connect(pg_database, autocommit=True) as conn:
            assert _indexes(conn) == before
            assert conn.execute(_PENDING).fetchone() is None
        report = import_devices(ws, src, "shop")
        assert report.inserted > ROWS * 0.9


def test_a_client_opening_while_the_import_runs_leaves_its_indexes_alone(
    pg_database: str, tmp_path: Path
) -> None:
    src = _prepared(pg_database, tmp_path)
    process = _import_process(pg_database, src)
    with psycopg.connect(pg_database, autocommit=True) as watcher:
        _wait_for_merge(watcher, process)
        # The importer is alive and holds its lock: opening must neither rebuild the
        # indexes under it nor wait for the merge to finish.
        with Workspace.open(pg_database):
            still_merging = _merging(watcher)
            pending = watcher.execute(_PENDING).fetchone()
    _out, err = process.communicate()
    assert process.returncode == 0, err
    assert still_merging, "the merge ended before the open: the test proves nothing"
    assert pending is not None
    with psycopg.connect(pg_database, autocommit=True) as conn:
        assert "devices_locale" in _indexes(conn)
        assert conn.execute(_PENDING).fetchone() is None


def test_a_reader_holding_the_table_keeps_the_indexes_and_the_import_goes_on(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staged_import, "STAGED_BYTES", 0)
    src = _large_csv(tmp_path / "small.csv", 300, seed=3)
    dropped: list[list[str]] = []
    real = pg_bulk.drop_secondary_indexes
    monkeypatch.setattr(
        pg_bulk, "drop_secondary_indexes", lambda ws: dropped.append(real(ws)) or dropped[-1]
    )
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop"))
        with psycopg.connect(pg_database) as reader:  # a long report, say
            reader.execute("SELECT count(*) FROM devices")  # holds the table until commit
            with psycopg.connect(pg_database, autocommit=True) as conn:
                before = _indexes(conn)
            report = import_devices(ws, src, "shop")
            reader.commit()
        assert dropped == [[]], "the indexes were dropped under a reader"
        assert report.inserted > 250
        assert device_store.count_devices(ws) == report.inserted
        with psycopg.connect(pg_database, autocommit=True) as conn:
            assert _indexes(conn) == before
            assert conn.execute(_PENDING).fetchone() is None
