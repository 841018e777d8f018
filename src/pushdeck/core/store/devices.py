"""Device rows: upsert in batches, page through, count, mark dead."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any

from pushdeck.core.common.model import (
    ApnsEnvironment,
    Device,
    DeviceStatus,
    OptIn,
    Platform,
    ProviderKind,
    TokenKind,
    WebPushSubscription,
)
from pushdeck.core.store.dialect import POSTGRES, SQLITE
from pushdeck.core.store.workspace import MMAP_BYTES, Row, Workspace, damaged_row, utcnow

_COLUMNS = (
    "app_id",
    "platform",
    "provider",
    "token",
    "p256dh",
    "auth",
    "environment",
    "opt_in",
    "locale",
    "timezone",
    "tags",
    "attributes",
    "test",
    "created_at",
    "last_seen",
    "token_kind",
)
_UPDATED = [c for c in _COLUMNS if c not in ("app_id", "token", "created_at", "last_seen")]


def _on_conflict(is_not: str) -> str:
    """Update only when something really changed, so re-importing a file is a no-op.

    ``is_not``: the null-safe 'differs' (``Dialect.is_not``).
    """
    return (
        "ON CONFLICT (app_id, token) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in _UPDATED)
        + ", last_seen = coalesce(excluded.last_seen, devices.last_seen) WHERE "
        + " OR ".join(f"devices.{c} {is_not} excluded.{c}" for c in _UPDATED)
        + f" OR (excluded.last_seen IS NOT NULL AND devices.last_seen {is_not} excluded.last_seen)"
    )


_ON_CONFLICT = _on_conflict(SQLITE.is_not())
_UPSERT = (
    f"INSERT INTO devices ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) {_ON_CONFLICT}"
)
_UPSERT_PG = (
    f"INSERT INTO devices ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in _COLUMNS)}) {_on_conflict(POSTGRES.is_not())}"
)


def _upsert_sql(ws: Workspace) -> str:
    return _UPSERT if ws.dialect.is_sqlite else _UPSERT_PG


# Records are dicts; SQLite binds positional parameters about twice as fast as named ones.
_ROW = itemgetter(*_COLUMNS)


def staging_rows(records: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Each record's values in ``_COLUMNS`` order (a staging row)."""
    try:
        return list(map(_ROW, records))
    except KeyError:
        # Records made before token kinds existed (scripts, benchmarks) hold device tokens.
        return [_ROW({"token_kind": "device", **record}) for record in records]


_TOKEN = _COLUMNS.index("token")
STAGING_TABLE = f"CREATE TABLE staging ({', '.join(_COLUMNS)})"
_STAGING_INSERT = f"INSERT INTO staging VALUES ({', '.join('?' for _ in _COLUMNS)})"


def stage_devices(conn: sqlite3.Connection, records: Sequence[dict[str, Any]]) -> None:
    """Append validated records to a staging table (see ``upsert_from_staging``)."""
    conn.executemany(_STAGING_INSERT, staging_rows(records))


