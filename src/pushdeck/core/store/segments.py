"""Saved segments: a name and a rule (JSON form), counted and sampled on demand.

A stored rule may stop compiling (edited by hand, written by a newer Pushdeck, a time
zone dropped from tzdata, limits added later). Listing never fails for that: such a
segment comes back with ``problem`` set, and only using it raises, naming it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pushdeck.core.common.errors import ConfigError, SegmentError
from pushdeck.core.common.model import Device
from pushdeck.core.store import devices as device_store
from pushdeck.core.store.segment_rules import (
    CompiledRule,
    check_shape,
    compile_rule,
    rule_to_text,
)
from pushdeck.core.store.workspace import IntegrityError, Row, Workspace, utcnow


@dataclass(frozen=True)
class Segment:
    name: str
    rule: dict[str, Any]
    description: str = ""
    problem: str = ""  # why the stored rule cannot be used ('' when it can)

    @property
    def text(self) -> str:
        """The rule in the text syntax (its stored JSON when it is not a valid rule)."""
        try:
            return rule_to_text(self.rule)
        except SegmentError:
            raw = json.dumps(self.rule, ensure_ascii=False)
            return raw if len(raw) <= 200 else raw[:199] + "…"


def save_segment(ws: Workspace, segment: Segment, *, replace: bool = False) -> Segment:
    """Store a segment after checking that its rule compiles."""
    check_shape(segment.rule)
    compile_rule(segment.rule)
    now = utcnow()
    conflict = (
        " ON CONFLICT(name) DO UPDATE SET rule = excluded.rule,"
        " description = excluded.description, updated_at = excluded.updated_at"
        if replace
        else ""
    )
    try:
        with ws.transaction() as conn:
            conn.execute(
                "INSERT INTO segments (name, rule, description, created_at, updated_at)"
                f" VALUES (?, ?, ?, ?, ?){conflict}",
                (segment.name, json.dumps(segment.rule), segment.description, now, now),
            )
    except IntegrityError:
        raise ConfigError(
            f"A segment named {segment.name!r} already exists.",
            hint="Choose another name, or replace it explicitly.",
        ) from None
    return segment


def get_segment(ws: Workspace, name: str) -> Segment:
    rows = ws.query("SELECT * FROM segments WHERE name = ?", (name,))
    if not rows:
        known = ", ".join(s.name for s in list_segments(ws)) or "none yet"
        raise ConfigError(
            f"There is no segment named {name!r} (segments: {known}).",
            hint="Create it with 'pushdeck segments add NAME --rule ...'.",
        )
    return _from_row(rows[0])  # a broken rule comes back with .problem (see usable())


def list_segments(ws: Workspace) -> list[Segment]:
    """Every segment; one whose rule cannot be used comes with ``problem`` set."""
    rows = ws.query("SELECT * FROM segments ORDER BY name")
    return [_from_row(r) for r in rows]


def _from_row(row: Row) -> Segment:
    try:
        rule = json.loads(row["rule"])
    except (ValueError, RecursionError) as exc:
        problem = f"the stored rule is not valid JSON ({type(exc).__name__})"
        return Segment(row["name"], {}, row["description"], problem)
    if not isinstance(rule, dict):
        return Segment(row["name"], {}, row["description"], "the stored rule is not an object")
    return Segment(row["name"], rule, row["description"], rule_problem(rule))


def rule_problem(rule: dict[str, Any]) -> str:
    """Why ``rule`` cannot be used now ('' when it compiles)."""
    try:
        compile_rule(rule)
    except SegmentError as exc:
        return exc.message
    return ""


def usable(ws: Workspace, name: str) -> Segment:
    """The segment named ``name``, or SegmentError naming it and what is wrong."""
    segment = get_segment(ws, name)
    if segment.problem:
        raise SegmentError(
            f"Segment {name!r} cannot be used: {segment.problem}",
            hint=f"Fix it: 'pushdeck segments add {name} --replace --rule ...'.",
        )
    return segment


def rename_segment(ws: Workspace, old: str, new: str) -> None:
    get_segment(ws, old)
    try:
        with ws.transaction() as conn:
            conn.execute(
                "UPDATE segments SET name = ?, updated_at = ? WHERE name = ?", (new, utcnow(), old)
            )
    except IntegrityError:
        raise ConfigError(f"A segment named {new!r} already exists.") from None


def delete_segment(ws: Workspace, name: str) -> None:
    get_segment(ws, name)
    with ws.transaction() as conn:
        conn.execute("DELETE FROM segments WHERE name = ?", (name,))


def audience_filter(ws: Workspace, rule: dict[str, Any], app: str | None = None) -> CompiledRule:
    """The SQL filter of ``rule``, optionally limited to one app."""
    compiled = compile_rule(rule, dialect=ws.dialect)
    if app is None:
        return compiled
    return CompiledRule(
        f"({compiled.where}) AND d.app_id = (SELECT id FROM apps WHERE name = ?)",
        (*compiled.params, app),
    )


def count_rule(ws: Workspace, rule: dict[str, Any], app: str | None = None) -> int:
    compiled = audience_filter(ws, rule, app)
    return device_store.count_devices(ws, where=compiled.where, params=compiled.params)


def sample_rule(
    ws: Workspace, rule: dict[str, Any], *, limit: int = 10, app: str | None = None
) -> list[Device]:
    compiled = audience_filter(ws, rule, app)
    return device_store.list_devices(ws, where=compiled.where, params=compiled.params, limit=limit)
