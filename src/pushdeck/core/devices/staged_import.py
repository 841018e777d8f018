"""Large device files: read in two parts side by side, stage, merge in token order.

Why (1,000,000 devices, ``bench/README.md``): upserting 5,000-row batches put every row
at a random place of the (app, token) index, and committing each batch rewrote
thousands of index pages: 50–60 s, most of it SQLite. Reading and checking a row costs
10–13 µs of Python, and the machine has two cores. So a large file is

1. split near its middle, at a line start (for CSV, one with an even number of quote
   characters before it, since a quoted field may hold a newline);
2. read as two parts at once, this process taking the first and a second Python process the
   second. Each validates its rows exactly as a small import does (``RowLoop``) and
   appends them, and its rejected rows, to its own staging SQLite file: no indexes, no
   journal, nothing but appends. The first part ends at the split only if a record
   ends there; if a record runs across it (quoting the guess misread), the second
   part is discarded and the first reads on to the end of the file;
3. merged: one transaction upserts every staged row in token order
   (``devices.upsert_from_staging``), so the unique index grows by appends; when the
   file is at least as large as the table, the secondary indexes are rebuilt after.

On a PostgreSQL workspace the staging folder is in the user's cache folder; this process
sends the first part's rows to the server by COPY as it reads them, the second reader
writes its rows to a plain rows file (``staging.RowFile``: no SQLite for rows that only
pass through) which follows once both are read, and step 3 merges them there in one
transaction (``store/pg_copy.py``), with the same counts as SQLite's merge.

An interrupted import changes nothing (staging files are temporary and the merge is one
transaction); a cancelled one merges the whole batches staged so far. Either way,
running it again completes it. A JSON array is one value, so it is read in one part.
A process killed mid-import leaves its staging folder behind: the folder stays locked
while its owner or the owner's second reader lives (``paths.scratch_dir``), the second
reader ends when its parent does (its stdin reaches end of file), and the next import or
workspace open removes folders whose lock is free.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pushdeck.core.common.errors import ValidationError, WorkspaceError, is_disk_full
from pushdeck.core.common.paths import (
    ScratchDir,
    cache_dir,
    create_private_file,
    open_private,
    remove_abandoned_scratch_dirs,
    scratch_dir,
)
from pushdeck.core.devices.import_loop import (
    ImportReport,
    Progress,
    Rejected,
    RejectWriter,
    RowLoop,
    resolve_mapping,
)
from pushdeck.core.devices.readers import CsvRows, open_rows
from pushdeck.core.store import devices as device_store
from pushdeck.core.store import pg_bulk, pg_copy, staging
from pushdeck.core.store.workspace import DatabaseError, Workspace, utcnow

#: Files this large (about 50,000 devices) take the staged path.
STAGED_BYTES = 8_000_000
#: ...and from this size on, a second process reads half (it costs ~0.3 s to start).
PARALLEL_BYTES = 32_000_000
#: How far past the middle to look for a place to split.
SPLIT_WINDOW = 1 << 20


@dataclass(frozen=True)
class PartSpec:
    """Everything one part needs; picklable, so it can go to a spawned process."""

    path: str
    fmt: str
    start: int  # byte offset of the part's first line
    first_line: int  # that line's number in the file
    stop_line: int | None  # the part ends before the record starting on this line
    columns: list[str] | None  # the CSV header, for a part that starts after it
    delimiter: str  # the CSV field separator, as the header showed it
    resolved: dict[str, str] | None  # the CSV mapping, resolved once from the header
    override: dict[str, str] | None  # the user's mapping (JSON rows resolve per key set)
    app_id: int
    now: str
    stage: str  # the staging SQLite file this part writes
    rows_file: str | None = None  # PostgreSQL: where its rows go instead (staging.RowFile)


@dataclass(frozen=True)
class PartResult:
    rows: int
    crossed: bool  # a record ran across stop_line: the split was not a boundary
    cancelled: bool


@dataclass(frozen=True)
class Split:
    offset: int
    line: int


def import_large(
    ws: Workspace,
    path: Path,
    fmt: str,
    app_id: int,
    override: Mapping[str, str] | None,
    report: ImportReport,
    writer: RejectWriter,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> ImportReport:
    """Import a large file by the staged path described in the module docstring."""
    try:
        return _import_large(
            ws, path, fmt, app_id, override, report, writer, progress, should_cancel
        )
    except (OSError, DatabaseError, ValidationError) as exc:
        if not is_disk_full(exc):
            raise
        raise WorkspaceError(
            f"The disk holding {ws.path or cache_dir()} is full: nothing of {path.name} was "
            "saved (a large file is saved in one step, once all of it is read).",
            hint="Free some space on that disk and run the import again: beside the devices "
            f"themselves it needs about {path.stat().st_size * STAGING_PER_BYTE / 1e6:,.0f} MB "
            "for temporary files.",
        ) from exc


def _import_large(
    ws: Workspace,
    path: Path,
    fmt: str,
    app_id: int,
    override: Mapping[str, str] | None,
    report: ImportReport,
    writer: RejectWriter,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> ImportReport:
    total = path.stat().st_size
    columns, delimiter = csv_header(path) if fmt == "csv" else (None, ",")
    resolved = resolve_mapping(columns, override, report) if columns is not None else None
    split = (
        find_split(path, fmt)
        if fmt != "json" and total >= PARALLEL_BYTES and can_read_in_parallel()
        else None
    )
    now = utcnow()
    parent = scratch_parent(ws)
    remove_abandoned_scratch_dirs(parent)  # a killed import's folder frees space
    _check_free_space(parent, total)
    with scratch_dir(parent) as scratch:
        tmp = scratch.path

        def spec(index: int, start: int, first_line: int, stop: int | None) -> PartSpec:
            return PartSpec(
                str(path),
                fmt,
                start,
                first_line,
                stop,
                None if index == 0 else columns,
                delimiter,
                resolved if (index == 0 or fmt == "csv") else {},  # {}: no first-row check
                dict(override) if override else None,
                app_id,
                now,
                str(tmp / f"part{index}.sqlite"),
            )

        first = spec(0, 0, 1, split.line if split else None)
        second = spec(1, split.offset, split.line, None) if split else None
        if not ws.is_file:
            if second is not None:
                second = replace(second, rows_file=str(tmp / "part1.rows"))
            return _import_into_postgres(
                ws, first, second, scratch, total, report, writer, progress, should_cancel
            )
        stages, rows, cancelled = _read_parts(
            first, second, scratch, total, report, progress, should_cancel
        )
        report.rows = rows
        report.cancelled = cancelled
        with staging.attached(ws, stages) as schemas:
            for schema in schemas:
                for line, field, reason in staging.rejects(ws, schema):
                    writer.add(Rejected(line, field, reason))
            staged = staging.staged_count(ws, schemas)
            if progress:
                progress(Progress(rows, total, total, phase="saving"))
            # Rebuilding indexes costs time in proportion to the whole table: only worth
            # it when this file is at least as large as what is already there.
            bulk = staged >= device_store.count_devices(ws) and staged > 0
            with device_store.bulk_load(ws) if bulk else nullcontext():
                inserted, updated = device_store.upsert_from_staging(ws, schemas)
    report.inserted, report.updated = inserted, updated
    report.unchanged = staged - inserted - updated
    return report


def scratch_parent(ws: Workspace) -> Path:
    """Where the staging folder goes: beside a workspace file, else the user's cache."""
    if ws.is_file:
        return ws.file.parent
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _import_into_postgres(
    ws: Workspace,
    first: PartSpec,
    second: PartSpec | None,
    scratch: ScratchDir,
    total: int,
    report: ImportReport,
    writer: RejectWriter,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> ImportReport:
    """Read the parts into the server's staging table and merge it (``store/pg_copy.py``).

    This process sends the first part's rows by COPY as it reads them; the second
    part's rows file follows once both are read. Nothing reaches the devices until
    the merge, so an import that fails or is killed while reading leaves them as they
    were.
    """
    before = device_store.count_devices(ws)
    pg_copy.start(ws)
    dropped: list[str] = []
    try:
        with pg_copy.Copier(ws) as copier:
            stages, report.rows, report.cancelled = _read_parts(
                first, second, scratch, total, report, progress, should_cancel, copier
            )
            for stage in stages:
                for line, field, reason in pg_copy.stage_rejects(Path(stage)):
                    writer.add(Rejected(line, field, reason))
            if progress:
                progress(Progress(report.rows, total, total, phase="saving"))
            if len(stages) > 1 and second is not None and second.rows_file:
                copier.add_row_file(Path(second.rows_file))
        staged = copier.copied
        # As on SQLite: rebuilding indexes costs time in proportion to the whole table,
        # so only a file at least as large as what is there merges without them.
        if staged and staged >= before:
            dropped = pg_bulk.drop_secondary_indexes(ws)
        inserted, updated = pg_copy.merge(ws) if staged else (0, 0)
    finally:
        pg_copy.finish(ws)
        pg_bulk.rebuild(ws, dropped)
    # A load as large as what was there changes the columns' statistics: refresh them.
    if staged and staged >= before:
        pg_copy.analyze(ws)
    report.inserted, report.updated = inserted, updated
    report.unchanged = staged - inserted - updated
    return report


#: Staging files take about 1.6 times the CSV's size (measured at 1,000,000 devices).
STAGING_PER_BYTE = 1.6


def _check_free_space(folder: Path, file_bytes: int) -> None:
    """Refuse up front, rather than fail half-way, when the staging files cannot fit."""
    needed = int(file_bytes * STAGING_PER_BYTE)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise WorkspaceError(
            f"Not enough free disk space in {folder} to import this file: it needs about "
            f"{needed / 1e6:,.0f} MB for temporary files and {free / 1e6:,.0f} MB are free.",
            hint="Free some space on that disk, or import the file in smaller pieces.",
        )


def _read_parts(
    first: PartSpec,
    second: PartSpec | None,
    scratch: ScratchDir,
    total: int,
    report: ImportReport,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
    copier: pg_copy.Copier | None = None,
) -> tuple[list[str], int, bool]:
    """Read both parts at once; return the staging files to merge, rows read, cancelled.

    With a ``copier``, the first part's rows go to it instead of to its staging file.
    """
    helper = None
    if second is not None:
        try:
            helper = _SecondPart(second, scratch)
        except OSError:  # no second process to be had: this one reads the whole file
            first = replace(first, stop_line=None)
    cancel_requested = False

    def stop() -> bool:
        nonlocal cancel_requested
        if should_cancel and should_cancel():
            cancel_requested = True
            if helper:
                helper.cancel()
        return cancel_requested

    def advance(rows: int, nbytes: int) -> None:
        if progress:
            extra_rows, extra_bytes = helper.done() if helper else (0, 0)
            progress(Progress(rows + extra_rows, nbytes + extra_bytes, total))

    try:
        head = read_part(first, stop, advance, columns_report=report, copier=copier)
        if helper is None:
            return [first.stage], head.rows, head.cancelled
        if head.crossed:
            helper.cancel()
            helper.join()
            return [first.stage], head.rows, head.cancelled
        while not helper.join(timeout=0.2):
            stop()
            advance(head.rows, helper.spec.start)
        tail = helper.result()
        return [first.stage, helper.spec.stage], head.rows + tail.rows, cancel_requested
    finally:
        if helper:
            helper.close()


def read_part(
    spec: PartSpec,
    stop: Callable[[], bool],
    advance: Callable[[int, int], None],
    *,
    columns_report: ImportReport | None = None,
    copier: pg_copy.Copier | None = None,
) -> PartResult:
    """Read, check and stage the rows of one part of the file (to ``copier``, if given)."""
    stage = Stage(Path(spec.stage), copier, spec.rows_file)
    try:
        with open(spec.path, "rb") as fh:
            fh.seek(spec.start)
            source = open_rows(
                fh,
                spec.fmt,
                first_line=spec.first_line,
                columns=spec.columns,
                delimiter=None if spec.columns is None else spec.delimiter,
                stop_line=spec.stop_line,
            )
            loop = RowLoop(
                spec.fmt,
                spec.app_id,
                spec.now,
                spec.override,
                reject=stage.reject,
                flush=stage.add,
                resolved=spec.resolved,
                columns_report=columns_report,
                columns=source.columns,
            )

            def after_batch() -> bool:
                advance(loop.rows, source.bytes_read)
                return stop()

            cancelled = loop.run(source.rows, after_batch)
            advance(loop.rows, source.bytes_read)
        result = PartResult(loop.rows, source.crossed_stop, cancelled)
        stage.finish(result)
        return result
    finally:
        stage.close()


class Stage:
    """One part's staging file: validated rows, rejected rows, and how the part ended.

    On PostgreSQL the validated rows go elsewhere: to the server (``copier``, the first
    part, in this process) or to a rows file (``rows_file``, the second part) that this
    process sends on once both parts are read.
    """

    def __init__(
        self, path: Path, copier: pg_copy.Copier | None = None, rows_file: str | None = None
    ) -> None:
        create_private_file(path)  # owner-only before SQLite writes a row to it
        self.file = staging.StagingFile(path)
        self.copier = copier
        self.rows: staging.RowFile | None = None
        if rows_file is not None:
            create_private_file(Path(rows_file))
            self.rows = staging.RowFile(Path(rows_file))
        self.rejected: list[tuple[int, str, str]] = []

    def reject(self, rejected: Rejected) -> None:
        self.rejected.append((rejected.line, rejected.field, rejected.reason))
        if len(self.rejected) >= 1000:
            self._flush_rejects()

    def add(self, batch: list[dict[str, Any]]) -> None:
        if self.copier is not None:
            self.copier.add(device_store.staging_rows(batch))
            batch = []
        elif self.rows is not None:
            self.rows.add(device_store.staging_rows(batch))
            batch = []
        self.file.add(batch, self.rejected)
        self.rejected.clear()

    def _flush_rejects(self) -> None:
        self.file.add_rejects(self.rejected)
        self.rejected.clear()

    def finish(self, result: PartResult) -> None:
        self._flush_rejects()
        self.file.finish(result.rows, result.crossed, result.cancelled)

    def close(self) -> None:
        self.file.close()
        if self.rows is not None:
            self.rows.close()


def part_main() -> None:
    """Entry point of the process that reads the second part (see ``_SecondPart``).

    The spec comes as JSON in argv; progress goes to stdout as "rows bytes" lines; the
    parent asks it to stop by creating the ``.cancel`` file next to the staging file.
    Its stdin is a pipe the parent never writes to: end of file means the parent is gone
    (killed, crashed), and so this process ends too instead of reading on for nobody.
    """
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    spec = PartSpec(**json.loads(sys.argv[1]))
    cancel_file = Path(spec.stage + ".cancel")

    def advance(done_rows: int, done_bytes: int) -> None:
        sys.stdout.write(f"{done_rows} {done_bytes}\n")
        sys.stdout.flush()

    try:
        read_part(spec, cancel_file.exists, advance)
    except Exception as exc:  # noqa: BLE001 - process boundary: the merging side reports it
        record_failure(Path(spec.stage), exc)
        raise SystemExit(1) from None


def _exit_with_parent() -> None:
    # os.read, not sys.stdin: a daemon thread inside a buffered reader's lock makes the
    # interpreter's shutdown abort ("could not acquire lock ... at interpreter shutdown").
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    os._exit(3)  # not SystemExit: the main thread may be anywhere; the folder is cleaned


#: How a second reader reports that the disk filled up (its error_kind).
DISK_FULL = "DiskFull"


def record_failure(stage: Path, exc: BaseException) -> None:
    """Leave the reason a part failed in its staging file, for the process that merges."""
    message = str(exc) if isinstance(exc, ValidationError) else traceback.format_exc()
    kind = DISK_FULL if is_disk_full(exc) else type(exc).__name__
    staging.record_failure(stage, message, kind)


def can_read_in_parallel() -> bool:
    """A second Python process can be started (not inside a frozen, bundled app)."""
    return (os.cpu_count() or 1) > 1 and not getattr(sys, "frozen", False)


class _SecondPart:
    """A second Python process reading the second part.

    A plain subprocess rather than ``multiprocessing``: spawn would re-run the caller's
    main module (breaking scripts without a ``__main__`` guard), and fork is unsafe in
    a process with Qt's threads.
    """

    def __init__(self, spec: PartSpec, scratch: ScratchDir | None = None) -> None:
        self.spec = spec
        self.cancel_file = Path(spec.stage + ".cancel")
        self.log = Path(spec.stage + ".log")
        self.rows = self.nbytes = 0
        package_root = str(Path(__file__).resolve().parents[2])
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(
                p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        # The helper inherits the scratch folder's lock, so the folder counts as in use
        # for as long as either process lives.
        inherit = (scratch.lock_fd,) if scratch is not None and os.name == "posix" else ()
        with open_private(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    "from pushdeck.core.devices.staged_import import part_main; part_main()",
                    json.dumps(asdict(spec)),
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.PIPE,  # never written: its end of file tells of our death
                env=env,
                text=True,
                pass_fds=inherit,
            )
        self._reader = threading.Thread(target=self._read_progress, daemon=True)
        self._reader.start()

    def _read_progress(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            rows, _, nbytes = line.partition(" ")
            self.rows, self.nbytes = int(rows), int(nbytes)

    def cancel(self) -> None:
        self.cancel_file.touch()

    def done(self) -> tuple[int, int]:
        return self.rows, self.nbytes

    def join(self, timeout: float | None = None) -> bool:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        self._reader.join()
        return True

    def result(self) -> PartResult:
        row = staging.read_result(self.spec.stage)
        if row is None or self.process.returncode != 0:
            detail = row[3] if row and row[3] else self._log_tail()
            if row and row[4] == "ValidationError":
                raise ValidationError(detail)
            if (row and row[4] == DISK_FULL) or "database or disk is full" in detail:
                raise OSError(errno.ENOSPC, "No space left on device", self.spec.stage)
            raise ValidationError(
                f"Reading the second half of {self.spec.path} failed: {detail}",
                hint="Run the import again; if it fails again, report it with this message.",
            )
        return PartResult(row[0], bool(row[1]), bool(row[2]))

    def _log_tail(self) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").strip()
        return text[-2000:] or f"exit code {self.process.returncode}"

    def close(self) -> None:
        if self.process.returncode is None:
            self.cancel()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe:
                pipe.close()


def csv_header(path: Path) -> tuple[list[str], str]:
    """The columns and field delimiter of a CSV file (the same checks as a full read)."""
    with path.open("rb") as fh:
        rows = CsvRows(fh)
        return rows.columns, rows.delimiter


def find_split(path: Path, fmt: str) -> Split | None:
    """A line start near the middle of the file where a second reader can begin."""
    size = path.stat().st_size
    middle = size // 2
    quotes = newlines = 0
    with path.open("rb") as fh:
        while fh.tell() < middle:
            chunk = fh.read(min(SPLIT_WINDOW, middle - fh.tell()))
            quotes += chunk.count(b'"')
            newlines += chunk.count(b"\n")
        window = fh.read(SPLIT_WINDOW)
    position = 0
    while (found := window.find(b"\n", position)) != -1:
        quotes += window.count(b'"', position, found)
        newlines += 1
        position = found + 1
        if fmt != "csv" or quotes % 2 == 0:
            offset = middle + position
            return Split(offset, newlines + 1) if offset < size else None
    return None
