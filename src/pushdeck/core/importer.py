"""Device import: map columns, validate every row, upsert in whole batches.

Re-importing the same file changes nothing (upsert by app + token, with an update
only when a value differs). Rejected rows go to the report with line, field and
reason, and the rest is imported. Each batch is one transaction, so an interrupted
import leaves whole batches or nothing, and running it again completes it.

Files of ``import_staged.STAGED_BYTES`` or more take the staged path (read in parallel
parts, merged in token order in one transaction); smaller ones upsert batch by batch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pushdeck.core import import_staged
from pushdeck.core.errors import ValidationError
from pushdeck.core.import_loop import ImportReport, Progress, Rejected, RejectWriter, RowLoop
from pushdeck.core.import_readers import detect_format, open_rows
from pushdeck.core.import_rows import ALIASES, auto_mapping, parse_mapping
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
    fmt = fmt or detect_format(path)
    report = ImportReport(str(path))
    writer = RejectWriter(report, report_file)
    try:
        if path.stat().st_size >= import_staged.STAGED_BYTES:
            return import_staged.import_large(
                ws, path, fmt, app_id, mapping, report, writer, progress, should_cancel
            )
        return _import(ws, path, fmt, app_id, mapping, report, writer, progress, should_cancel)
    finally:
        writer.close()


def _import(
    ws: Workspace,
    path: Path,
    fmt: str,
    app_id: int,
    mapping: Mapping[str, str] | None,
    report: ImportReport,
    writer: RejectWriter,
    progress: Callable[[Progress], None] | None,
    should_cancel: Callable[[], bool] | None,
) -> ImportReport:
    """Upsert batch by batch: each batch is one transaction."""
    total = path.stat().st_size
    with path.open("rb") as fh:
        source = open_rows(fh, fmt)
        loop = RowLoop(
            fmt,
            app_id,
            utcnow(),
            mapping,
            reject=writer.add,
            flush=lambda batch: _flush(ws, batch, report),
            columns_report=report,
            columns=source.columns,
        )

        def after_batch() -> bool:
            report.rows = loop.rows
            if progress:
                progress(Progress(report.rows, source.bytes_read, total))
            return bool(should_cancel and should_cancel())

        report.cancelled = loop.run(source.rows, after_batch)
    report.rows = loop.rows
    if progress and not report.cancelled:
        progress(Progress(report.rows, total, total))
    return report


def _flush(ws: Workspace, batch: list[dict[str, Any]], report: ImportReport) -> None:
    inserted, updated = device_store.upsert_devices(ws, batch)
    report.inserted += inserted
    report.updated += updated
    report.unchanged += len(batch) - inserted - updated
