"""Large imports into PostgreSQL: staged rows COPY'd to the server, merged in one statement.

The reference is always SQLite: the same file imported into a workspace file by the
batch-by-batch path (``test_import_staged``'s helpers). The PostgreSQL workspace must hold
the same devices and tags and give the same report, for any file. The import tests of
``test_import`` run again at the end of this module with every file sent down the COPY
path (their ``ws`` here is a PostgreSQL workspace with the staged threshold at 0).
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import App
from pushdeck.core.devices import import_loop
from pushdeck.core.devices import staged_import as import_staged
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace, pg_copy, staging
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app

from .test_import import (  # noqa: F401 - collected again here, on the COPY path
    test_broken_quoting_is_reported_and_later_rows_survive,
    test_changed_row_is_updated_and_tags_follow,
    test_csv_import_validates_normalises_and_reimport_changes_nothing,
    test_export_round_trips_through_import,
    test_file_without_token_column_is_refused_with_columns_named,
    test_hostile_csv_gives_precise_report_and_imports_the_rest,
    test_interrupted_import_keeps_whole_batches_and_can_be_rerun,
    test_json_array_and_ndjson,
    test_mapping_override,
    test_subscriptions_pointing_into_the_local_network_are_rejected_with_the_reason,
)
from .test_import_staged import _batch_import, _devices, _messy_csv, _serial, _summary, _tags


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> list[import_staged.PartSpec]:
    """Every file takes the staged path with a second reader; the parts are recorded."""
    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)
    monkeypatch.setattr(import_staged, "PARALLEL_BYTES", 0)
    started: list[import_staged.PartSpec] = []
    real = import_staged._SecondPart.__init__

    def spy(self: import_staged._SecondPart, spec: import_staged.PartSpec, *rest: object) -> None:
        started.append(spec)
        real(self, spec, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(import_staged._SecondPart, "__init__", spy)
    return started


@pytest.fixture
def merges(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the COPY merges, so a test knows the COPY path really ran."""
    done: list[int] = []
    real = pg_copy.merge

    def counting(ws: Workspace) -> tuple[int, int]:
        done.append(1)
        return real(ws)

    monkeypatch.setattr(pg_copy, "merge", counting)
    return done


@pytest.fixture
def ws(pg_database: str, monkeypatch: pytest.MonkeyPatch, merges: list[int]) -> Iterator[Workspace]:
    """For the tests of test_import collected here: PostgreSQL, every file by COPY."""
    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)
    workspace = Workspace.open(pg_database)
    add_app(
        workspace, App("shop", apns_topic="com.example.shop", web_origin="https://shop.example")
    )
    yield workspace
    devices = device_store.count_devices(workspace)
    workspace.close()
    assert merges or not devices, "devices were imported, but not by the COPY path"


def _pg(uri: str) -> Workspace:
    ws = Workspace.open(uri)
    add_app(ws, App("shop"))
    return ws


