"""A campaign's audience in SQL: who it targets, who of them is excluded and why, and
writing its journal rows in one statement.

The audience rule is a ``CompiledRule`` over ``devices d`` (from the segment compiler,
``segments.audience_filter``, or ``tokens_rule`` here); the exclusion reason is a CASE
over the same alias. Both stay parameterised fragments the campaign wing passes back
here: user text is only ever a parameter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from typing import Any

from pushdeck.core.store.dialect import SQLITE, Dialect
from pushdeck.core.store.segment_rules import CompiledRule
from pushdeck.core.store.workspace import Workspace, utcnow


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
    On PostgreSQL it runs here over pages of devices (``_materialize_pg``).
    """
    key = _materialized_key(campaign_id)
    if ws.dialect.is_postgres:
        return _materialize_pg(ws, campaign_id, rule, case, arm)
    if ws.scalar("SELECT 1 FROM meta WHERE key = ?", (key,)):
        return 0
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
    with ws.transaction() as conn:
        cursor = conn.execute(sql, params)
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, utcnow()))
    return int(cursor.rowcount)


#: Devices read (and journal rows written) per round trip when materializing on PostgreSQL.
_PG_PAGE = 5000


def _materialize_pg(
    ws: Workspace,
    campaign_id: int,
    rule: CompiledRule,
    case: CompiledRule,
    arm: Callable[[str, str], str],
) -> int:
    """``materialize_journal`` on PostgreSQL: the same rows, each variant from ``arm``
    in Python (the same function SQLite calls), pages of devices in id order.

    The campaign's row is locked first, so two processes materializing one campaign
    at once write it once: the second waits, then finds it done.
    """
    key = _materialized_key(campaign_id)
    select = (
        f"SELECT d.id, a.name, d.token, {case.where}, d.platform, d.locale, d.timezone,"
        f" d.token_kind FROM devices d JOIN apps a ON a.id = d.app_id"
        f" WHERE ({rule.where}) AND d.id > ? ORDER BY d.id LIMIT {_PG_PAGE}"
    )
    # One statement per page (not a row each): the summary's insert trigger runs once
    # per statement (schema_pg._SUMMARY_INSERTS), and the row-by-row round trips go.
    insert = ws.dialect.insert_ignore(
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
    with ws.transaction() as conn:
        conn.execute("SELECT id FROM campaigns WHERE id = ? FOR UPDATE", (campaign_id,))
        if conn.execute("SELECT 1 FROM meta WHERE key = ?", (key,)).fetchone():
            return 0
        last = 0
        while True:
            page = conn.execute(select, (*case.params, *rule.params, last)).fetchall()
            if not page:
                break
            columns = list(zip(*page, strict=True))
            variants = [arm(app, token) for app, token in zip(columns[1], columns[2], strict=True)]
            added += conn.execute(
                insert, (campaign_id, now, list(columns[0]), variants, *map(list, columns[3:]))
            ).rowcount
            last = page[-1][0]
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, utcnow()))
    return added
