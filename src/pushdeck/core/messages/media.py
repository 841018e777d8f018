"""Fetching the image a message refers to by URL, so the previews can show it.

The app does no network I/O itself (an import-linter contract), so its image loader calls
``fetch_image`` from a worker thread, never the GUI thread. What a device would do is
mirrored loosely: http(s) or data: URLs, redirects followed, an image content type
required, and a size cap well above what the platforms display (APNs notification
service extensions and FCM both work with images of a few MB at most).

An image URL is data from outside (a campaign file, a teammate's draft), so fetching it
must not become a way into the user's network (``core.netguard``): every hop, redirects
included, goes only to public addresses, checked after resolving and then connected to
exactly (TLS still names the host). Redirects are followed here, one checked hop at a
time, never by the HTTP library. One overall deadline bounds each image, so a server that
drips a byte at a time cannot hold a preview thread. System proxy settings are not used:
through a proxy the address actually reached could not be checked.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from pushdeck.core.common.errors import TransportError, ValidationError
from pushdeck.core.net import netguard
from pushdeck.core.net.tls import system_trust_context

MAX_IMAGE_BYTES = 10 * 1024 * 1024
#: Seconds one connection attempt or one read may wait.
TIMEOUT_SECONDS = 10.0
#: Seconds one image may take in all (every redirect, every byte).
DEADLINE_SECONDS = 20.0
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


def fetch_image(
    url: str,
    *,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_IMAGE_BYTES,
    context: ssl.SSLContext | None = None,
    deadline: float | None = None,
) -> bytes:
    """The bytes of the image at ``url``; raise a clear error for anything else.

    ``deadline`` (default ``DEADLINE_SECONDS``) bounds the whole fetch, redirects included.
    """
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "data"):
        raise ValidationError(f"{url!r} is not an http(s) or data: URL.", field="image_url")
    if scheme == "data":
        return _data_url(url, max_bytes)
    allowed = DEADLINE_SECONDS if deadline is None else deadline
    ends_at = time.monotonic() + allowed
    for _ in range(MAX_REDIRECTS + 1):
        problem = netguard.url_problem(url, schemes=("http", "https"))
        if problem:
            raise netguard.refusal(_short(url), problem, field="image_url")
        response = _Get(url, timeout, (ends_at, allowed), context)
        try:
            location = response.start()
            if location is None:
                return response.image(max_bytes)
        finally:
            response.close()
        url = urljoin(url, location)
    raise TransportError(f"{_short(url)}: more than {MAX_REDIRECTS} redirects.")


class _PinnedConnection(http.client.HTTPConnection):
    """HTTP(S) to one already checked address; the Host header and TLS name the host.

    ``watch`` is called with the socket as soon as it exists, before the TLS handshake,
    so that the deadline covers the handshake too.
    """

    def __init__(
        self,
        host: str,
        port: int,
        address: str,
        timeout: float,
        tls: ssl.SSLContext | None,
        watch: Callable[[socket.socket], None],
    ) -> None:
        super().__init__(host, port, timeout=timeout)
        self.default_port = 443 if tls is not None else 80  # Host: without a default port
        self.address = address
        self.tls = tls
        self.watch = watch

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.tls is not None:
            sock = self.tls.wrap_socket(
                sock, server_hostname=self.host, do_handshake_on_connect=False
            )
        self.sock = sock
        self.watch(sock)
        if isinstance(sock, ssl.SSLSocket):
            sock.do_handshake()


class _Get:
    """One GET of one URL (one hop), cut off at the overall deadline."""

    def __init__(
        self,
        url: str,
        timeout: float,
        deadline: tuple[float, float],
        context: ssl.SSLContext | None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.ends_at, self.allowed = deadline  # monotonic end, and the seconds it allows
        self.context = context
        self.conn: _PinnedConnection | None = None
        self.response: http.client.HTTPResponse | None = None
        self.cut = threading.Event()
        self.watchdog: threading.Timer | None = None

    def start(self) -> str | None:
        """Send the request and read the status; the redirect target, or None."""
        parts = urlsplit(self.url)
        https = parts.scheme.lower() == "https"
        host, port = parts.hostname or "", parts.port or (443 if https else 80)
        try:
            addresses = netguard.resolve_public_sync(host, port)
        except OSError as exc:
            raise TransportError(f"{_short(self.url)} could not be fetched: {exc}.") from None
        tls = (self.context or system_trust_context()) if https else None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        response = self._request(host, port, addresses, path, tls)
        if response.status in _REDIRECTS and response.getheader("Location"):
            return response.getheader("Location")
        if response.status != 200:
            raise TransportError(f"{_short(self.url)}: the server answered HTTP {response.status}.")
        return None

    def _request(
        self, host: str, port: int, addresses: list[str], path: str, tls: ssl.SSLContext | None
    ) -> http.client.HTTPResponse:
        error: Exception | None = None
        for address in addresses:  # in the resolver's order, as a connection to a name would
            self.conn = _PinnedConnection(host, port, address, self._wait(), tls, self._arm)
            try:
                self.conn.connect()
                headers = {"User-Agent": "Pushdeck preview", "Accept": "image/*"}
                self.conn.request("GET", path, headers=headers)
                self.response = self.conn.getresponse()
                return self.response
            except (OSError, http.client.HTTPException) as exc:
                error = exc
                self.close()
                if self.cut.is_set():
                    break
        raise self._failure(error)

    def image(self, max_bytes: int) -> bytes:
        """The body, checked to be an image within ``max_bytes``."""
        response = self.response
        assert response is not None
        kind = response.headers.get_content_type()
        if not kind.startswith("image/"):
            raise ValidationError(
                f"{_short(self.url)} is not an image: the server sent {kind}.",
                field="image_url",
                hint="Point the message at the image file itself (PNG, JPEG, GIF).",
            )
        length = response.getheader("Content-Length", "")
        if length.isdigit() and int(length) > max_bytes:
            raise _too_large(self.url, max_bytes)
        try:
            data = response.read(max_bytes + 1)
        except (OSError, http.client.HTTPException) as exc:
            raise self._failure(exc) from None
        if self.cut.is_set():
            raise self._failure(None)
        if len(data) > max_bytes:
            raise _too_large(self.url, max_bytes)
        if length.isdigit() and len(data) < int(length):
            raise TransportError(
                f"{_short(self.url)}: the server closed the connection after {len(data):,} "
                f"of {int(length):,} bytes."
            )
        return data

    def _wait(self) -> float:
        remaining = self.ends_at - time.monotonic()
        if remaining <= 0:
            raise self._failure(None, cut=True)
        return min(self.timeout, remaining)

    def _arm(self, sock: socket.socket) -> None:
        # Per-read timeouts do not bound a server that sends one byte just in time, again
        # and again: at the deadline the socket is shut down, which ends any read.
        remaining = max(0.0, self.ends_at - time.monotonic())

        def cut() -> None:
            self.cut.set()
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

        self.watchdog = threading.Timer(remaining, cut)
        self.watchdog.daemon = True
        self.watchdog.start()

    def _failure(self, exc: Exception | None, *, cut: bool = False) -> TransportError:
        if cut or self.cut.is_set():
            return TransportError(
                f"{_short(self.url)} took longer than the {self.allowed:g} s allowed for "
                "one image.",
                hint="The server is too slow for a preview; host the image somewhere faster.",
            )
        reason = getattr(exc, "reason", None) or exc
        return TransportError(f"{_short(self.url)} could not be fetched: {reason}.")

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.conn is not None:
            self.conn.close()


def _data_url(url: str, max_bytes: int) -> bytes:
    # data: URLs need no network; urllib decodes them (and nothing else here).
    try:
        with urllib.request.urlopen(url) as response:
            data: bytes = response.read(max_bytes + 1)
    except (urllib.error.URLError, ValueError, OSError) as exc:
        raise ValidationError(f"{_short(url)} is not a valid data: URL ({exc}).") from None
    if len(data) > max_bytes:
        raise _too_large(url, max_bytes)
    return data


def _too_large(url: str, max_bytes: int) -> ValidationError:
    return ValidationError(
        f"{_short(url)} is larger than {max_bytes // (1024 * 1024)} MB.",
        field="image_url",
        hint="Devices may not show an image this large; use a smaller one.",
    )


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "…"