def upsert_devices(ws: Workspace, records: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Insert or update ``records`` in one transaction; return (inserted, updated)."""
    # Token order turns random inserts into the (app, token) index into one sweep per
    # batch. The sort is stable, so a token repeated in the batch still ends last-wins.
    rows = sorted(staging_rows(records), key=itemgetter(_TOKEN))
    with ws.transaction() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) FROM devices").fetchone()[0]
        cursor = conn.executemany(_upsert_sql(ws), rows)
        changed = cursor.rowcount
        inserted = conn.execute("SELECT count(*) FROM devices WHERE id > ?", (before,)).fetchone()[
            0
        ]
    return inserted, changed - inserted


def upsert_from_staging(ws: Workspace, schemas: Sequence[str]) -> tuple[int, int]:
    """Upsert the rows staged in the attached ``schemas`` (in order) in one transaction.

    Rows go in token order, so the (app, token) index grows by appending instead of one
    random B-tree insert per row; a token staged twice ends last-wins, as in a file
    read top to bottom. The per-row tag trigger is set aside for the statement and
    the new rows' tags are added in one pass (the update trigger still runs for rows
    whose tags change). Returns (inserted, updated).
    """
    staged = " UNION ALL ".join(
        f"SELECT {', '.join(_COLUMNS)}, {part} AS part, rowid AS seq FROM {schema}.staging"
        for part, schema in enumerate(schemas)
    )
    trigger = ws.scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'devices_tags_insert'"
    )
    with ws.transaction() as conn:
        before = conn.execute("SELECT coalesce(max(id), 0) FROM devices").fetchone()[0]
        conn.execute("DROP TRIGGER devices_tags_insert")
        changed = conn.execute(
            f"INSERT INTO devices ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} "
            f"FROM ({staged}) WHERE true ORDER BY token, part, seq {_ON_CONFLICT}"
        ).rowcount
        conn.execute(
            "INSERT OR IGNORE INTO device_tags (tag, device_id) SELECT j.value, d.id"
            " FROM devices d, json_each(d.tags) j WHERE d.id > ? AND d.tags <> '[]'",
            (before,),
        )
        conn.execute(trigger)
        # New rows take rowids max + 1, max + 2, ... so the new maximum counts them.
        inserted = conn.execute("SELECT coalesce(max(id), 0) FROM devices").fetchone()[0] - before
    return inserted, changed - inserted


@contextmanager
def bulk_load(ws: Workspace) -> Iterator[None]:
    """Drop the devices' secondary indexes for a large load and rebuild them after.

    Building an index once over sorted data is several times cheaper than updating
    eight of them per row. The dropped definitions are recorded in ``meta`` in the
    same transaction, so if the process dies mid-load, the next ``Workspace.open``
    rebuilds them (see ``restore_pending_indexes``) and no query is left slow.

    On PostgreSQL nothing is dropped (a large load there is the COPY path's business).
    """
    if not ws.dialect.is_sqlite:
        yield
        return
    rows = ws.query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'devices'"
        " AND sql IS NOT NULL"
    )
    with ws.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('pending_indexes', ?)",
            (json.dumps([r["sql"] for r in rows]),),
        )
        for row in rows:
            conn.execute(f'DROP INDEX "{row["name"]}"')
    # No checkpoints until the load is done: one pass copies it all into the file at the
    # end, instead of one after every statement (measured: 0.9 s less at 1M devices).
    ws.conn.execute("PRAGMA wal_autocheckpoint = 0")
    # Pages read through the memory map count as the process's resident memory; a load
    # sweeps the whole table, so it reads them the ordinary way instead.
    ws.conn.execute("PRAGMA mmap_size = 0")
    try:
        yield
    except BaseException:
        # The load failed (a full disk, say): rebuild what we can, but never let a second
        # failure here bury the first. Indexes still missing stay recorded in meta, and
        # the next open rebuilds them.
        try:
            _finish_bulk_load(ws)
        except sqlite3.Error:
            pass
        raise
    _finish_bulk_load(ws)


def _finish_bulk_load(ws: Workspace) -> None:
    try:
        ws.conn.execute("PRAGMA wal_autocheckpoint = 1000")
        restore_pending_indexes(ws)
        # Statistics from a sample: enough for the planner, and seconds cheaper.
        ws.conn.execute("PRAGMA analysis_limit = 2000")
        ws.conn.execute("ANALYZE")
        ws.conn.execute("PRAGMA analysis_limit = 0")
        # The load was one large transaction; give its write-ahead log back to the disk.
        ws.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        ws.conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")


def restore_pending_indexes(ws: Workspace) -> None:
    """Recreate indexes that a bulk load dropped and did not get to rebuild."""
    pending = ws.scalar("SELECT value FROM meta WHERE key = 'pending_indexes'")
    if pending is None:
        return
    with ws.transaction() as conn:
        for sql in json.loads(pending):
            conn.execute(sql.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS", 1))
        conn.execute("DELETE FROM meta WHERE key = 'pending_indexes'")


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


#: Enum members by stored value: a dict lookup per column instead of an Enum call (the
#: send path decodes every recipient's row; Enum() was a quarter of it).
_PLATFORMS = {m.value: m for m in Platform}
_PROVIDERS = {m.value: m for m in ProviderKind}
_ENVIRONMENTS = {m.value: m for m in ApnsEnvironment}
_OPT_INS = {m.value: m for m in OptIn}
_STATUSES = {m.value: m for m in DeviceStatus}
_TOKEN_KINDS = {m.value: m for m in TokenKind}


def _member(members: dict[Any, Any], enum: Any, value: Any) -> Any:
    try:
        return members[value]
    except (KeyError, TypeError):
        return enum(value)  # raises the Enum's own ValueError for a bad value


def row_to_device(row: Row, app_name: str = "") -> Device:
    try:
        provider = _member(_PROVIDERS, ProviderKind, row["provider"])
        token = row["token"]
        subscription = None
        if provider is ProviderKind.WEBPUSH:
            subscription = WebPushSubscription(token, row["p256dh"], row["auth"])
        tags = row["tags"]
        keys = row.keys()  # ("app" in row would look among the values)
        fields = {
            "app": app_name or (row["app"] if "app" in keys else ""),
            "platform": _member(_PLATFORMS, Platform, row["platform"]),
            "provider": provider,
            "token": token,
            "subscription": subscription,
            "environment": _member(_ENVIRONMENTS, ApnsEnvironment, row["environment"]),
            "opt_in": _member(_OPT_INS, OptIn, row["opt_in"]),
            "locale": row["locale"],
            "timezone": row["timezone"],
            "tags": () if tags == "[]" else tuple(json.loads(tags)),
            "attributes": json.loads(row["attributes"]),
            "test": bool(row["test"]),
            "created_at": _time(row["created_at"]),
            "last_seen": _time(row["last_seen"]),
            "status": _member(_STATUSES, DeviceStatus, row["status"]),
            "status_reason": row["status_reason"],
            "status_at": _time(row["status_at"]),
            "token_kind": _member(_TOKEN_KINDS, TokenKind, row["token_kind"]),
            "id": row["id"],
        }
    except (ValueError, TypeError, AttributeError) as exc:  # a row changed outside Pushdeck
        token = str(row["token"])
        shown = token if len(token) <= 20 else f"{token[:16]}…"
        raise damaged_row(f"device {shown}", "devices", row["id"], str(exc)) from exc
    # What Device(**fields) makes (a frozen dataclass without __post_init__), without
    # its __init__ setting 19 fields through object.__setattr__ one by one.
    device = object.__new__(Device)
    device.__dict__.update(fields)
    return device


_SELECT = "SELECT d.*, a.name AS app FROM devices d JOIN apps a ON a.id = d.app_id"


def list_devices(
    ws: Workspace,
    *,
    limit: int = 100,
    offset: int = 0,
    where: str = "",
    params: Sequence[Any] = (),
    order_by: str = "d.id",
) -> list[Device]:
    """A page of devices. ``where`` must come from the segment compiler, never user text."""
    sql = f"{_SELECT} {'WHERE ' + where if where else ''} ORDER BY {order_by} LIMIT ? OFFSET ?"
    return [row_to_device(r) for r in ws.query(sql, (*params, limit, offset))]


def iter_devices(
    ws: Workspace, *, where: str = "", params: Sequence[Any] = (), page: int = 2000
) -> Iterator[Device]:
    """Every matching device, fetched in pages by id (keyset), so memory stays flat."""
    last = 0
    clause = f"({where}) AND " if where else ""
    while True:
        rows = ws.query(
            f"{_SELECT} WHERE {clause} d.id > ? ORDER BY d.id LIMIT ?", (*params, last, page)
        )
        if not rows:
            return
        for row in rows:
            yield row_to_device(row)
        last = rows[-1]["id"]


def count_devices(ws: Workspace, *, where: str = "", params: Sequence[Any] = ()) -> int:
    sql = f"SELECT count(*) FROM devices d {'WHERE ' + where if where else ''}"
    return int(ws.scalar(sql, params))


def get_devices(ws: Workspace, device_ids: Sequence[int]) -> list[Device]:
    """The devices with these ids, in id order (ids of no device are left out)."""
    return list_devices(
        ws,
        where=f"d.id IN ({ws.dialect.json_ints()})",
        params=(json.dumps(device_ids),),
        limit=len(device_ids),
    )


def get_device(ws: Workspace, device_id: int) -> Device | None:
    rows = ws.query(f"{_SELECT} WHERE d.id = ?", (device_id,))
    return row_to_device(rows[0]) if rows else None


def find_device(ws: Workspace, app: str, token: str) -> Device | None:
    rows = ws.query(f"{_SELECT} WHERE a.name = ? AND d.token = ?", (app, token))
    return row_to_device(rows[0]) if rows else None


def mark_status(
    ws: Workspace,
    device_ids: Sequence[int],
    status: DeviceStatus,
    reason: str,
    at: str | None = None,
) -> None:
    """Record that devices are unregistered/invalid (or active again), with reason and time."""
    with ws.transaction() as conn:
        conn.executemany(
            "UPDATE devices SET status = ?, status_reason = ?, status_at = ? WHERE id = ?",
            [(status.value, reason, at or utcnow(), i) for i in device_ids],
        )


def set_tags(ws: Workspace, device_id: int, tags: Sequence[str]) -> None:
    with ws.transaction() as conn:
        conn.execute(
            "UPDATE devices SET tags = ? WHERE id = ?",
            (json.dumps(sorted(set(tags)), ensure_ascii=False), device_id),
        )


def set_test_flag(ws: Workspace, device_id: int, test: bool) -> None:
    with ws.transaction() as conn:
        conn.execute("UPDATE devices SET test = ? WHERE id = ?", (int(test), device_id))


def all_tags(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.query("SELECT DISTINCT tag FROM device_tags ORDER BY tag")]


def locales(ws: Workspace) -> list[str]:
    """Every locale a device has, sorted ('' left out)."""
    rows = ws.query("SELECT DISTINCT locale FROM devices WHERE locale != '' ORDER BY locale")
    return [r[0] for r in rows]


def timezones(ws: Workspace) -> list[str]:
    """Every time zone a device has, sorted ('' left out)."""
    rows = ws.query("SELECT DISTINCT timezone FROM devices WHERE timezone != '' ORDER BY timezone")
    return [r[0] for r in rows]


def sampled_attribute_names(ws: Workspace) -> list[str]:
    """The attribute names of the first 2,000 devices, sorted: a cheap sample to offer
    (reading every device's attributes would take seconds at a million)."""
    return [
        r[0]
        for r in ws.query(
            "SELECT DISTINCT j.key FROM (SELECT attributes FROM devices LIMIT 2000) d,"
            + (
                " json_each(d.attributes) j ORDER BY j.key"
                if ws.dialect.is_sqlite
                else " jsonb_object_keys(CAST(d.attributes AS jsonb)) AS j(key) ORDER BY j.key"
            )
        )
    ]
