"""A campaign's audience in SQL: who it targets, who of them is excluded and why, and
writing its journal rows (with the status 'sending', in the same transaction).

The audience rule is a ``CompiledRule`` over ``devices d`` (from the segment compiler,
``segments.audience_filter``, or ``tokens_rule`` here); the exclusion reason is a CASE
over the same alias. Both stay parameterised fragments the campaign wing passes back
here: user text is only ever a parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from pushdeck.core.store.campaigns import mark_sending
from pushdeck.core.store.dialect import POSTGRES, SQLITE, Dialect
from pushdeck.core.store.segment_rules import CompiledRule
from pushdeck.core.store.workspace import Connection, Workspace, utcnow


def tokens_rule(app: str, tokens: Collection[str], dialect: Dialect = SQLITE) -> CompiledRule:
    """Exactly these tokens of the app."""
    return CompiledRule(
        f"d.app_id = (SELECT id FROM apps WHERE name = ?) AND d.token IN ({dialect.json_texts()})",
        (app, json.dumps(list(tokens))),
    )


def exclusion_case(providers: Collection[str], token_kinds: Collection[str]) -> CompiledRule:
    """A CASE giving each device's exclusion reason ('' when it can receive).

    ``providers`` are those with a credential; ``token_kinds`` those the message can go
    to. The reasons are ``campaigns.audience.Exclusion``'s values, in the same order as
    ``exclusion_reason`` checks them for one loaded device.
    """
    providers, token_kinds = sorted(providers), sorted(token_kinds)
    sql = (
        "CASE WHEN d.opt_in = 'denied' THEN 'opted_out'"
        " WHEN d.status = 'unregistered' THEN 'unregistered'"
        " WHEN d.status = 'invalid' THEN 'invalid'"
        " WHEN d.provider = 'webpush' AND (d.p256dh = '' OR d.auth = '') THEN 'invalid'"
        f" WHEN {_not_in('d.provider', providers)} THEN 'no_credential'"
        f" WHEN {_not_in('d.token_kind', token_kinds)} THEN 'token_kind' ELSE '' END"
    )
    return CompiledRule(sql, (*providers, *token_kinds))


def _not_in(column: str, values: Collection[str]) -> str:
    """``column`` is none of ``values`` (placeholders, one per value). Nothing is in an
    empty list: ``NOT IN (NULL)`` would be NULL, never true, so every device would pass."""
    return f"{column} NOT IN ({', '.join('?' * len(values))})" if values else "1 = 1"


def count_by_reason(ws: Workspace, rule: CompiledRule, case: CompiledRule) -> dict[str, int]:
    """Targeted devices by exclusion reason ('' for those that can receive)."""
    rows = ws.query(
        f"SELECT {case.where} AS reason, count(*) FROM devices d WHERE {rule.where}"
        " GROUP BY reason",
        (*case.params, *rule.params),
    )
    return {r[0]: r[1] for r in rows}


def count_by_reason_and_platform(
    ws: Workspace, rule: CompiledRule, case: CompiledRule
) -> list[tuple[str, str, int]]:
    """(reason, platform, devices) of the targeted devices."""
    rows = ws.query(
        f"SELECT {case.where} AS reason, d.platform, count(*) FROM devices d WHERE {rule.where}"
        " GROUP BY reason, d.platform",
        (*case.params, *rule.params),
    )
    return [(r[0], r[1], r[2]) for r in rows]


def distinct_timezones(ws: Workspace, rule: CompiledRule) -> list[str]:
    """Every time zone among the targeted devices ('' for devices without one)."""
    rows = ws.query(f"SELECT DISTINCT d.timezone FROM devices d WHERE {rule.where}", rule.params)
    return [r[0] for r in rows]


def _materialized_key(campaign_id: int) -> str:
    return f"campaign_materialized:{campaign_id}"


def journal_written(ws: Workspace, campaign_id: int) -> bool:
    """Whether the campaign's journal was written (committed)."""
    key = _materialized_key(campaign_id)
    return bool(ws.scalar("SELECT 1 FROM meta WHERE key = ?", (key,)))


class Started(NamedTuple):
    """What ``materialize_and_start`` did."""

    started: bool  # the journal is written and the campaign is 'sending' (committed together)
    added: int  # journal rows written now (0: written by an earlier start)
    status: str  # the campaign's stored status when it was locked


def materialize_journal(
    ws: Workspace,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
) -> int:
    """Write the journal row of every targeted device, once per campaign; return how many
    were added (0 when it was done before).

    ``arm(app, token)`` is the device's variant ('control' for the hold-out). It runs
    inside SQLite, so materializing a million devices never loads them into Python.
    On PostgreSQL it runs here over pages of devices (``_write_pg``), all in one
    transaction: other connections see the whole journal or none of it.
    """
    with ws.transaction() as conn:
        _lock_campaign(ws, conn, campaign_id)
        return _write(ws, conn, campaign_id, rule, case, arm)


