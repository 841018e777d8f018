"""Device import: map columns, validate every row, upsert in whole batches.

Re-importing the same file changes nothing (upsert by app + token, with an update
only when a value differs). Rejected rows go to the report with line, field and
reason, and the rest is imported. Each batch is one transaction, so an interrupted
import leaves whole batches or nothing, and running it again completes it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pushdeck.core import device_fields as f
from pushdeck.core.errors import ValidationError
from pushdeck.core.import_readers import (
    CountingReader,
    _Lines,
    detect_format,
    read_csv,
    read_json_array,
    read_ndjson,
)
from pushdeck.core.import_rows import ALIASES, RowPlan, auto_mapping, parse_mapping
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import Workspace, utcnow

__all__ = [
    "ALIASES",
    "ImportReport",
    "Progress",
    "Rejected",
    "auto_mapping",
    "import_devices",
    "parse_mapping",
]

BATCH = 5000
REPORT_KEEP = 1000  # rejected rows kept in memory; all of them go to the report file


@dataclass(frozen=True)
class Rejected:
    line: int
    field: str
    reason: str


@dataclass
class ImportReport:
    path: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_count: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    cancelled: bool = False

    @property
    def imported(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.path,
            "rows": self.rows,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected_count,
            "ignored_columns": self.ignored_columns,
            "cancelled": self.cancelled,
        }


@dataclass(frozen=True)
class Progress:
    rows: int
    bytes_read: int
    total_bytes: int


class _Source:
    """Opens a device file and yields parsed rows, tracking bytes read for progress."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.fmt = fmt
        self.total = path.stat().st_size
        self._lines: _Lines | None = None
        self._counter: CountingReader | None = None

    @property
    def bytes_read(self) -> int:
        if self._lines is not None:
            return self._lines.bytes_read
        return self._counter.bytes_read if self._counter is not None else 0

    def rows(self, fh: IO[bytes]) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
        if self.fmt == "json":
            self._counter = CountingReader(fh)
            return read_json_array(self._counter)
        self._lines = _Lines(fh)
        if self.fmt == "csv":
            return read_csv(fh, self._lines)
        return read_ndjson(fh, self._lines)


def import_devices(
    ws: Workspace,
    path: Path,
    app: str,
    *,
    mapping: Mapping[str, str] | None = None,
    fmt: str | None = None,
    report_file: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> ImportReport:
    """Import ``path`` into ``app``; see the module docstring for the guarantees."""
    app_id = get_app(ws, app).id
    assert app_id is not None
    if not path.is_file():
        raise ValidationError(f"{path} does not exist or is not a file.")
    source = _Source(path, fmt or detect_format(path))
    report = ImportReport(str(path))
    writer = _RejectWriter(report, report_file)
    with _maybe_bulk(ws, source.total):
        return _import(ws, source, app_id, mapping, report, writer, progress, should_cancel)


#: Files larger than this (about 50,000 devices) load with indexes rebuilt at the end.
BULK_BYTES = 8_000_000


@contextmanager
def _maybe_bulk(ws: Workspace, size: int) -> Iterator[None]:
    existing = device_store.count_devices(ws) if size >= BULK_BYTES else 0
    # Rebuilding costs time proportional to the whole table: only worth it when this
    # file is at least as large as what is already there.
    if size >= BULK_BYTES and size // 170 >= existing:
        with device_store.bulk_load(ws):
            yield
    else:
        yield


def _import(
    ws: Workspace,
    source: _Source,
    app_id: int,
    mapping: Mapping[str, str] | None,
    report: ImportReport,
    writer: _RejectWriter,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> ImportReport:
    path = source.path
    batch: list[dict[str, Any]] = []
    resolved: dict[str, str] | None = None
    plan: RowPlan | None = None
    plans: dict[tuple[str, ...], RowPlan] = {}
    now = utcnow()
    try:
        with path.open("rb") as fh:
            for line, raw, problem in source.rows(fh):
                report.rows += 1
                if raw is None:
                    writer.add(Rejected(line, "row", problem))
                    continue
                if resolved is None:
                    resolved = _resolve_mapping(raw, mapping, report)
                if plan is None or source.fmt != "csv":  # JSON rows may differ in keys
                    plan = _plan_for(raw, resolved, mapping, source.fmt, plans)
                try:
                    record = plan.record(raw)
                except f.FieldError as exc:
                    writer.add(Rejected(line, exc.field, exc.reason))
                    continue
                record["app_id"] = app_id
                record["created_at"] = record["created_at"] or now
                batch.append(record)
                if len(batch) >= BATCH:
                    _flush(ws, batch, report)
                    if progress:
                        progress(Progress(report.rows, source.bytes_read, source.total))
                    if should_cancel and should_cancel():
                        report.cancelled = True
                        return report
            _flush(ws, batch, report)
    finally:
        writer.close()
    if progress:
        progress(Progress(report.rows, source.total, source.total))
    return report


def _plan_for(
    raw: Mapping[str, Any],
    resolved: dict[str, str],
    override: Mapping[str, str] | None,
    fmt: str,
    cache: dict[tuple[str, ...], RowPlan],
) -> RowPlan:
    if fmt == "csv":
        return RowPlan(resolved)
    keys = tuple(raw)
    if keys not in cache:
        cache[keys] = RowPlan({**auto_mapping(list(keys)), **(override or {})})
    return cache[keys]


def _resolve_mapping(
    first: Mapping[str, Any], override: Mapping[str, str] | None, report: ImportReport
) -> dict[str, str]:
    columns = list(first)
    mapping = auto_mapping(columns)
    mapping.update(override or {})
    missing = [c for k, c in (override or {}).items() if c not in first and k in mapping]
    if missing:
        raise ValidationError(
            f"The mapping names columns the file does not have: {', '.join(missing)}.",
            hint=f"Columns in the file: {', '.join(columns)}.",
        )
    if not {"token", "subscription", "endpoint"} & mapping.keys():
        raise ValidationError(
            "The file has no token column (nor subscription / endpoint for web).",
            hint=f"Columns found: {', '.join(columns)}. Name one 'token', or pass "
            "--map token=COLUMN.",
        )
    used = set(mapping.values())
    report.ignored_columns = [c for c in columns if c not in used]
    return mapping


def _flush(ws: Workspace, batch: list[dict[str, Any]], report: ImportReport) -> None:
    if not batch:
        return
    inserted, updated = device_store.upsert_devices(ws, batch)
    report.inserted += inserted
    report.updated += updated
    report.unchanged += len(batch) - inserted - updated
    batch.clear()


class _RejectWriter:
    """Keeps the first rejected rows in memory and streams all of them to a CSV report."""

    def __init__(self, report: ImportReport, path: Path | None) -> None:
        self.report = report
        self.fh = path.open("w", newline="", encoding="utf-8") if path else None
        self.csv = csv.writer(self.fh) if self.fh else None
        if self.csv:
            self.csv.writerow(["line", "field", "reason"])

    def add(self, rejected: Rejected) -> None:
        self.report.rejected_count += 1
        if len(self.report.rejected) < REPORT_KEEP:
            self.report.rejected.append(rejected)
        if self.csv:
            self.csv.writerow([rejected.line, rejected.field, rejected.reason])

    def close(self) -> None:
        if self.fh:
            self.fh.close()
