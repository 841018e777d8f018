"""One sender per campaign: a lease in the workspace's meta table.

Two processes sending the same campaign (the app and a cron ``run-due``, say) would
each "recover" the other's in-flight rows and send them again. The first sender
takes a lease (process id, host, heartbeat); another refuses to start while the
holder is alive. A lease whose process is gone (kill -9) or whose heartbeat is older
than ``LEASE_TTL`` is taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.store import leases
from pushdeck.core.store.workspace import Workspace

LEASE_TTL = 60.0  # seconds without a heartbeat after which a lease is stale
HEARTBEAT = 5.0  # seconds between renewals while sending


def _key(campaign_id: int) -> str:
    return f"campaign_sender:{campaign_id}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _held_by_other(value: str | None) -> dict[str, object] | None:
    if not value:
        return None
    lease = json.loads(value)
    if time.time() - float(lease["at"]) > LEASE_TTL:
        return None
    if lease["host"] == socket.gethostname() and not _alive(int(lease["pid"])):
        return None
    return dict(lease)


def acquire(ws: Workspace, campaign_id: int, name: str) -> str:
    """Take the campaign's sender lease or raise ConfigError naming the holder."""
    token = uuid.uuid4().hex
    holder = leases.take(ws, _key(campaign_id), _value(token), _held_by_other)
    if holder is not None:
        raise ConfigError(
            f"Campaign {name!r} is being sent by another Pushdeck process "
            f"(pid {holder['pid']} on {holder['host']}).",
            hint="Wait for it to finish, or pause it with "
            f"'pushdeck campaigns pause {name}'. Two senders would send twice.",
        )
    return token


def _value(token: str) -> str:
    return json.dumps(
        {"token": token, "pid": os.getpid(), "host": socket.gethostname(), "at": time.time()}
    )


def renew(ws: Workspace, campaign_id: int, token: str) -> None:
    leases.renew(ws, _key(campaign_id), token, _value(token))


def release(ws: Workspace, campaign_id: int, token: str) -> None:
    leases.release(ws, _key(campaign_id), token)


def is_sending(ws: Workspace, campaign_id: int) -> bool:
    """A live sender (this process or another) holds the campaign's lease right now."""
    return _held_by_other(leases.current(ws, _key(campaign_id))) is not None
