"""The row loop both import paths share: parsed rows in, validated batches out.

``importer`` upserts each batch straight into the workspace; ``import_staged`` (large
files) appends each batch to a staging file and merges them at the end. Both count rows
and reject bad ones the same way, so a file gives the same report on either path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushdeck.core.common.csv_cells import safe_writer
from pushdeck.core.common.errors import ValidationError
from pushdeck.core.common.paths import open_private
from pushdeck.core.devices import fields as f
from pushdeck.core.devices.rows import Row, RowPlan, auto_mapping

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
    #: "reading" while rows are read and checked; "saving" while a large file's rows
    #: are merged into the workspace (bytes_read is then total_bytes).
    phase: str = "reading"


class RejectWriter:
    """Keeps the first rejected rows in memory and streams all of them to a CSV report."""

    def __init__(self, report: ImportReport, path: Path | None) -> None:
        self.report = report
        self.fh = open_private(path, newline="", encoding="utf-8") if path else None
        self.csv = safe_writer(self.fh) if self.fh else None
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


@dataclass
class RowLoop:
    """Validates parsed rows into records for ``app_id`` and hands them over in batches.

    ``resolved`` is the CSV column mapping (resolved once from the header); JSON rows
    may differ in keys, so they get a plan per key set from the ``override`` mapping.
    """

    fmt: str
    app_id: int
    now: str
    override: Mapping[str, str] | None
    reject: Callable[[Rejected], None]
    flush: Callable[[list[dict[str, Any]]], None]
    resolved: dict[str, str] | None = None
    #: Where the first row's unused columns are recorded (the part that starts the file).
    columns_report: ImportReport | None = None
    #: The CSV header: CSV rows are lists of fields in this order (JSON rows are dicts).
    columns: list[str] | None = None
    rows: int = 0
    _plans: dict[tuple[str, ...], RowPlan] = field(default_factory=dict)

    def run(
        self,
        parsed: Iterable[tuple[int, Row | None, str]],
        after_batch: Callable[[], bool],
    ) -> bool:
        """Read every row; return True when ``after_batch`` asked to stop early."""
        batch: list[dict[str, Any]] = []
        plan: RowPlan | None = None
        for line, raw, problem in parsed:
            self.rows += 1
            if raw is None:
                self.reject(Rejected(line, "row", problem))
                continue
            if self.resolved is None:
                self.resolved = resolve_mapping(
                    self.columns or list(raw), self.override, self.columns_report
                )
            if plan is None or self.fmt != "csv":  # JSON rows may differ in keys
                plan = self._plan_for(raw)
            try:
                record = plan.record(raw)
            except f.FieldError as exc:
                self.reject(Rejected(line, exc.field, exc.reason))
                continue
            record["app_id"] = self.app_id
            record["created_at"] = record["created_at"] or self.now
            batch.append(record)
            if len(batch) >= BATCH:
                self.flush(batch)
                batch = []
                if after_batch():
                    return True
        if batch:
            self.flush(batch)
        return False

    def _plan_for(self, raw: Row) -> RowPlan:
        assert self.resolved is not None
        if self.fmt == "csv":
            return RowPlan(self.resolved, self.columns)
        keys = tuple(raw)
        if keys not in self._plans:
            self._plans[keys] = RowPlan({**auto_mapping(list(keys)), **(self.override or {})})
        return self._plans[keys]


def resolve_mapping(
    columns: list[str], override: Mapping[str, str] | None, report: ImportReport | None
) -> dict[str, str]:
    """Header names → device fields (``override`` wins), or a clear error for the user."""
    mapping = auto_mapping(columns)
    mapping.update(override or {})
    missing = [c for k, c in (override or {}).items() if c not in columns and k in mapping]
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
    if report is not None:
        used = set(mapping.values())
        report.ignored_columns = [c for c in columns if c not in used]
    return mapping
