"""Device export to CSV or NDJSON, in the same column names the importer reads.

CSV cells that a spreadsheet would take for a formula are written with a leading ``'``
(``csv_cells``); the importer reads them back to the original text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from pushdeck.core.common.csv_cells import safe_writer
from pushdeck.core.common.model import Device, ProviderKind
from pushdeck.core.store.devices import iter_devices
from pushdeck.core.store.workspace import Workspace

COLUMNS = (
    "token",
    "platform",
    "provider",
    "environment",
    "locale",
    "timezone",
    "tags",
    "opt_in",
    "test",
    "p256dh",
    "auth",
    "last_seen",
    "status",
    "status_reason",
    "token_kind",
)


def device_record(device: Device) -> dict[str, Any]:
    web = device.provider is ProviderKind.WEBPUSH and device.subscription is not None
    return {
        "token": device.token,
        "platform": device.platform.value,
        "provider": device.provider.value,
        "environment": device.environment.value,
        "locale": device.locale,
        "timezone": device.timezone,
        "tags": ";".join(device.tags),
        "opt_in": device.opt_in.value,
        "test": "true" if device.test else "false",
        "p256dh": device.subscription.p256dh if web and device.subscription else "",
        "auth": device.subscription.auth if web and device.subscription else "",
        "last_seen": device.last_seen.strftime("%Y-%m-%dT%H:%M:%SZ") if device.last_seen else "",
        "status": device.status.value,
        "status_reason": device.status_reason,
        "token_kind": device.token_kind.value,
    }


def export_devices(
    ws: Workspace, out: IO[str], fmt: str, *, where: str = "", params: Sequence[Any] = ()
) -> int:
    """Write matching devices to ``out``; return how many were written."""
    count = 0
    writer: Any = None
    for device in iter_devices(ws, where=where, params=params):
        record = device_record(device)
        if fmt == "ndjson":
            record["tags"] = list(device.tags)
            record["attributes"] = dict(device.attributes)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            if writer is None:
                writer = safe_writer(out)
                writer.writerow([*COLUMNS, "attributes"])
            writer.writerow(
                [
                    *record.values(),
                    json.dumps(dict(device.attributes), ensure_ascii=False, sort_keys=True),
                ]
            )
        count += 1
    if fmt == "csv" and writer is None:
        safe_writer(out).writerow([*COLUMNS, "attributes"])
    return count
