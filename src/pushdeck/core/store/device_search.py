"""The audience table's search and sort, compiled to parameterised SQL over ``devices d``.

``pushdeck.core.devices.query`` describes the search syntax and decides what to show;
this module turns it into SQL. Search text only ever becomes parameters, attribute
names are checked before they go into a JSON-path parameter, and sort columns come
from the fixed ``SORT_KEYS`` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pushdeck.core.store.dialect import SQLITE, Dialect
from pushdeck.core.store.segment_rules import CompiledRule
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
class CompiledSearch:
    """A filter over ``devices d`` (``where`` may be empty) and its order."""

    where: str
    params: tuple[Any, ...]
    order_by: str


def compile_search(
    search: str,
    sort: str,
    descending: bool,
    segment: CompiledRule | None = None,
    dialect: Dialect = SQLITE,
) -> CompiledSearch:
    """The search terms (AND-ed, within ``segment`` when given) sorted by key ``sort``."""
    clauses: list[str] = []
    params: list[Any] = []
    if segment is not None:
        clauses.append(f"({segment.where})")
        params.extend(segment.params)
    for term in search.split():
        clause, values = _term(term, dialect)
        clauses.append(clause)
        params.extend(values)
    direction = dialect.order("DESC" if descending else "ASC")
    columns = [c for c in SORT_KEYS.get(sort, ()) if c != "d.id"] + ["d.id"]
    order = ", ".join(f"{c} {direction}" for c in columns)
    return CompiledSearch(" AND ".join(clauses), tuple(params), order)


def _term(term: str, dialect: Dialect) -> tuple[str, list[Any]]:
    lower = term.lower()
    if lower.startswith("tag:") and len(term) > 4:
        return "d.id IN (SELECT device_id FROM device_tags WHERE tag = ?)", [term[4:]]
    if lower.startswith("attr:") and len(term) > 5:
        name, sep, value = term[5:].partition("=")
        if _ATTR.fullmatch(name):
            if dialect.is_postgres:
                return _attr_term_pg(name, value if sep else None)
            path = f'$."{name}"'
            if not sep:
                return "json_type(d.attributes, ?) IS NOT NULL", [path]
            return "CAST(json_extract(d.attributes, ?) AS TEXT) = ?", [path, value]
    if dialect.is_postgres:
        return f"strpos({dialect.ascii_lower('d.token')}, ?) > 0", [lower]
    return "instr(lower(d.token), ?) > 0", [lower]


def _attr_term_pg(name: str, value: str | None) -> tuple[str, list[Any]]:
    """SQLite's attribute terms on PostgreSQL: present (JSON null included), or equal as
    SQLite's text of the value (true/false as 1/0, an array or object as JSON text)."""
    attr = "(CAST(d.attributes AS jsonb) -> CAST(? AS text))"
    if value is None:
        return f"{attr} IS NOT NULL", [name]
    return (
        "(SELECT CASE jsonb_typeof(a.x) WHEN 'boolean' THEN"
        " (CASE WHEN a.x = 'true'::jsonb THEN '1' ELSE '0' END)"
        " WHEN 'string' THEN a.x #>> '{}' WHEN 'number' THEN a.x #>> '{}'"
        " WHEN 'null' THEN NULL ELSE CAST(a.x AS text) END"
        f" FROM (SELECT {attr} AS x) a) = ?",
        [name, value],
    )


def page_ids(ws: Workspace, search: CompiledSearch, offset: int, limit: int) -> list[int]:
    """Ids of rows ``offset`` to ``offset + limit`` in the search's order.

    Ids only: for indexed sorts a covering-index walk, so deep offsets in a million rows
    take milliseconds.
    """
    where = f"WHERE {search.where}" if search.where else ""
    return [
        r[0]
        for r in ws.query(
            f"SELECT d.id FROM devices d {where} ORDER BY {search.order_by} LIMIT ? OFFSET ?",
            (*search.params, limit, offset),
        )
    ]
