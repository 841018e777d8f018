"""Device import: map columns, validate every row, upsert in whole batches.

Re-importing the same file changes nothing (upsert by app + token, with an update
only when a value differs). Rejected rows go to the report with line, field and
reason, and the rest is imported. Each batch is one transaction, so an interrupted
import leaves whole batches or nothing, and running it again completes it.

Files of ``import_staged.STAGED_BYTES`` or more take the staged path (read in parallel
parts, merged in token order in one transaction); smaller ones upsert batch by batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pushdeck.core.common.errors import ValidationError, WorkspaceError, is_disk_full
from pushdeck.core.devices import staged_import as import_staged
from pushdeck.core.devices.import_loop import (
    ImportReport,
    Progress,
    Rejected,
    RejectWriter,
    RowLoop,
)
from pushdeck.core.devices.readers import detect_format, open_rows
from pushdeck.core.devices.rows import ALIASES, auto_mapping, parse_mapping
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import DatabaseError, Workspace, utcnow

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
    ws.refuse_own_file(path, "import devices from")
    if report_file is not None:
        ws.refuse_own_file(report_file, "write rejected rows to")
    fmt = fmt or detect_format(path)
    report = ImportReport(str(path))
    writer = RejectWriter(report, report_file)
    try:
        # Large files take the staged path on both backends (on PostgreSQL its rows go to
        # the server by COPY and merge there: store/pg_copy.py).
        if path.stat().st_size >= import_staged.STAGED_BYTES:
            import_staged.import_large(
                ws, path, fmt, app_id, mapping, report, writer, progress, should_cancel
            )
        else:
            _import(ws, path, fmt, app_id, mapping, report, writer, progress, should_cancel)
    except BaseException:
        with contextlib.suppress(OSError):  # never bury the real error under this one
            writer.close()
        raise
    try:
        writer.close()
    except OSError as exc:
        if not is_disk_full(exc):
            raise
        raise WorkspaceError(
            f"The disk holding {report_file} is full: the devices were imported, but that "
            "rejected-rows file is incomplete.",
            hint="Free some space on that disk and run the same import again to write it "
            "whole (the devices already imported stay as they are).",
        ) from exc
    return report


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
    saved_rows = 0  # rows of the file read when the last batch was committed

    def flush(batch: list[dict[str, Any]]) -> None:
        nonlocal saved_rows
        _flush(ws, batch, report)
        saved_rows = loop.rows

    with path.open("rb") as fh:
        source = open_rows(fh, fmt)
        loop = RowLoop(
            fmt,
            app_id,
            utcnow(),
            mapping,
            reject=writer.add,
            flush=flush,
            columns_report=report,
            columns=source.columns,
        )

        def after_batch() -> bool:
            report.rows = loop.rows
            if progress:
                progress(Progress(report.rows, source.bytes_read, total))
            return bool(should_cancel and should_cancel())

        try:
            report.cancelled = loop.run(source.rows, after_batch)
        except (OSError, DatabaseError) as exc:
            if not is_disk_full(exc):
                raise
            raise disk_full(exc, ws, path, saved_rows, report.imported) from exc
    report.rows = loop.rows
    if progress and not report.cancelled:
        progress(Progress(report.rows, total, total))
    return report


def disk_full(
    exc: BaseException, ws: Workspace, path: Path, saved_rows: int, saved_devices: int
) -> WorkspaceError:
    """The one message for an import the disk could not hold: what was kept, what to do."""
    where = getattr(exc, "filename", None) or ws.path  # the rejected-rows file, or the workspace
    if saved_rows:
        kept = (
            f"the first {saved_rows:,} rows of {path.name} were saved ({saved_devices:,} "
            f"devices); nothing after row {saved_rows:,} was saved"
        )
    else:
        kept = f"nothing of {path.name} was saved"
    return WorkspaceError(
        f"The disk holding {where} is full: {kept}.",
        hint="Free some space on that disk and run the same import again: what was saved "
        "stays as it is, and the rest is added.",
    )


def _flush(ws: Workspace, batch: list[dict[str, Any]], report: ImportReport) -> None:
    inserted, updated = device_store.upsert_devices(ws, batch)
    report.inserted += inserted
    report.updated += updated
    report.unchanged += len(batch) - inserted - updated
