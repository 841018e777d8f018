"""A test-local DNS: chosen names resolve to chosen addresses, in this process only.

Pushdeck resolves names with ``socket.getaddrinfo`` (directly, or through the event
loop's ``getaddrinfo``, which looks it up at call time), so patching it is enough to make
``push.pushdeck.test`` point at a fake server on 127.0.0.1, as a hostile DNS answer would.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

import pytest


def override_dns(
    monkeypatch: pytest.MonkeyPatch, names: Mapping[str, str | list[str]]
) -> list[str]:
    """Resolve each of ``names`` (host → IP address or addresses, in order); return the
    list of names asked for."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name in names:
            asked.append(name)
            answer = names[name]
            addresses = [answer] if isinstance(answer, str) else answer
            return [info for a in addresses for info in real(a, port, *args, **kwargs)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
