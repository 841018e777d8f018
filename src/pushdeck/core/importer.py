"""Device import: map columns, validate every row, upsert in whole batches.

Re-importing the same file changes nothing (upsert by app + token, with an update
only when a value differs). Rejected rows go to the report with line, field and
reason, and the rest is imported. Each batch is one transaction, so an interrupted
import leaves whole batches or nothing, and running it again completes it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
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
from pushdeck.core.model import DEFAULT_PROVIDER, OptIn, Platform
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import get_app
from pushdeck.core.store.workspace import Workspace, utcnow

BATCH = 5000
REPORT_KEEP = 1000  # rejected rows kept in memory; all of them go to the report file

#: Canonical fields and the header names recognised for them without a mapping.
ALIASES: dict[str, tuple[str, ...]] = {
    "token": ("token", "device_token", "registration_token", "fcm_token", "push_token"),
    "platform": ("platform", "os"),
    "provider": ("provider",),
    "environment": ("environment", "env", "apns_environment"),
    "locale": ("locale", "language", "lang"),
    "timezone": ("timezone", "time_zone", "tz"),
    "tags": ("tags",),
    "opt_in": ("opt_in", "optin", "permission"),
    "test": ("test", "is_test", "test_device"),
    "subscription": ("subscription",),
    "endpoint": ("endpoint",),
    "p256dh": ("p256dh",),
    "auth": ("auth",),
    "attributes": ("attributes", "attrs"),
    "created_at": ("created_at", "created"),
    "last_seen": ("last_seen", "last_seen_at"),
}


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


def _normal(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def auto_mapping(columns: list[str]) -> dict[str, str]:
    """Map canonical field → source column from header names; ``attr.X`` columns map to X."""
    by_normal = {_normal(c): c for c in columns}
    mapping: dict[str, str] = {}
    for canonical, names in ALIASES.items():
        for name in names:
            if name in by_normal:
                mapping[canonical] = by_normal[name]
                break
    for column in columns:
        if _normal(column).startswith("attr."):
            mapping[f"attr.{column.strip()[5:]}"] = column
    return mapping


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """Parse CLI ``--map field=COLUMN`` overrides."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        key, sep, column = pair.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise ValidationError(f"--map {pair!r} should look like token=DeviceToken.")
        key = key.strip()
        if key not in ALIASES and not key.startswith("attr."):
            raise ValidationError(
                f"--map {pair!r}: {key!r} is not a device field.",
                hint=f"Fields: {', '.join(ALIASES)}, or attr.NAME.",
            )
        mapping[key] = column.strip()
    return mapping


def record_from_row(raw: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Validate one row and return the device record to store; raise FieldError."""
    return RowPlan(mapping).record(raw)


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)
_PROVIDER_OF = {p.value: DEFAULT_PROVIDER[p].value for p in Platform}
_PLATFORM_OF = {k.value: p.value for p, k in DEFAULT_PROVIDER.items()}


@lru_cache(maxsize=256)
def _platform_text(value: str) -> str:
    return f.parse_platform(value).value


@lru_cache(maxsize=256)
def _provider_text(value: str) -> str:
    return f.parse_provider(value).value


@lru_cache(maxsize=256)
def _opt_in_text(value: str) -> str:
    return f.parse_opt_in(value).value


@lru_cache(maxsize=256)
def _environment_text(value: str) -> str:
    return f.parse_environment(value).value


@lru_cache(maxsize=256)
def _test_flag(value: str) -> int:
    return int(f.parse_bool("test", value))


class RowPlan:
    """One mapping compiled for speed: which column feeds which field.

    Built once per file (per key set for JSON rows); ``record`` is the per-row hot path
    of a million-row import, so it avoids closures, enum lookups and repeated parsing
    of the few distinct values that columns like platform or locale take.
    """

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self.column = {name: mapping.get(name) for name in ALIASES}
        self.attribute_columns = sorted(
            (key[5:], column) for key, column in mapping.items() if key.startswith("attr.")
        )

    def value(self, raw: Mapping[str, Any], name: str) -> Any:
        column = self.column[name]
        return None if column is None else raw.get(column)

    def record(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        get = self.value
        platform_raw, provider_raw = get(raw, "platform"), get(raw, "provider")
        if platform_raw:
            platform = _platform_text(str(platform_raw))
            provider = _provider_text(str(provider_raw)) if provider_raw else _PROVIDER_OF[platform]
        elif provider_raw:
            provider = _provider_text(str(provider_raw))
            if provider not in _PLATFORM_OF:
                raise f.FieldError(
                    "platform", "is missing; a sandbox device needs ios, android or web"
                )
            platform = _PLATFORM_OF[provider]
        else:
            raise f.FieldError("platform", "is missing; it must be ios, android or web")
        token, p256dh, auth = self._token_fields(raw, provider)
        opt_in = get(raw, "opt_in")
        tags = get(raw, "tags")
        attributes = self._attributes(raw)
        created_at, last_seen = get(raw, "created_at"), get(raw, "last_seen")
        return {
            "platform": platform,
            "provider": provider,
            "token": token,
            "p256dh": p256dh,
            "auth": auth,
            "environment": _environment_text(str(get(raw, "environment") or "")),
            "opt_in": opt_in.value
            if isinstance(opt_in, OptIn)
            else (
                f.parse_opt_in(opt_in).value
                if isinstance(opt_in, bool)
                else _opt_in_text(str(opt_in or ""))
            ),
            "locale": f.check_locale(str(get(raw, "locale") or "")),
            "timezone": f.check_timezone(str(get(raw, "timezone") or "")),
            "tags": _ENCODER.encode(f.parse_tags(tags)) if tags else "[]",
            "attributes": _ENCODER.encode(attributes) if attributes else "{}",
            "test": _test_flag(str(get(raw, "test") or "")),
            "created_at": f.parse_time("created_at", created_at) if created_at else None,
            "last_seen": f.parse_time("last_seen", last_seen) if last_seen else None,
        }

    def _token_fields(self, raw: Mapping[str, Any], provider: str) -> tuple[str, str, str]:
        get = self.value
        if provider == "webpush":
            if get(raw, "subscription"):
                return f.parse_subscription_json(get(raw, "subscription"))
            endpoint = get(raw, "endpoint") or get(raw, "token")
            if endpoint:
                return f.check_subscription(
                    str(endpoint), str(get(raw, "p256dh") or ""), str(get(raw, "auth") or "")
                )
            raise f.FieldError(
                "subscription", "a web device needs a subscription or endpoint, p256dh and auth"
            )
        token = str(get(raw, "token") or "")
        if not token.strip():
            raise f.FieldError("token", "is missing")
        if provider == "apns":
            return f.check_apns_token(token), "", ""
        if provider == "fcm":
            return f.check_fcm_token(token), "", ""
        return f.check_sandbox_token(token), "", ""

    def _attributes(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        base = self.value(raw, "attributes")
        if base:
            attrs.update(_attribute_object(base))
        for name, column in self.attribute_columns:
            value = raw.get(column)
            if value is not None and value != "":
                attrs[name] = f.coerce_attribute(value)
        return attrs


def _attribute_object(base: Any) -> dict[str, Any]:
    if isinstance(base, str):
        try:
            base = json.loads(base)
        except json.JSONDecodeError:
            raise f.FieldError("attributes", "is not a JSON object") from None
    if not isinstance(base, dict):
        raise f.FieldError("attributes", "must be a JSON object")
    return base


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
