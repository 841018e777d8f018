"""Large-file imports (``import_staged``): two readers, staging files, one merge.

Every test compares against the batch-by-batch path, which ``test_import`` covers on
its own: the staged path must give the same devices, tags and report for any file.
"""

from __future__ import annotations

import csv
import json
import random
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.model import App
from pushdeck.core.devices import import_loop
from pushdeck.core.devices import staged_import as import_staged
from pushdeck.core.devices.importer import ImportReport, import_devices
from pushdeck.core.devices.readers import _Lines, read_csv
from pushdeck.core.devices.rows import RowPlan, auto_mapping
from pushdeck.core.store import Workspace
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import add_app

from .test_import import _subscription

LOCALES = ["en-US", "pt_br", "de", "fr-FR", "zz-!!"]  # the last one is rejected
ZONES = ["Europe/Paris", "America/Sao_Paulo", "Asia/Tokyo", "Mars/Olympus"]


def _messy_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A file with everything the importer must get right, in random order."""
    rng = random.Random(seed)
    sub = json.dumps(_subscription()).replace('"', '""')
    tokens = [f"{rng.getrandbits(256):064x}" for _ in range(rows // 3)]
    lines = ["token,platform,locale,timezone,tags,opt_in,attr.plan,attr.visits,subscription"]
    for i in range(rows):
        kind = rng.random()
        locale, zone = rng.choice(LOCALES), rng.choice(ZONES)
        tags = ";".join(t for t in ("vip", "beta", "news") if rng.random() < 0.4)
        plan = rng.choice(["pro", "free", '"multi\nline, plan"', "1.5", "true", ""])
        visits = str(rng.randint(0, 50))
        if kind < 0.1:
            lines.append(f',web,{locale},{zone},{tags},,{plan},{visits},"{sub}"')
        elif kind < 0.15:
            lines.append(f"not-hex-{i},ios,{locale},{zone},{tags},,{plan},{visits},")
        elif kind < 0.18:
            lines.append("too,few,fields")
        elif kind < 0.2:
            lines.append("")
        else:  # repeated tokens: the last row of a token wins
            token = rng.choice(tokens)
            opt_in = rng.choice(["authorized", "denied", ""])
            lines.append(f"{token},ios,{locale},{zone},{tags},{opt_in},{plan},{visits},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _workspace(path: Path) -> Workspace:
    ws = Workspace.open(path)
    add_app(ws, App("shop"))
    return ws


def _devices(ws: Workspace) -> list[tuple[Any, ...]]:
    columns = [c for c in device_store._COLUMNS if c != "created_at"]
    return [
        tuple(row)
        for row in ws.query(f"SELECT {', '.join(columns)} FROM devices ORDER BY token, p256dh")
    ]


def _tags(ws: Workspace) -> list[tuple[Any, ...]]:
    return [
        tuple(row)
        for row in ws.query(
            "SELECT d.token, t.tag FROM device_tags t JOIN devices d ON d.id = t.device_id"
            " ORDER BY 1, 2"
        )
    ]


def _summary(report: ImportReport) -> dict[str, Any]:
    return {**report.as_dict(), "rejected_rows": report.rejected}


@pytest.fixture
def ws(sqlite_ws: Workspace) -> Workspace:
    """The staged import stages files beside the workspace file and merges them in
    SQLite: these tests are the file's (PostgreSQL imports take the plain path)."""
    return sqlite_ws


@pytest.fixture
def staged(monkeypatch: pytest.MonkeyPatch) -> list[import_staged.PartSpec]:
    """Send every file down the staged path with a second process; record the parts."""
    monkeypatch.setattr(import_staged, "STAGED_BYTES", 0)
    monkeypatch.setattr(import_staged, "PARALLEL_BYTES", 0)
    started: list[import_staged.PartSpec] = []
    real = import_staged._SecondPart.__init__

    def spy(self: import_staged._SecondPart, spec: import_staged.PartSpec, *rest: Any) -> None:
        started.append(spec)
        real(self, spec, *rest)

    monkeypatch.setattr(import_staged._SecondPart, "__init__", spy)
    return started


