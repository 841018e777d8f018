"""The collector's HTTP/1.1, read strictly: every request gets an answer, never a crash.

Whoever can reach the collector's port can send it anything, so nothing here trusts
the bytes: the request line, header names and ``Content-Length`` are checked against
the grammar (RFC 9112) rather than split and converted, and a failed check is an
``HttpError`` that becomes a 4xx answer. Only what the collector needs is supported:
one request per connection, a body of known length (no chunked uploads).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Longest request line plus headers. Real posts send a few hundred bytes.
MAX_HEAD = 16 * 1024
#: Largest body; a bigger one is answered 413 as soon as its Content-Length is read.
MAX_BODY = 5 * 1024 * 1024

_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    421: "Misdirected Request",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP/(\d)\.(\d)")
_DIGITS = re.compile(r"[0-9]{1,12}")
_SINGLE = frozenset({"content-length", "host", "authorization"})


class HttpError(Exception):
    """A request that cannot be served; ``status`` and ``reason`` are the answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: Mapping[str, str]  # lower-case names; values decoded as Latin-1, as sent

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


def parse_head(head: bytes) -> Request:
    """The request line and headers (``head`` ends with the blank line)."""
    lines = head[:-4].split(b"\r\n") if head.endswith(b"\r\n\r\n") else [b""]
    match = _REQUEST_LINE.fullmatch(lines[0])
    if match is None:
        raise HttpError(400, "malformed request line; expected e.g. 'POST /events HTTP/1.1'")
    method, target, major, _minor = match.groups()
    if major != b"1":
        raise HttpError(505, "only HTTP/1.1 is spoken here")
    if not (target.startswith(b"/") or target == b"*"):
        raise HttpError(400, "the request target must be a path like /events")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        # No folded lines and no space before the colon: both are request-smuggling tools.
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpError(400, "malformed header line")
        key = name.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if key in _SINGLE and key in headers and headers[key] != text:
            raise HttpError(400, f"conflicting {key} headers")
        headers[key] = text
    return Request(method.decode("ascii"), target.decode("latin-1"), headers)


def content_length(request: Request) -> int:
    """The declared body size, checked: plain digits, within MAX_BODY."""
    if "transfer-encoding" in request.headers:
        raise HttpError(411, "chunked bodies are not accepted; send a Content-Length")
    value = request.headers.get("content-length")
    if value is None:
        raise HttpError(411, "Content-Length is required")
    if not _DIGITS.fullmatch(value):
        raise HttpError(400, "Content-Length must be a whole number of bytes")
    length = int(value)
    if length > MAX_BODY:
        raise HttpError(413, f"body over {MAX_BODY} bytes; send smaller batches")
    return length


def parse_body(body: bytes) -> list[Any]:
    """The events in a body: one object, a list, or ``{"events": [...]}``."""
    try:
        doc = json.loads(body)
    except RecursionError:
        raise HttpError(400, "body is not JSON (nested too deeply)") from None
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, a 5,000-digit number
        raise HttpError(400, f"body is not JSON ({_short(str(exc))})") from None
    events = doc.get("events") if isinstance(doc, dict) and "events" in doc else doc
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        raise HttpError(400, "send an event object, a list, or {'events': [...]}")
    return events


def _short(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Response:
    status: int
    body: Mapping[str, Any] | None = None
    extra_headers: tuple[str, ...] = ()

    def encode(self) -> bytes:
        payload = json.dumps(self.body).encode() if self.body is not None else b""
        head = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, '')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            "Connection: close",
            "Access-Control-Allow-Origin: *",
            "Access-Control-Allow-Headers: Authorization, Content-Type",
            "Access-Control-Allow-Methods: POST, GET, OPTIONS",
            *self.extra_headers,
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def error(status: int, reason: str, *extra_headers: str) -> Response:
    return Response(status, {"error": reason}, extra_headers)


def is_loopback_host(host: str) -> bool:
    """Whether listening on ``host`` keeps the collector on this computer."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_wildcard_host(host: str) -> bool:
    return host.strip("[]") in ("", "0.0.0.0", "::")


@dataclass
class HostCheck:
    """Which ``Host`` headers name this collector (a defence against DNS rebinding).

    A web page on evil.example can re-point its own name at 127.0.0.1 and have the
    browser post to the collector; the browser still sends ``Host: evil.example``.
    So a name in ``Host`` must be one the collector listens on: ``localhost`` on
    loopback, this computer's own names on every interface, or one given with
    ``--allow-host`` (e.g. a reverse proxy's). An IP address is always accepted:
    rebinding needs a name the attacker controls, and an address is what a phone on
    the LAN or an Android emulator (10.0.2.2 is the host's loopback) sends.
    """

    listen_host: str
    allowed: Iterable[str] = ()
    names: set[str] = field(init=False, default_factory=set)
    any_address: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.names = {_host_name(self.listen_host)} | {_host_name(h) for h in self.allowed}
        self.any_address = is_wildcard_host(self.listen_host)
        if self.any_address or is_loopback_host(self.listen_host):
            self.names |= {"localhost", "127.0.0.1", "::1"}
        if self.any_address:
            own = socket.gethostname().lower()
            self.names |= {own, f"{own}.local", own.split(".")[0]}

    def allows(self, header: str) -> bool:
        host = _split_host(header)
        if host is None:
            return False
        return host in self.names or _is_ip_literal(host)


def _host_name(host: str) -> str:
    return host.strip().strip("[]").lower().rstrip(".")


def _split_host(header: str) -> str | None:
    """The name in a Host header (``name``, ``name:port``, ``[v6]:port``), or None."""
    header = header.strip()
    if header.startswith("["):
        host, bracket, rest = header[1:].partition("]")
        if not bracket or (rest and not (rest[:1] == ":" and rest[1:].isdecimal())):
            return None
        return host.lower()
    host, colon, port = header.partition(":")
    if colon and not (port.isascii() and port.isdecimal()):
        return None
    return _host_name(host) or None


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
