"""Which addresses data from outside may make Pushdeck connect to: public ones only.

A Web Push endpoint is chosen by whoever made the subscription, a preview image URL by
whoever wrote the campaign file. Left unchecked, either turns Pushdeck into a way into
the user's own network (a router's admin page, a cloud metadata service at
169.254.169.254, a database on localhost). So every such URL is checked twice:

- ``url_problem``: before anything else (a device file's rows at import, a send, each
  image redirect): the scheme, no ``user:password@``, and a host that is not a local
  name or a non-public address, in any spelling (``[::1]``, ``2130706433``, ``0x7f.1``,
  ``::ffff:127.0.0.1``).
- ``resolve_public`` / ``resolve_public_sync``: at connect time, the name is resolved
  once and *every* address it has must be public; the caller then connects to exactly
  those addresses (TLS still names the host), so a DNS answer that changes between the
  check and the connection (DNS rebinding) cannot slip through.

The push services browsers use (``PUSH_SERVICES``) are all public and need no
exception; any other host is allowed only when it resolves to public addresses.

One opt-in, for test rigs and labs: ``PUSHDECK_ALLOW_LOCAL_ENDPOINTS=1`` lifts the
address checks (never the scheme and user-info checks), and says so once per process
as a logging warning (stderr unless the program configured logging). Operator-set
credential endpoints (``--endpoint`` for APNs and FCM) never pass through here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import Any
from urllib.parse import urlsplit

from pushdeck.core.common.errors import ValidationError

ALLOW_LOCAL_ENV = "PUSHDECK_ALLOW_LOCAL_ENDPOINTS"
#: The push services browsers subscribe with (the normal case; all public).
PUSH_SERVICES = (
    "fcm.googleapis.com",
    "updates.push.services.mozilla.com",
    "web.push.apple.com",
    "*.notify.windows.com",
)

_log = logging.getLogger(__name__)
_warned = False

Address = IPv4Address | IPv6Address

_PRIVATE_V4 = tuple(IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_SHARED_V4 = IPv4Network("100.64.0.0/10")  # carrier-grade NAT: the ISP's side of the user
_UNIQUE_LOCAL = IPv6Network("fc00::/7")
_NAT64 = IPv6Network("64:ff9b::/96")  # reaches the IPv4 address in its last 32 bits
#: What getaddrinfo (inet_aton) also reads as an IPv4 address: 1-4 parts, each decimal,
#: octal (leading 0) or hex (0x), e.g. 2130706433, 0x7f.1, 0177.0.0.1, 127.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?")
#: Names that only ever mean this machine or its local network (RFC 6761, 6762, 8375).
_LOCAL_SUFFIXES = (".localhost", ".local", ".home.arpa", ".internal", ".lan")


#: How ``url_problem`` starts a problem with the URL's form rather than its address.
_FORM_PROBLEMS = ("must ", "is not a valid URL", "has no host")


class AddressRefused(ValidationError):
    """A URL from outside points at this machine or a private network."""


def local_addresses_allowed() -> bool:
    """True when ``PUSHDECK_ALLOW_LOCAL_ENDPOINTS=1`` (warned about once per process)."""
    global _warned
    if os.environ.get(ALLOW_LOCAL_ENV, "") != "1":
        return False
    if not _warned:
        _warned = True
        _log.warning(
            "%s=1: Web Push endpoints and preview images may point at this machine and "
            "private networks. Use this only for test rigs and labs.",
            ALLOW_LOCAL_ENV,
        )
    return True


def address_problem(address: Address) -> str:
    """Why ``address`` is not a public address ('' when it is), e.g. 'a loopback address'."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            if problem or address.ipv4_mapped is not None:
                return f"{problem} (as {embedded})" if problem else ""
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
    )
    for failed, what in checks:
        if failed:
            return what
    if isinstance(address, IPv4Address):
        if any(address in net for net in _PRIVATE_V4):
            return "a private address"
        if address in _SHARED_V4:
            return "a shared (carrier-grade NAT) address"
    else:
        if address in _UNIQUE_LOCAL:
            return "a unique-local address"
        if address.is_site_local:
            return "a site-local address"
    if not address.is_global or (isinstance(address, IPv4Address) and address.is_reserved):
        return "a reserved address, not a public one"
    return ""


def literal_address(host: str) -> Address | None:
    """The address ``host`` spells, in any form getaddrinfo accepts; None for a name."""
    host = host.strip("[]").replace("%25", "%")
    try:
        return ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host.lower()):
        try:
            return IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return IPv4Address(0)  # not valid as written: never a name to resolve either
    return None


def host_problem(host: str) -> str:
    """Why connecting to ``host`` is refused ('' when it may be resolved and checked)."""
    address = literal_address(host)
    if address is not None:
        problem = address_problem(address)
        return f"{host} is {problem}" if problem else ""
    try:
        name = host.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return f"{host!r} is not a valid host name"
    if name == "localhost" or name.endswith(_LOCAL_SUFFIXES):
        return f"{host} names this machine or the local network"
    if "." not in name:
        return f"{host} is a single-label name, resolved on the local network only"
    return ""


def url_problem(url: str, *, schemes: Sequence[str] = ("https",)) -> str:
    """Why Pushdeck must not connect to ``url`` ('' when the host may be resolved)."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme.lower() not in schemes:
        return f"must be an {' or '.join(schemes)} URL"
    if "@" in parts.netloc:
        return "must not contain a user name or password (user:password@)"
    if not parts.hostname:
        return "has no host"
    if local_addresses_allowed():
        return ""
    return host_problem(parts.hostname)


def refusal(what: str, problem: str, *, field: str) -> AddressRefused:
    """The error for a refused URL or address, with what to do about it."""
    if problem.startswith(_FORM_PROBLEMS):  # not about the address: the URL itself
        return AddressRefused(f"{what} {problem}.", field=field)
    return AddressRefused(
        f"{what} {problem}: Pushdeck connects only to public addresses.",
        field=field,
        hint=f"Browsers' push services ({', '.join(PUSH_SERVICES)}) are public. For a "
        f"test rig or lab on your own network, set {ALLOW_LOCAL_ENV}=1.",
    )


def _checked(host: str, infos: Sequence[tuple[Any, ...]], field: str) -> list[str]:
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0])
        if text not in addresses:
            addresses.append(text)
    if local_addresses_allowed():
        return addresses
    for text in addresses:
        problem = address_problem(ip_address(text.split("%", 1)[0]))
        if problem:
            raise refusal(f"{host} resolves to {text},", problem, field=field)
    return addresses


async def resolve_public(host: str, port: int, *, field: str = "endpoint") -> list[str]:
    """Resolve ``host`` once; its addresses, all checked public, to connect to in order.

    Raises ``AddressRefused`` when any address is not public, ``OSError`` when the name
    does not resolve.
    """
    problem = "" if local_addresses_allowed() else host_problem(host)
    if problem:
        raise refusal("The host", problem, field=field)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _checked(host, infos, field)


def resolve_public_sync(host: str, port: int, *, field: str = "image_url") -> list[str]:
    """``resolve_public`` for blocking code (the preview image fetcher)."""
    problem = "" if local_addresses_allowed() else host_problem(host)
    if problem:
        raise refusal("The host", problem, field=field)
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _checked(host, infos, field)