def _batch_import(ws: Workspace, src: Path) -> ImportReport:
    """The reference: the same file through the batch-by-batch path."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(import_staged, "STAGED_BYTES", 1 << 62)
        return import_devices(ws, src, "shop")


def _serial(tmp_path: Path, src: Path) -> tuple[Workspace, ImportReport]:
    ws = _workspace(tmp_path / "reference.pushdeck")
    return ws, _batch_import(ws, src)


def test_staged_import_gives_the_same_devices_tags_and_report(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    src = _messy_csv(tmp_path / "devices.csv", 600)
    reference, expected = _serial(tmp_path, src)

    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, src, "shop", report_file=tmp_path / "rejected.csv")

    assert len(staged) == 1 and staged[0].start > 0  # really read in two processes
    assert _summary(report) == _summary(expected)
    assert report.rejected_count > 20 and report.inserted > 100 and report.updated > 0
    assert _devices(ws) == _devices(reference)
    assert _tags(ws) == _tags(reference)
    rejected_file = (tmp_path / "rejected.csv").read_text().splitlines()
    assert len(rejected_file) == report.rejected_count + 1
    assert [int(line.split(",")[0]) for line in rejected_file[1:]] == sorted(
        r.line for r in report.rejected
    )
    assert not list(tmp_path.glob(".pushdeck-import-*")), "staging files are removed"

    # Tokens repeated in the file are updated back and forth on every run, on both paths.
    again = import_devices(ws, src, "shop")
    assert _summary(again) == _summary(_batch_import(reference, src))
    assert again.inserted == 0 and again.imported == report.imported
    assert _devices(ws) == _devices(reference)


def test_staged_import_updates_existing_devices_like_the_batch_path(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    first = _messy_csv(tmp_path / "first.csv", 400, seed=1)
    second = _messy_csv(tmp_path / "second.csv", 400, seed=2)
    reference, _ = _serial(tmp_path, first)
    expected = _batch_import(reference, second)

    ws = _workspace(tmp_path / "staged.pushdeck")
    import_devices(ws, first, "shop")
    report = import_devices(ws, second, "shop")

    assert _summary(report) == _summary(expected)
    assert _devices(ws) == _devices(reference)
    assert _tags(ws) == _tags(reference)


def test_ndjson_is_read_in_two_parts_too(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    rng = random.Random(3)
    rows = []
    for i in range(300):
        row: dict[str, Any] = {"token": f"{rng.getrandbits(64 * 4):064x}", "platform": "ios"}
        if i % 3:
            row["tags"] = ["vip"] if i % 2 else []
        if i % 5 == 0:
            row["attributes"] = {"plan": "pro", "n": i}
        if i % 17 == 0:
            row["token"] = "bad"
        rows.append(json.dumps(row))
    src = tmp_path / "devices.ndjson"
    src.write_text("\n".join(rows) + "\n{broken\n", encoding="utf-8")
    reference, expected = _serial(tmp_path, src)

    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, src, "shop")

    assert len(staged) == 1
    assert _summary(report) == _summary(expected)
    assert _devices(ws) == _devices(reference) and _tags(ws) == _tags(reference)


def test_a_split_inside_a_quoted_field_is_caught_and_one_reader_reads_on(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    # A stray quote inside an unquoted field (CSV readers keep it as text) makes the
    # quote count odd, so a split guessed from quote parity lands on the newline inside
    # the quoted field of the record placed at the middle of the file.
    stray = 'size 5"'
    prefix = "token,platform,attr.note\n" + "".join(
        f"{i:064x},ios,{stray if i == 3 else 'size 5'}\n" for i in range(200)
    )
    quoted = f'{999:064x},ios,"first half\nsecond half"\n'
    rest = "".join(f"{i:064x},ios,plain\n" for i in range(1000, 1200))
    target = 2 * (len(prefix) + 5)  # the middle falls inside the quoted record's token
    assert len(prefix) + len(quoted) + len(rest) < target
    blank_lines = "\n" * (target - len(prefix) - len(quoted) - len(rest))
    src = tmp_path / "tricky.csv"
    src.write_text(prefix + quoted + rest + blank_lines, encoding="utf-8")

    split = import_staged.find_split(src, "csv")
    assert split is not None
    with src.open("rb") as fh:
        starts = [line for line, _, _ in read_csv(fh, _Lines(fh))]
    assert split.line not in starts, "the test needs a split that is not a record boundary"

    reference, expected = _serial(tmp_path, src)
    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, src, "shop")

    assert _summary(report) == _summary(expected)
    assert report.rejected_count == 0 and report.inserted == 401
    assert _devices(ws) == _devices(reference)
    note = device_store.find_device(ws, "shop", f"{999:064x}")
    assert note is not None and note.attributes["note"] == "first half\nsecond half"


def test_cancelling_keeps_whole_batches_and_running_again_completes(
    tmp_path: Path, staged: list[import_staged.PartSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_loop, "BATCH", 10)  # this process only; the second keeps 5,000
    src = tmp_path / "many.csv"
    src.write_text(
        "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(200)), encoding="utf-8"
    )
    first = import_devices(
        ws := _workspace(tmp_path / "w.pushdeck"), src, "shop", should_cancel=lambda: True
    )
    assert first.cancelled
    kept = device_store.count_devices(ws)
    assert 10 <= kept < 200 and first.inserted == kept

    second = import_devices(ws, src, "shop")
    assert (second.inserted, second.unchanged) == (200 - kept, kept)
    assert device_store.count_devices(ws) == 200


def test_a_failing_second_reader_is_reported_and_nothing_is_imported(
    tmp_path: Path, staged: list[import_staged.PartSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _messy_csv(tmp_path / "devices.csv", 300)
    ws = _workspace(tmp_path / "w.pushdeck")
    spec = import_staged.PartSpec(
        str(tmp_path / "gone.csv"), "csv", 10, 2, None, ["token"], ",", {"token": "token"},
        None, 1, "2026-01-01T00:00:00Z", str(tmp_path / "part.sqlite"),
    )  # fmt: skip
    helper = import_staged._SecondPart(spec)
    assert helper.join(timeout=30)
    with pytest.raises(ValidationError, match=r"second half.*gone\.csv"):
        helper.result()
    helper.close()

    def broken(self: import_staged._SecondPart) -> None:
        raise ValidationError("Reading the second half failed: disk on fire")

    monkeypatch.setattr(import_staged._SecondPart, "result", broken)
    with pytest.raises(ValidationError, match="disk on fire"):
        import_devices(ws, src, "shop")
    assert device_store.count_devices(ws) == 0
    assert not list(tmp_path.glob(".pushdeck-import-*"))


def test_a_failed_merge_leaves_nothing_and_the_indexes_and_trigger_in_place(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    src = _messy_csv(tmp_path / "devices.csv", 300)
    ws = _workspace(tmp_path / "w.pushdeck")
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%'"
    schema_before = sorted(map(tuple, ws.query(schema)))
    ws.conn.execute(
        "CREATE TEMP TRIGGER fail_tags BEFORE INSERT ON main.device_tags"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
    )
    with pytest.raises(sqlite3.DatabaseError, match="disk full"):
        import_devices(ws, src, "shop")
    ws.conn.execute("DROP TRIGGER temp.fail_tags")

    assert device_store.count_devices(ws) == 0
    assert sorted(map(tuple, ws.query(schema))) == schema_before
    assert ws.scalar("SELECT count(*) FROM meta WHERE key = 'pending_indexes'") == 0
    assert import_devices(ws, src, "shop").inserted > 50  # and it simply runs again


def test_attribute_json_written_directly_matches_the_json_encoder() -> None:
    columns = ["token", "platform", "attr.b", "attr.a", "attr.c"]
    by_name = RowPlan(auto_mapping(columns))
    by_position = RowPlan(auto_mapping(columns), columns)
    values = ["12", "-3", "1.50", "true", "False", " x ", "Ana", "ünï 🎉", 'quo"te', "", "1e5"]
    for a in values:
        for b in values[:4] + values[-3:]:
            raw = {"token": "", "platform": "ios", "attr.b": b, "attr.a": a, "attr.c": "\\n\t"}
            expected = by_name._attributes_dict_json(raw)
            assert by_name._attributes_json(raw, raw.get) == expected, raw
            fields = list(raw.values())
            assert by_position._attributes_json(fields, fields.__getitem__) == expected, raw


def test_token_fast_path_agrees_with_the_full_checks() -> None:
    from pushdeck.core.devices import fields as f

    plan = RowPlan(auto_mapping(["token", "platform"]))
    fcm = "f" * 60 + ":APA91b" + "x_Y-z" * 20
    tokens = ["a1" * 32, "A1" * 32, " " + "a1" * 32, "<a1a1 " + "a1" * 30 + ">", "a1" * 32 + "a"]
    tokens += [fcm, f" {fcm} ", fcm[:50], fcm + "!", "", "   "]
    for provider, check in (("apns", f.check_apns_token), ("fcm", f.check_fcm_token)):
        for token in tokens:
            try:
                expected: object = (check(token) if token.strip() else "missing", "", "")
            except f.FieldError as exc:
                expected = exc.reason
            try:
                got: object = plan._token_fields({"token": token}, provider, {"token": token}.get)
            except f.FieldError as exc:
                got = "missing" if exc.reason == "is missing" else exc.reason
            if expected == ("missing", "", ""):
                expected = "missing"
            assert got == expected, (provider, token)


def test_without_a_second_process_one_reader_reads_the_whole_file(
    tmp_path: Path, staged: list[import_staged.PartSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(import_staged.subprocess, "Popen", no_processes)
    src = _messy_csv(tmp_path / "devices.csv", 400)
    reference, expected = _serial(tmp_path, src)
    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, src, "shop")
    assert len(staged) == 1  # tried, and fell back
    assert _summary(report) == _summary(expected)
    assert _devices(ws) == _devices(reference)


def test_too_little_disk_for_staging_is_refused_before_anything_is_read(
    tmp_path: Path, staged: list[import_staged.PartSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from pushdeck.core.common.errors import WorkspaceError

    src = _messy_csv(tmp_path / "devices.csv", 300)
    ws = _workspace(tmp_path / "w.pushdeck")
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(
        import_staged.shutil, "disk_usage", lambda _: usage._replace(free=src.stat().st_size)
    )
    with pytest.raises(WorkspaceError, match="Not enough free disk space") as caught:
        import_devices(ws, src, "shop")
    assert "MB are free" in str(caught.value) and not staged
    assert device_store.count_devices(ws) == 0


def test_a_hostile_file_read_in_two_parts_reports_exactly_what_one_reader_does(
    tmp_path: Path, staged: list[import_staged.PartSpec]
) -> None:
    good = [f"{i:064x},ios,en,Europe/Paris\n".encode() for i in range(300)]
    path = tmp_path / "hostile.csv"
    with path.open("wb") as fh:
        fh.write(b"token,platform,locale,timezone\n")
        fh.writelines(good[:100])
        fh.write(b"xyz,ios,en,Europe/Paris\n")  # bad APNs token
        fh.write(b"a" * (6 * 1024 * 1024) + b",ios,en,UTC\n")  # an over-long line
        fh.writelines(good[100:150])
        fh.write(b"short,android,en,Europe/Paris\n")  # bad FCM token
        fh.write(("ab" * 32 + ",ios,en\xe9,UTC\n").encode("latin-1"))  # not UTF-8
        fh.write(b"a" * (5 * 1024 * 1024) + b",ios,en,UTC\n")  # over-long, second half
        fh.writelines(good[150:200])
        fh.write(b"cd" * 32 + b",ios,en\n")  # a field missing
        fh.write(b'"' + b"ef" * 32 + b",ios,en,UTC\n")  # a quote never closed...
        fh.writelines(good[200:])  # ...swallows the rest: one broken record
    reference, expected = _serial(tmp_path, path)
    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, path, "shop", report_file=tmp_path / "rejected.csv")

    assert len(staged) == 1
    assert _summary(report) == _summary(expected)
    assert report.inserted == 200 and report.rejected_count == 7
    assert {r.field for r in report.rejected} >= {"token", "row"}
    assert _devices(ws) == _devices(reference)


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolon_tab_and_pipe_files_import_like_comma_files(
    tmp_path: Path, staged: list[import_staged.PartSpec], delimiter: str
) -> None:
    """Spreadsheets in comma-decimal locales save "CSV" with semicolons; .tsv uses tabs."""
    comma = _messy_csv(tmp_path / "comma.csv", 300)
    rows = list(csv.reader(comma.read_text(encoding="utf-8").splitlines(keepends=True)))
    other = tmp_path / "other.csv"
    with other.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\n").writerows(rows)
    reference, expected = _serial(tmp_path, comma)

    ws = _workspace(tmp_path / "staged.pushdeck")
    report = import_devices(ws, other, "shop")  # in two parts (the fixture)
    assert len(staged) == 1 and staged[0].delimiter == delimiter
    assert _summary(report) == {**_summary(expected), "file": str(other)}
    assert _devices(ws) == _devices(reference) and _tags(ws) == _tags(reference)

    small = _workspace(tmp_path / "small.pushdeck")
    assert _summary(_batch_import(small, other)) == _summary(report)  # one batch at a time


def test_the_delimiter_comes_from_the_header_outside_quotes() -> None:
    from pushdeck.core.devices.readers import sniff_delimiter

    assert sniff_delimiter("token,platform,tags\n") == ","
    assert sniff_delimiter("token;platform;tags\n") == ";"
    assert sniff_delimiter("token\tplatform\n") == "\t"
    assert sniff_delimiter('"a;b;c",platform\n') == ","  # semicolons inside quotes
    assert sniff_delimiter("token\n") == ","  # one column: nothing to tell, comma


# --------------------------------------------------------------------------- killed imports

_KILLED_IMPORTER = """
import sys, time
from pathlib import Path
from pushdeck.core.devices import staged_import as import_staged
from pushdeck.core.devices.importer import import_devices
from pushdeck.core.store import Workspace

