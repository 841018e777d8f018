"""Browsing devices for the app's audience table: search, sort, pages, details.

Everything the table needs is a filter (``DeviceQuery``) compiled to parameterised SQL
over ``devices d`` by ``store.device_search``: free text never becomes SQL, sort keys
come from a fixed table. Pages are fetched by offset with a stable tie-breaker
(``d.id``), so a 1,000,000-row table is only ever read one page at a time.

Search syntax (one box, terms AND-ed):

- ``tag:vip`` — the device has the tag ``vip``;
- ``attr:plan=pro`` — attribute ``plan`` equals ``pro`` (``attr:plan`` — it exists);
- anything else — the token (or Web Push endpoint) contains the text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushdeck.core.common.model import Device
from pushdeck.core.common.paths import open_private
from pushdeck.core.store import device_history, device_search
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.apps import app_names
from pushdeck.core.store.device_search import CompiledSearch
from pushdeck.core.store.segment_rules import compile_rule
from pushdeck.core.store.segments import usable
from pushdeck.core.store.workspace import Workspace


@dataclass(frozen=True)
class DeviceQuery:
    """What the table shows: a search text, an optional segment, a sort."""

    search: str = ""
    segment: str = ""
    sort: str = "id"
    descending: bool = False


def compile_query(ws: Workspace, query: DeviceQuery) -> CompiledSearch:
    rule = usable(ws, query.segment).rule if query.segment else None
    segment = compile_rule(rule, dialect=ws.dialect) if rule is not None else None
    return device_search.compile_search(
        query.search, query.sort, query.descending, segment, ws.dialect
    )


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
    ids = device_search.page_ids(ws, compile_query(ws, query), offset, limit)
    if not ids:
        return []
    by_id = {d.id: d for d in device_store.get_devices(ws, ids)}
    return [by_id[i] for i in ids if i in by_id]


def last_answers(ws: Workspace, device_ids: Sequence[int]) -> dict[int, LastAnswer]:
    """The newest journal outcome of each device (one query per page, by primary key)."""
    if not device_ids:
        return {}
    rows = device_history.last_answers(ws, device_ids)
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
    sends = [LastAnswer(r[0], r[1], r[2], r[3] or "") for r in device_history.sends(ws, device_id)]
    events = [(r[0] or "", r[1], r[2], r[3]) for r in device_history.events(ws, device_id)]
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

    used = device_store.timezones(ws)
    rest = sorted(known_timezones() - set(used))
    return FieldValues(
        device_store.locales(ws),
        used + rest,
        device_store.all_tags(ws),
        device_store.sampled_attribute_names(ws),
        app_names(ws),
    )