@pytest.mark.parametrize("keys", ["hashed", "all colliding"])
def test_copy_import_gives_the_same_devices_tags_and_report_as_sqlite(
    tmp_path: Path,
    pg_database: str,
    staged: list[import_staged.PartSpec],
    merges: list[int],
    keys: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if keys == "all colliding":
        # Keys are told apart by hash while copying: with every hash equal, every key
        # but the first counts as repeated, and its rows take the merge's window pass.
        monkeypatch.setattr(pg_copy, "hash", lambda key: 0, raising=False)
    src = _messy_csv(tmp_path / "devices.csv", 900)
    reference, expected = _serial(tmp_path, src)

    ws = _pg(pg_database)
    report = import_devices(ws, src, "shop", report_file=tmp_path / "rejected.csv")

    assert len(staged) == 1 and len(merges) == 1  # two readers, then COPY and one merge
    assert _summary(report) == _summary(expected)
    assert report.rejected_count > 20 and report.inserted > 100 and report.updated > 0
    assert _devices(ws) == _devices(reference)
    assert _tags(ws) == _tags(reference)
    rejected_file = (tmp_path / "rejected.csv").read_text().splitlines()
    assert len(rejected_file) == report.rejected_count + 1

    # Tokens repeated in the file go back and forth on every run: the same counts as
    # SQLite's row-by-row upsert, though PostgreSQL writes each token once.
    again = import_devices(ws, src, "shop")
    assert _summary(again) == _summary(_batch_import(reference, src))
    assert again.inserted == 0 and again.updated > 0
    assert _devices(ws) == _devices(reference) and _tags(ws) == _tags(reference)
    assert ws.scalar(f"SELECT to_regclass('pg_temp.{pg_copy.STAGING}')") is None
    assert ws.scalar(f"SELECT to_regclass('pg_temp.{pg_copy.REPEATED}')") is None


def test_an_apps_first_devices_without_a_repeated_token_match_sqlite(
    tmp_path: Path,
    pg_database: str,
    staged: list[import_staged.PartSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing to judge (an app's first devices, no token twice): the merge inserts the
    staged rows as they are, and must still give what SQLite gives."""
    messy = _messy_csv(tmp_path / "messy.csv", 2400).read_text(encoding="utf-8")
    header, *rows = list(csv.reader(io.StringIO(messy)))
    unique = {row[0]: row for row in reversed(rows) if row}  # each token's first row
    tagged = [row for row in unique.values() if len(row) > 4 and row[4]]
    for row in tagged[::3]:  # a tag written twice (and spaced) in one cell is one tag
        row[4] = f"{row[4]}; {row[4].split(';')[0]} ;sale;sale"
    out = io.StringIO()
    csv.writer(out).writerows([header, *reversed(unique.values())])
    src = tmp_path / "unique.csv"
    src.write_text(out.getvalue(), encoding="utf-8")
    reference, expected = _serial(tmp_path, src)
    judged: list[bool] = []
    real = pg_copy.first_devices
    monkeypatch.setattr(pg_copy, "first_devices", lambda c: judged.append(real(c)) or judged[-1])

    ws = _pg(pg_database)
    report = import_devices(ws, src, "shop")

    assert judged == [True]
    assert _summary(report) == _summary(expected)
    assert report.inserted > 300 and report.rejected_count > 5
    assert _devices(ws) == _devices(reference)
    assert _tags(ws) == _tags(reference) and len(_tags(ws)) > 100
    # Its second import has devices to compare with: the update and the lookups.
    again = import_devices(ws, src, "shop")
    assert judged == [True, False]
    assert again.inserted == 0 and again.updated == 0
    assert _devices(ws) == _devices(reference)


def test_copy_import_updates_existing_devices_like_sqlite(
    tmp_path: Path, pg_database: str, staged: list[import_staged.PartSpec]
) -> None:
    first = _messy_csv(tmp_path / "first.csv", 500, seed=1)
    second = _messy_csv(tmp_path / "second.csv", 500, seed=2)
    reference, _ = _serial(tmp_path, first)
    expected = _batch_import(reference, second)

    ws = _pg(pg_database)
    import_devices(ws, first, "shop")
    report = import_devices(ws, second, "shop")

    assert _summary(report) == _summary(expected)
    assert _devices(ws) == _devices(reference)
    assert _tags(ws) == _tags(reference)


def test_last_seen_and_created_at_follow_the_row_by_row_rules(
    tmp_path: Path, pg_database: str, staged: list[import_staged.PartSpec]
) -> None:
    """A token repeated with and without last_seen: the counts and the stored value are
    those of upserting row by row (an empty last_seen keeps the one stored)."""
    token = lambda i: f"{i:064x}"  # noqa: E731
    lines = ["token,platform,last_seen,created_at,locale"]
    for i, (seen, created, locale) in enumerate(
        [
            ("2026-01-02T00:00:00Z", "2025-01-01T00:00:00Z", "de"),
            ("", "2025-02-01T00:00:00Z", "de"),  # same values, no last_seen: unchanged
            ("2026-01-02T00:00:00Z", "", "de"),  # the same last_seen again: unchanged
            ("2026-01-03T00:00:00Z", "", "de"),  # a new last_seen: updated
            ("", "", "fr"),  # a new locale: updated
        ]
    ):
        lines.append(f"{token(1)},ios,{seen},{created},{locale}")
        lines.append(f"{token(2 + i)},ios,{seen},{created},{locale}")
    src = tmp_path / "seen.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    second = tmp_path / "seen-again.csv"
    second.write_text(
        f"token,platform,last_seen,locale\n{token(1)},ios,,fr\n{token(2)},ios,,fr\n"
        f"{token(2)},ios,2026-01-01T00:00:00Z,fr\n",
        encoding="utf-8",
    )
    reference, expected = _serial(tmp_path, src)
    ws = _pg(pg_database)
    report = import_devices(ws, src, "shop")
    assert _summary(report) == _summary(expected)
    assert (report.inserted, report.updated, report.unchanged) == (6, 2, 2)
    # created_at: the file's, else the import's own clock (which differs between the two).
    everything = (
        "SELECT token, CASE WHEN created_at < '2026' THEN created_at END, last_seen, locale"
        " FROM devices ORDER BY token"
    )
    assert list(map(tuple, ws.query(everything))) == list(map(tuple, reference.query(everything)))
    assert _summary(import_devices(ws, second, "shop")) == _summary(
        _batch_import(reference, second)
    )
    assert list(map(tuple, ws.query(everything))) == list(map(tuple, reference.query(everything)))


def test_cancelling_a_copy_import_keeps_whole_batches_and_running_again_completes(
    tmp_path: Path,
    pg_database: str,
    staged: list[import_staged.PartSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(import_loop, "BATCH", 10)
    src = tmp_path / "many.csv"
    src.write_text(
        "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(200)), encoding="utf-8"
    )
    ws = _pg(pg_database)
    first = import_devices(ws, src, "shop", should_cancel=lambda: True)
    assert first.cancelled
    kept = device_store.count_devices(ws)
    assert 10 <= kept < 200 and first.inserted == kept

    second = import_devices(ws, src, "shop")
    assert (second.inserted, second.unchanged) == (200 - kept, kept)
    assert device_store.count_devices(ws) == 200


def test_a_failed_merge_leaves_nothing_and_the_next_import_works(
    tmp_path: Path, pg_database: str, staged: list[import_staged.PartSpec]
) -> None:
    src = _messy_csv(tmp_path / "devices.csv", 300)
    ws = _pg(pg_database)
    admin = psycopg.connect(pg_database, autocommit=True)
    admin.execute("ALTER TABLE device_tags ADD CONSTRAINT no_vip CHECK (tag <> 'vip')")
    with pytest.raises(psycopg.errors.CheckViolation):
        import_devices(ws, src, "shop")
    assert device_store.count_devices(ws) == 0
    admin.execute("ALTER TABLE device_tags DROP CONSTRAINT no_vip")
    admin.close()
    assert import_devices(ws, src, "shop").inserted > 50


def test_a_second_reader_failing_while_the_first_part_streams_leaves_nothing(
    tmp_path: Path,
    pg_database: str,
    staged: list[import_staged.PartSpec],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first part's rows are on the server (COPY) when the second part fails: the
    import reports it, no device changes, and the same connection imports again."""
    src = _messy_csv(tmp_path / "devices.csv", 600)
    ws = _pg(pg_database)
    import_devices(ws, _messy_csv(tmp_path / "before.csv", 50, seed=3), "shop")
    before = _devices(ws), _tags(ws)
    real = import_staged._SecondPart.result

    def broken(self: import_staged._SecondPart) -> import_staged.PartResult:
        real(self)
        raise ValidationError("Reading the second half failed: disk on fire")

    monkeypatch.setattr(import_staged._SecondPart, "result", broken)
    with pytest.raises(ValidationError, match="disk on fire"):
        import_devices(ws, src, "shop")
    assert (_devices(ws), _tags(ws)) == before
    assert ws.scalar(f"SELECT to_regclass('pg_temp.{pg_copy.STAGING}')") is None
    assert len(staged) == 2 and not Path(staged[-1].stage).parent.exists()

    monkeypatch.setattr(import_staged._SecondPart, "result", real)
    report = import_devices(ws, src, "shop")
    assert report.inserted > 100 and len(staged) == 3


# ---------------------------------------------------------------- large files, real processes

#: Big enough that the merge takes a moment another client can look into.
LARGE_ROWS = 200_000


def _large_csv(path: Path, rows: int, seed: int = 11, offset: int = 0) -> Path:
    """A file shaped like a real export: APNs and FCM tokens, locales, zones, 0-3 tags,
    attributes, a few rejected rows and repeated tokens."""
    rng = random.Random(seed)
    locales = ["en-US", "pt-BR", "pt-PT", "de-DE", "fr-FR", "es", "ja-JP"]
    zones = ["Europe/Paris", "America/Sao_Paulo", "Asia/Tokyo", "America/New_York"]
    tags = ["vip", "beta", "news", "sale"]
    with path.open("w", encoding="utf-8") as fh:
        fh.write("token,platform,locale,timezone,tags,opt_in,attr.plan,attr.visits\n")
        for i in range(rows):
            n = offset + i if rng.random() > 0.02 else rng.randrange(offset + 1)
            if i % 2:
                token, platform = f"{n:064x}", "ios"
            else:
                token, platform = f"{n:060x}:APA91b{'xY-z_' * 20}", "android"
            if rng.random() < 0.001:
                token = f"bad token {i}"
            chosen = ";".join(rng.sample(tags, rng.randint(0, 3)))
            plan = rng.choice(["pro", "free", "team"])
            fh.write(
                f"{token},{platform},{rng.choice(locales)},{rng.choice(zones)},{chosen},"
                f"{rng.choice(['authorized', 'denied', ''])},{plan},{rng.randint(0, 99)}\n"
            )
    return path


_IMPORT = """
import json, sys
from pathlib import Path
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace
ws = Workspace.open(sys.argv[1])
report = import_devices(ws, Path(sys.argv[2]), "shop")
print(json.dumps(report.as_dict()))
"""


def _import_process(target: str | Path, src: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _IMPORT, str(target), str(src)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_200000_row_file_gives_the_same_devices_on_postgresql_as_on_sqlite(
    tmp_path: Path, pg_database: str
) -> None:
    src = _large_csv(tmp_path / "large.csv", LARGE_ROWS)
    assert src.stat().st_size >= import_staged.STAGED_BYTES  # the real threshold: no patches
    sqlite_file = tmp_path / "large.pushdeck"
    for target in (sqlite_file, pg_database):
        with Workspace.open(target) as ws:
            add_app(ws, App("shop"))
    # Both imports in processes of their own, side by side, as two users would run them.
    processes = [_import_process(t, src) for t in (sqlite_file, pg_database)]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    on_sqlite, on_pg = (json.loads(out) for out, _ in outputs)
    assert on_pg == on_sqlite
    assert on_pg["inserted"] > LARGE_ROWS * 0.9 and on_pg["rejected"] > 100

    with Workspace.open(sqlite_file) as lite, Workspace.open(pg_database) as pg:
        columns = [c for c in device_store._COLUMNS if c != "created_at"]
        select = f"SELECT {', '.join(columns)} FROM devices ORDER BY token LIMIT ? OFFSET ?"
        for offset in range(0, LARGE_ROWS, 50_000):  # device by device, a page at a time
            page = (50_000, offset)
            assert list(map(tuple, pg.query(select, page))) == list(
                map(tuple, lite.query(select, page))
            )
        assert _tags(pg) == _tags(lite)
        # The bulk load refreshed the planner's statistics and the visibility map (the
        # segment count's index-only scan).
        assert pg.scalar("SELECT reltuples FROM pg_class WHERE relname = 'devices'") > 0
        assert pg.scalar("SELECT relallvisible FROM pg_class WHERE relname = 'devices'") > 0
        assert (
            pg.scalar(
                "SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'devices_platform_locale'"
            )
            == 1
        )


def _wait_for_copy(uri: str, process: subprocess.Popen[str]) -> None:
    """Until the importing process's connection is inside COPY … FROM STDIN."""
    with psycopg.connect(uri, autocommit=True) as watcher:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            busy = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND query LIKE 'COPY pushdeck_import_staging%' AND state = 'active'"
            ).fetchone()
            if busy and busy[0]:
                return
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
    pytest.fail("the import never reached COPY")


def test_a_killed_copy_import_leaves_the_workspace_as_it_was_and_the_next_one_works(
    tmp_path: Path, pg_database: str
) -> None:
    first = _large_csv(tmp_path / "first.csv", 1000, seed=1)
    src = _large_csv(tmp_path / "large.csv", LARGE_ROWS, seed=2)
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop"))
        import_devices(ws, first, "shop")
        before = _devices(ws), _tags(ws)

    process = _import_process(pg_database, src)
    _wait_for_copy(pg_database, process)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()

    with Workspace.open(pg_database) as ws:
        assert (_devices(ws), _tags(ws)) == before
        report = import_devices(ws, src, "shop")
        assert report.inserted > LARGE_ROWS * 0.9
        assert device_store.count_devices(ws) == report.inserted + len(before[0])


def test_a_second_client_counting_during_a_copy_import_sees_before_or_after_never_half(
    tmp_path: Path, pg_database: str
) -> None:
    first = _large_csv(tmp_path / "first.csv", 2000, seed=1)
    src = _large_csv(tmp_path / "large.csv", LARGE_ROWS, seed=2, offset=1000)
    counts = (
        "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM device_tags),"
        " (SELECT count(*) FROM devices WHERE locale = 'ja-JP')"
    )
    with Workspace.open(pg_database) as ws:
        add_app(ws, App("shop"))
        import_devices(ws, first, "shop")
        before = tuple(ws.query(counts)[0])

    process = _import_process(pg_database, src)
    seen: set[tuple[int, ...]] = set()
    during_merge = 0
    with psycopg.connect(pg_database, autocommit=True) as reader:
        while process.poll() is None:
            merging = reader.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND starts_with(query, %s) AND state = 'active'",
                (pg_copy.MERGE_MARK,),
            ).fetchone()
            row = reader.execute(counts).fetchone()
            assert row is not None
            seen.add(tuple(row))
            during_merge += bool(merging and merging[0])
    _out, err = process.communicate()
    assert process.returncode == 0, err
    with Workspace.open(pg_database) as ws:
        after = tuple(ws.query(counts)[0])
    assert after[0] > before[0] + LARGE_ROWS * 0.9
    assert during_merge > 0, "no count was taken while the merge ran"
    assert seen <= {before, after}, f"half an import seen: {seen - {before, after}}"


@pytest.mark.parametrize("source", ["rows as read", "rows file"])
def test_staged_text_reaches_the_server_exactly_whatever_it_holds(
    tmp_path: Path, pg_database: str, source: str
) -> None:
    """Straight from the first reader or from the second reader's rows file: tabs,
    newlines, backslashes, a literal backslash-N, a COPY end marker, non-ASCII and NULL
    arrive as they were read, and repeated keys are found."""
    hostile = ["a\tb", "line\nbreak", "cr\rlf", "back\\slash", "\\N", "\\\\t", "", "é✓😀", "\\."]
    rows = []
    for i, text in enumerate(hostile * 2):  # every key twice
        row = {c: text for c in device_store._COLUMNS}
        row.update(app_id=1, test=i % 2, token=f"t{i % len(hostile)}", last_seen=None)
        rows.append(tuple(row[c] for c in device_store._COLUMNS))
    ws = _pg(pg_database)
    pg_copy.start(ws)
    try:
        if source == "rows as read":
            with pg_copy.Copier(ws) as copier:
                copier.add(rows[:5])
                copier.add(rows[5:])
            assert copier.copied == len(rows)
        else:
            row_file = staging.RowFile(tmp_path / "part.rows")
            row_file.add(rows[:5])
            row_file.add([])
            row_file.add(rows[5:])
            row_file.close()
            with pg_copy.Copier(ws) as copier:
                copier.add(rows[:1])
                copier.add_row_file(tmp_path / "part.rows")
            assert copier.copied == len(rows) + 1
            rows = rows[:1] + rows
        columns = ", ".join(device_store._COLUMNS)
        arrived = ws.query(f"SELECT {columns} FROM {pg_copy.STAGING} ORDER BY seq")
        assert [tuple(r) for r in arrived] == rows
        repeated = ws.query(f"SELECT token FROM {pg_copy.REPEATED} ORDER BY token")
        assert [r[0] for r in repeated] == sorted(f"t{i}" for i in range(len(hostile)))
    finally:
        pg_copy.finish(ws)
        ws.close()