import_staged.STAGED_BYTES = import_staged.PARALLEL_BYTES = 0
import os; os.umask(0o022)  # staging files are owner-only whatever the umask
ws = Workspace.open(sys.argv[1])

def progress(_):
    print("READING", flush=True)
    time.sleep(3600)  # held here, mid-import, until kill -9

import_devices(ws, Path(sys.argv[2]), "shop", progress=progress)
"""


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def _wait_for_rows(stage: Path) -> None:
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if stage.exists():
            conn = sqlite3.connect(f"file:{stage}?mode=ro", uri=True)
            try:
                if conn.execute("SELECT count(*) FROM staging").fetchone()[0] > 0:
                    return
            except sqlite3.Error:
                pass  # not created yet
            finally:
                conn.close()
        time.sleep(0.02)
    pytest.fail("the second reader never staged a row")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_a_killed_import_ends_its_helper_and_the_next_import_removes_its_staging_folder(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "w.pushdeck"
    _workspace(path).close()
    src = tmp_path / "big.csv"  # each half takes the helper seconds to read
    src.write_text(
        "token,platform\n" + "".join(f"{i:064x},ios\n" for i in range(600_000)), encoding="utf-8"
    )
    script = tmp_path / "importer.py"
    script.write_text(_KILLED_IMPORTER, encoding="utf-8")
    importer = subprocess.Popen(
        [sys.executable, str(script), str(path), str(src)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert importer.stdout is not None
        assert importer.stdout.readline().strip() == "READING"
        (helper,) = _children(importer.pid)
        (folder,) = tmp_path.glob(".pushdeck-import-*")
        _wait_for_rows(folder / "part1.sqlite")  # the helper is reading its half
        assert _alive(helper)
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in folder.iterdir()}
        assert {"part0.sqlite", "part1.sqlite", "part1.sqlite.log", "owner.lock"} <= set(modes)
        assert modes == dict.fromkeys(modes, "0o600") and folder.stat().st_mode & 0o777 == 0o700
    finally:
        importer.kill()  # kill -9, mid-import
        importer.wait()

    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(helper):
        os.kill(helper, signal.SIGKILL)
        pytest.fail("the second reader outlived the importing process")
    conn = sqlite3.connect(folder / "part1.sqlite")  # it stopped, it did not read on to the end
    assert conn.execute("SELECT count(*) FROM result").fetchone()[0] == 0
    conn.close()
    assert folder.exists()  # nothing ran since to clean it

    small = tmp_path / "small.csv"
    small.write_text("token,platform\n" + f"{1:064x},ios\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pushdeck", "--workspace", str(path), "devices", "import",
         str(small), "--app", "shop"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not folder.exists() and not list(tmp_path.glob(".pushdeck-import-*"))
    with Workspace.open(path) as ws:
        assert device_store.count_devices(ws) == 1  # the killed import changed nothing


def test_a_staging_folder_in_use_is_never_removed_and_one_whose_owner_died_is(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from pushdeck.core.common import paths

    with paths.scratch_dir(tmp_path) as mine:  # in use by this very process
        assert paths.remove_abandoned_scratch_dirs(tmp_path) == []
        assert mine.path.exists()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from pushdeck.core.common import paths\n"
            "with paths.scratch_dir(Path(sys.argv[1])) as s:\n"
            "    print(s.path, flush=True); time.sleep(3600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    theirs = Path(holder.stdout.readline().strip())
    try:
        assert paths.remove_abandoned_scratch_dirs(tmp_path) == []
        assert theirs.exists()
    finally:
        holder.kill()
        holder.wait()
    assert paths.remove_abandoned_scratch_dirs(tmp_path) == [theirs]
    assert not theirs.exists()
