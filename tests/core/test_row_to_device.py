"""Decoding a device row (every recipient of a send goes through it) gives exactly the
Device the dataclass constructor gives, and a row edited outside Pushdeck is named."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

import pytest

from pushdeck.core.common.errors import WorkspaceError
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
from pushdeck.core.store import Workspace
from pushdeck.core.store.devices import list_devices, row_to_device
from tests.core.campaign_helpers import add_devices


def _reference(row: dict[str, object]) -> Device:
    """What the old decoder built, through the dataclass constructor."""

    def when(value: object) -> datetime | None:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None

    provider = ProviderKind(row["provider"])
    web = provider is ProviderKind.WEBPUSH
    return Device(
        app="shop", platform=Platform(row["platform"]), provider=provider,
        token=str(row["token"]),
        subscription=WebPushSubscription(str(row["token"]), str(row["p256dh"]),
                                         str(row["auth"])) if web else None,
        environment=ApnsEnvironment(row["environment"]), opt_in=OptIn(row["opt_in"]),
        locale=str(row["locale"]), timezone=str(row["timezone"]),
        tags=tuple(json.loads(str(row["tags"]))), attributes=json.loads(str(row["attributes"])),
        test=bool(row["test"]), created_at=when(row["created_at"]),
        last_seen=when(row["last_seen"]), status=DeviceStatus(row["status"]),
        status_reason=str(row["status_reason"]), status_at=when(row["status_at"]),
        token_kind=TokenKind(row["token_kind"]), id=int(str(row["id"])),
    )  # fmt: skip


def test_rows_decode_exactly_as_the_constructor_builds_them(ws: Workspace) -> None:
    add_devices(
        ws,
        [
            {"token": "a" * 64, "tags": ["vip", "beta"], "attributes": {"n": 1, "x": [1]}},
            {"token": "https://push.example/1", "provider": "webpush", "locale": "pt-BR"},
            {"token": "fcm-1", "provider": "fcm", "opt_in": "denied", "test": True},
        ],
    )
    ws.conn.execute(
        "UPDATE devices SET status = 'unregistered', status_reason = 'gone',"
        " status_at = '2026-01-02T03:04:05Z', token_kind = 'device' WHERE token = 'fcm-1'"
    )
    # list_devices pages by id; PostgreSQL returns an unordered SELECT in any order.
    rows = ws.query(
        "SELECT d.*, a.name AS app FROM devices d JOIN apps a ON a.id = d.app_id ORDER BY d.id"
    )
    assert len(rows) == 3
    for row in rows:
        device = row_to_device(row)
        expected = _reference(dict(zip(row.keys(), tuple(row), strict=True)))
        assert device == expected
        assert dataclasses.asdict(device) == dataclasses.asdict(expected)  # every field set
        assert hash(device.platform) == hash(expected.platform)
    assert [d.token for d in list_devices(ws)] == [r["token"] for r in rows]


def test_a_row_edited_outside_pushdeck_is_named(ws: Workspace) -> None:
    add_devices(ws, [{"token": "a" * 64}])
    ws.conn.execute("UPDATE devices SET platform = 'palm'")
    row = ws.query("SELECT d.*, a.name AS app FROM devices d JOIN apps a ON a.id = d.app_id")[0]
    with pytest.raises(WorkspaceError, match="'palm' is not a valid Platform") as info:
        row_to_device(row)
    assert "table 'devices'" in (info.value.hint or "")