def materialize_and_start(
    ws: Workspace,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
    *,
    from_statuses: Collection[str],
) -> Started:
    """Write the journal (unless written before) and mark the campaign 'sending', in one
    transaction: no other client or worker ever sees it 'sending' with a partial or
    missing journal. A process killed half-way (a long materialize of 100,000 devices)
    leaves the campaign as it was, its journal unwritten; starting it again does it all.

    Nothing is done when the campaign's status, read under its row lock, is not one of
    ``from_statuses`` (another client queued, sent or cancelled it in the meantime).
    """
    with ws.transaction() as conn:
        status = _lock_campaign(ws, conn, campaign_id)
        if status not in from_statuses:
            return Started(False, 0, status)
        # The status first: a team's send gate (a trigger) refuses a login that may not
        # send before any journal row is written. Nobody sees either until the commit.
        mark_sending(conn, campaign_id)
        added = _write(ws, conn, campaign_id, rule, case, arm)
    return Started(True, added, status)


def _lock_campaign(ws: Workspace, conn: Connection, campaign_id: int) -> str:
    """The campaign's status, its row locked until the transaction ends (PostgreSQL: two
    processes starting one campaign at once write its journal once; the second waits,
    then finds it done. SQLite's BEGIN IMMEDIATE already admitted one writer)."""
    row = conn.execute(
        f"SELECT status FROM campaigns WHERE id = ?{ws.dialect.for_update()}", (campaign_id,)
    ).fetchone()
    return "" if row is None else str(row[0])


def _write(
    ws: Workspace,
    conn: Connection,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
) -> int:
    """The journal rows, inside the caller's transaction, unless written before."""
    key = _materialized_key(campaign_id)
    if conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
        return 0
    if ws.dialect.is_postgres:
        added = _write_pg(conn, campaign_id, rule, case, arm)
    else:
        added = _write_sqlite(ws, conn, campaign_id, rule, case, arm)
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, utcnow()))
    return added


def _write_sqlite(
    ws: Workspace,
    conn: Connection,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
) -> int:
    """One INSERT … SELECT, the variant computed by ``arm`` called from SQLite."""
    last: list[Any] = [None, ""]  # the statement asks twice per row: hash once

    def arm_once(app: str, token: str) -> str:
        if last[0] != (app, token):
            last[0], last[1] = (app, token), arm(app, token)
        return str(last[1])

    ws.conn.create_function("pushdeck_arm", 2, arm_once, deterministic=True)
    sql = (
        "INSERT OR IGNORE INTO journal (campaign_id, device_id, variant, state, reason,"
        " platform, locale, timezone, token_kind, queued_at)"
        f" SELECT ?, d.id, pushdeck_arm(a.name, d.token), CASE WHEN ({case.where}) != '' THEN"
        " 'excluded' WHEN pushdeck_arm(a.name, d.token) = 'control' THEN 'control'"
        f" ELSE 'queued' END, {case.where}, d.platform, d.locale, d.timezone, d.token_kind, ?"
        f" FROM devices d JOIN apps a ON a.id = d.app_id WHERE {rule.where}"
    )
    params: tuple[Any, ...] = (campaign_id, *case.params, *case.params, utcnow(), *rule.params)
    return int(conn.execute(sql, params).rowcount)


#: Devices read (and journal rows written) per round trip when materializing on PostgreSQL.
_PG_PAGE = 5000


def _write_pg(
    conn: Connection,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
) -> int:
    """The same rows on PostgreSQL, each variant from ``arm`` in Python (the same
    function SQLite calls), pages of devices in id order, in the caller's transaction.

    Every page's insert fires the summary's statement trigger
    (schema_pg._SUMMARY_INSERTS), which upserts the campaign's journal_summary rows in
    this same transaction: until it commits, other connections see neither the rows
    nor their counts, and the summary rows it locks are this campaign's only.
    """
    select = (
        f"SELECT d.id, a.name, d.token, {case.where}, d.platform, d.locale, d.timezone,"
        f" d.token_kind FROM devices d JOIN apps a ON a.id = d.app_id"
        f" WHERE ({rule.where}) AND d.id > ? ORDER BY d.id LIMIT {_PG_PAGE}"
    )
    # One statement per page (not a row each): the summary's insert trigger runs once
    # per statement, and the row-by-row round trips go.
    insert = POSTGRES.insert_ignore(
        "INTO journal (campaign_id, device_id, variant, state, reason, platform, locale,"
        " timezone, token_kind, queued_at)"
        " SELECT ?, v.device_id, v.variant, CASE WHEN v.reason <> '' THEN 'excluded'"
        " WHEN v.variant = 'control' THEN 'control' ELSE 'queued' END, v.reason,"
        " v.platform, v.locale, v.timezone, v.token_kind, ?"
        " FROM unnest(?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[],"
        " ?::text[]) AS v(device_id, variant, reason, platform, locale, timezone, token_kind)"
    )
    added = 0
    now = utcnow()
    last = 0
    while True:
        page = conn.execute(select, (*case.params, *rule.params, last)).fetchall()
        if not page:
            return added
        columns = list(zip(*page, strict=True))
        variants = [arm(app, token) for app, token in zip(columns[1], columns[2], strict=True)]
        added += conn.execute(
            insert, (campaign_id, now, list(columns[0]), variants, *map(list, columns[3:]))
        ).rowcount
        last = page[-1][0]
