"""Browsing devices for the app's audience table: search, sort, pages, details.

Everything the table needs is a filter (``DeviceQuery``) compiled to parameterised SQL
over ``devices d``: free text never becomes SQL, sort keys come from a fixed table.
Pages are fetched by offset with a stable tie-breaker (``d.id``), so a 1,000,000-row
table is only ever read one page at a time.

Search syntax (one box, terms AND-ed):

- ``tag:vip`` — the device has the tag ``vip``;
- ``attr:plan=pro`` — attribute ``plan`` equals ``pro`` (``attr:plan`` — it exists);
- anything else — the token (or Web Push endpoint) contains the text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushdeck.core.common.model import Device
from pushdeck.core.common.paths import open_private
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.segment_rules import compile_rule
from pushdeck.core.store.segments import usable
from pushdeck.core.store.workspace import Workspace

#: Column key -> SQL expressions it sorts by (the table's sortable columns). Platform and
#: token sort within the app columns of their indexes, so deep pages walk an index
#: instead of sorting a million rows (one app: the same order as the bare column).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "id": ("d.id",),
    "app": ("d.app_id",),
    "platform": ("d.platform", "d.app_id"),
    "provider": ("d.provider",),
    "token": ("d.app_id", "d.token"),
    "locale": ("d.locale",),
    "timezone": ("d.timezone",),
    "opt_in": ("d.opt_in",),
    "status": ("d.status",),
    "test": ("d.test",),
    "created_at": ("d.created_at",),
    "last_seen": ("d.last_seen",),
}
_ATTR = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]{0,63}")


@dataclass(frozen=True)
class DeviceQuery:
    """What the table shows: a search text, an optional segment, a sort."""

    search: str = ""
    segment: str = ""
    sort: str = "id"
    descending: bool = False


@dataclass(frozen=True)
class Compiled:
    where: str
    params: tuple[Any, ...]
    order_by: str


def compile_query(ws: Workspace, query: DeviceQuery) -> Compiled:
    clauses: list[str] = []
    params: list[Any] = []
    if query.segment:
        rule = compile_rule(usable(ws, query.segment).rule)
        clauses.append(f"({rule.where})")
        params.extend(rule.params)
    for term in query.search.split():
        clause, values = _term(term)
        clauses.append(clause)
        params.extend(values)
    direction = "DESC" if query.descending else "ASC"
    columns = [c for c in SORT_KEYS.get(query.sort, ()) if c != "d.id"] + ["d.id"]
    order = ", ".join(f"{c} {direction}" for c in columns)
    return Compiled(" AND ".join(clauses), tuple(params), order)


def _term(term: str) -> tuple[str, list[Any]]:
    lower = term.lower()
    if lower.startswith("tag:") and len(term) > 4:
        return "d.id IN (SELECT device_id FROM device_tags WHERE tag = ?)", [term[4:]]
    if lower.startswith("attr:") and len(term) > 5:
        name, sep, value = term[5:].partition("=")
        if _ATTR.fullmatch(name):
            path = f'$."{name}"'
            if not sep:
                return "json_type(d.attributes, ?) IS NOT NULL", [path]
            return "CAST(json_extract(d.attributes, ?) AS TEXT) = ?", [path, value]
    return "instr(lower(d.token), ?) > 0", [lower]


def count(ws: Workspace, query: DeviceQuery) -> int:
    compiled = compile_query(ws, query)
    return device_store.count_devices(ws, where=compiled.where, params=compiled.params)


@dataclass(frozen=True)
class LastAnswer:
    campaign: str
    state: str
    reason: str
    at: str


def page(ws: Workspace, query: DeviceQuery, offset: int, limit: int) -> list[Device]:
    """Rows ``offset`` to ``offset + limit`` of the query's order.

    Ids first (a covering-index walk for indexed sorts: deep offsets in a million rows
    take milliseconds), then only those rows are read and decoded.
    """
    import json

    compiled = compile_query(ws, query)
    where = f"WHERE {compiled.where}" if compiled.where else ""
    ids = [
        r[0]
        for r in ws.query(
            f"SELECT d.id FROM devices d {where} ORDER BY {compiled.order_by} LIMIT ? OFFSET ?",
            (*compiled.params, limit, offset),
        )
    ]
    if not ids:
        return []
    rows = device_store.list_devices(
        ws, where=f"d.id IN ({ws.dialect.json_ints('?')})", params=(json.dumps(ids),),
        limit=len(ids),
    )  # fmt: skip
    by_id = {d.id: d for d in rows}
    return [by_id[i] for i in ids if i in by_id]


def last_answers(ws: Workspace, device_ids: Sequence[int]) -> dict[int, LastAnswer]:
    """The newest journal outcome of each device (one query per page, by primary key)."""
    if not device_ids:
        return {}
    marks = ",".join("?" * len(device_ids))
    rows = ws.query(
        "SELECT j.device_id, c.name, j.state, j.reason, coalesce(j.finished_at, j.queued_at, '')"
        " FROM journal j JOIN campaigns c ON c.id = j.campaign_id"
        f" WHERE j.campaign_id IN (SELECT id FROM campaigns) AND j.device_id IN ({marks})"
        " AND j.state NOT IN ('queued', 'excluded', 'control')"
        " ORDER BY 5",
        tuple(device_ids),
    )
    return {r[0]: LastAnswer(r[1], r[2], r[3], r[4]) for r in rows}


@dataclass(frozen=True)
class DeviceDetails:
    device: Device
    sends: list[LastAnswer] = field(default_factory=list)
    events: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # campaign, kind, action, at


def details(ws: Workspace, device_id: int) -> DeviceDetails | None:
    device = device_store.get_device(ws, device_id)
    if device is None:
        return None
    sends = [
        LastAnswer(r[0], r[1], r[2], r[3] or "")
        for r in ws.query(
            "SELECT c.name, j.state, j.reason, coalesce(j.finished_at, j.queued_at)"
            " FROM journal j JOIN campaigns c ON c.id = j.campaign_id"
            " WHERE j.campaign_id IN (SELECT id FROM campaigns) AND j.device_id = ?"
            " ORDER BY 4 DESC",
            (device_id,),
        )
    ]
    events = [
        (r[0] or "", r[1], r[2], r[3])
        for r in ws.query(
            "SELECT c.name, e.kind, e.action_id, e.at FROM events e"
            " LEFT JOIN campaigns c ON c.id = e.campaign_id WHERE e.device_id = ?"
            " ORDER BY e.at DESC LIMIT 500",
            (device_id,),
        )
    ]
    return DeviceDetails(device, sends, events)


def preview_file(path: Path, rows: int = 10) -> tuple[str, list[str], list[dict[str, Any]]]:
    """The format, the column names and the first ``rows`` records of a device file."""
    from pushdeck.core.devices.readers import (
        CountingReader,
        detect_format,
        read_csv,
        read_json_array,
        read_ndjson,
    )

    fmt = detect_format(path)
    records: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    with path.open("rb") as fh:
        if fmt == "json":
            reader = read_json_array(CountingReader(fh))
        elif fmt == "csv":
            reader = read_csv(fh)
        else:
            reader = read_ndjson(fh)
        for _line, record, _problem in reader:
            if record is None:
                continue
            records.append(record)
            columns.update(dict.fromkeys(record))
            if len(records) >= rows:
                break
    return fmt, list(columns), records


def export_view(ws: Workspace, query: DeviceQuery, path: Path) -> int:
    """Write the devices matching ``query`` to ``path`` (.ndjson/.jsonl, else CSV)."""
    from pushdeck.core.devices.export import export_devices

    fmt = "ndjson" if path.suffix.lower() in (".ndjson", ".jsonl") else "csv"
    compiled = compile_query(ws, query)
    ws.refuse_own_file(path, "export devices to")
    with open_private(path, encoding="utf-8", newline="") as out:
        return export_devices(ws, out, fmt, where=compiled.where, params=compiled.params)


@dataclass(frozen=True)
class FieldValues:
    """What the segment builder offers in its pickers, read from the workspace."""

    locales: list[str]
    timezones: list[str]  # every IANA zone, the ones devices use first
    tags: list[str]
    attributes: list[str]
    apps: list[str]


def field_values(ws: Workspace) -> FieldValues:
    from pushdeck.core.common.model import known_timezones

    locales = [r[0] for r in ws.query("SELECT DISTINCT locale FROM devices WHERE locale != ''"
                                      " ORDER BY locale")]  # fmt: skip
    used = [r[0] for r in ws.query("SELECT DISTINCT timezone FROM devices WHERE timezone != ''"
                                   " ORDER BY timezone")]  # fmt: skip
    rest = sorted(known_timezones() - set(used))
    keys = (  # the attribute names of each device's JSON object
        "json_each(d.attributes) j"
        if ws.dialect.is_sqlite
        else "jsonb_object_keys(CAST(d.attributes AS jsonb)) AS j(key)"
    )
    attributes = [
        r[0]
        for r in ws.query(
            "SELECT DISTINCT j.key FROM (SELECT attributes FROM devices LIMIT 2000) d,"
            f" {keys} ORDER BY j.key"
        )
    ]
    apps = [r[0] for r in ws.query("SELECT name FROM apps ORDER BY name")]
    return FieldValues(locales, used + rest, device_store.all_tags(ws), attributes, apps)
