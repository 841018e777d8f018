"""The local event collector: a small HTTP/1.1 server apps report engagement to.

``POST /events`` with ``Authorization: Bearer <token>`` and a JSON body that is one
event, a list of events, or ``{"events": [...]}`` (the fields of
``pushdeck.core.engagement.events``).
The answer is JSON: how many were recorded, duplicates, and each rejected event with
its index, field and reason. ``GET /health`` needs no token. Browsers (the service
worker) get CORS headers, so a page on the app's origin may post too.

It listens on 127.0.0.1 by default; the token is per workspace (``collector_token``).
The server runs on its own asyncio loop in its own thread with its own SQLite
connection (connections belong to the thread that opened them). It expects a hostile
network: see ``Collector`` for the bounds, ``collector_http`` for the parsing, and
``pushdeck.core.engagement.events`` for how each event is checked against the send journal.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from pushdeck.core.common.errors import ConfigError
from pushdeck.core.engagement.collector_http import (
    MAX_HEAD,
    HostCheck,
    HttpError,
    Request,
    Response,
    content_length,
    error,
    parse_body,
    parse_head,
)
from pushdeck.core.engagement.events import record_events
from pushdeck.core.store.dialect import is_postgres_uri
from pushdeck.core.store.events import get_collector_token, set_collector_token
from pushdeck.core.store.workspace import Workspace

#: Whole request head must arrive within this: a slowloris trickle gets no longer.
HEADER_TIMEOUT = 10.0
#: Whole body (at most 5 MB) must arrive within this once the head is read.
BODY_TIMEOUT = 30.0
#: After answering, how long unread request bytes are drained before closing, so the
#: client reads the answer instead of a reset (a 413 sent while it is still sending).
LINGER_TIMEOUT = 2.0
#: An answer the client does not read within this is dropped.
WRITE_TIMEOUT = 10.0
#: Connections the kernel holds until they are accepted; asyncio also accepts up to this
#: many in one go before any handler runs, so it counts against file descriptors too.
BACKLOG = 128


def collector_token(ws: Workspace, *, rotate: bool = False) -> str:
    """The workspace's collector token, created on first use (or replaced on ``rotate``).

    It only lets a caller add engagement events to this workspace, so it lives in the
    workspace (unlike provider secrets, which stay in the keyring).
    """
    current = get_collector_token(ws)
    if current and not rotate:
        return current
    token = secrets.token_urlsafe(32)
    set_collector_token(ws, token)
    return token


def default_max_connections() -> int:
    """Open connections allowed at once: well inside this process's file descriptors.

    Past the limit, accept() fails and asyncio stops accepting for a second, real
    clients included; half the descriptors left after a burst of accepts keeps clear
    of it (416 with the common limit of 1,024).
    """
    try:
        import resource
    except ImportError:  # Windows: no such limit on sockets
        return 512
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 512
    return max(8, min(512, (soft - 64 - BACKLOG) // 2))


class RateLimitedLog:
    """At most ``burst`` lines per ``window`` seconds; the rest are counted, then summed up.

    A flood of bad connections must not become a flood of stderr (tens of MB a minute).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        burst: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.burst = burst
        self.window = window
        self.clock = clock
        self._started = clock()
        self._written = 0
        self.suppressed = 0

    def __call__(self, message: str) -> None:
        now = self.clock()
        if now - self._started >= self.window:
            if self.suppressed:
                self._write(f"{self.suppressed} more messages suppressed in the last minute")
            self._started, self._written, self.suppressed = now, 0, 0
        if self._written < self.burst:
            self._written += 1
            self._write(message)
        else:
            self.suppressed += 1

    def _write(self, message: str) -> None:
        line = " ".join(message.split())[:300]
        print(f"pushdeck collect: {line}", file=self.stream or sys.stderr, flush=True)


@dataclass(eq=False)
class _Connection:
    """One open connection and what it is doing (idle ones are closed first)."""

    writer: asyncio.StreamWriter
    phase: str = "head"  # head → body → answer → linger

    @property
    def waiting(self) -> bool:
        return self.phase in ("head", "linger")


class Collector:
    """Serve ``POST /events`` for one workspace file, in a background thread.

    Hostile clients are bounded, not trusted: the head must arrive within
    ``header_timeout`` and the body within ``body_timeout``; beyond ``max_connections``
    open connections the oldest waiting one is closed, so idle and slow connections
    cannot keep a real post out; errors reach stderr at most ten lines a minute.
    """

    def __init__(
        self,
        workspace: Path | str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = "",
        allowed_hosts: Iterable[str] = (),
        max_connections: int | None = None,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        log: Callable[[str], None] | None = None,
    ) -> None:
        # A workspace file, or a postgresql:// URI (str) as given.
        self.workspace_path: Path | str = (
            workspace if is_postgres_uri(workspace) else Path(workspace)
        )
        self.host = host
        self.port = port
        self.token = token
        self.hosts = HostCheck(host, tuple(allowed_hosts))
        self.max_connections = max_connections or default_max_connections()
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.log = log or RateLimitedLog()
        self._open: dict[_Connection, None] = {}  # insertion order: oldest first
        self._handlers: set[asyncio.Task[Any]] = set()
        self._evicted = 0
        self._evictions_noted = -60.0
        self._ws: Workspace | None = None
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/events"

    # ---- running in the foreground (``pushdeck collect``) or in a thread (the app)

    async def serve(self, started: threading.Event | None = None) -> None:
        """Open the workspace, bind, and serve until cancelled."""
        self._ws = Workspace.open(self.workspace_path, create=False)
        try:
            if not self.token:
                self.token = collector_token(self._ws)
            asyncio.get_running_loop().set_exception_handler(self._loop_error)
            try:
                self._server = await asyncio.start_server(
                    self._handle, self.host, self.port, limit=MAX_HEAD, backlog=BACKLOG
                )
            except OSError as exc:
                raise ConfigError(
                    f"The event collector cannot listen on {self.host}:{self.port}: "
                    f"{exc.strerror or exc}",
                    hint="Choose another port with --port, or stop what is using it.",
                ) from exc
            self.port = self._server.sockets[0].getsockname()[1]
            if started is not None:
                started.set()
            async with self._server:
                await self._server.serve_forever()
        finally:
            await self._close_connections()
            self._ws.close()

    def start(self) -> Collector:
        """Start in a daemon thread; return once it listens (or raise why it cannot)."""
        self._thread = threading.Thread(target=self._run, name="pushdeck-collector", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._task = loop.create_task(self.serve(self._ready))
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - start() raises it in the caller's thread
            self._startup_error = exc
        finally:
            self._ready.set()
            loop.close()

    def stop(self) -> None:
        """Stop serving and wait for the thread (its connection is closed by then)."""
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(10)

    async def _close_connections(self) -> None:
        """End the connections still open (e.g. lingering) while the loop can run them.

        Their sockets are aborted rather than their tasks cancelled: asyncio's stream
        server reports a cancelled handler as an error.
        """
        for conn in list(self._open):
            conn.writer.transport.abort()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # e.g. "socket.accept() out of system resource": once per accept attempt, so
        # without a limit a file-descriptor shortage writes megabytes a minute.
        self.log(f"{context.get('message', 'error')}: {context.get('exception')!r}")

    # ---- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Connection(writer)
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._open[conn] = None
        if len(self._open) > self.max_connections:
            self._evict(conn)
        try:
            response = await self._answer(reader, conn)
            if response is not None and not writer.transport.is_closing():
                await self._send(reader, conn, response)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client went away or stalled: nobody to answer
        except Exception as exc:  # noqa: BLE001 - a bug must cost one request, not the server
            self.log(f"internal error answering a request: {type(exc).__name__}: {exc}")
            if not writer.transport.is_closing():
                await self._send(reader, conn, error(500, "internal error; see the log"))
        finally:
            self._open.pop(conn, None)
            self._handlers.discard(task)
            writer.transport.abort()

    def _evict(self, newcomer: _Connection) -> None:
        """Over the cap: close the oldest connection that is only waiting (else the oldest)."""
        others = [c for c in self._open if c is not newcomer]
        victim = next((c for c in others if c.waiting), others[0] if others else newcomer)
        self._open.pop(victim, None)
        victim.writer.transport.abort()
        self._evicted += 1
        now = time.monotonic()
        if now - self._evictions_noted >= 60:  # one line a minute, whatever the flood
            self.log(
                f"more than {self.max_connections} connections open: closed "
                f"{self._evicted} idle or slow ones (oldest first)"
            )
            self._evictions_noted, self._evicted = now, 0

    async def _send(
        self, reader: asyncio.StreamReader, conn: _Connection, answer: Response
    ) -> None:
        """Write the answer, then drain what the client still sends before closing.

        Closing a socket with unread bytes makes the kernel send a reset, and the client
        may then lose the answer (e.g. a 413 sent while it is still uploading).
        """
        conn.phase = "answer"
        try:
            conn.writer.write(answer.encode())
            async with asyncio.timeout(WRITE_TIMEOUT):
                await conn.writer.drain()
            conn.writer.write_eof()
            conn.phase = "linger"
            async with asyncio.timeout(LINGER_TIMEOUT):
                while await reader.read(64 * 1024):
                    pass
        except (ConnectionError, TimeoutError, OSError):
            pass

    # ---- HTTP

    async def _answer(self, reader: asyncio.StreamReader, conn: _Connection) -> Response | None:
        try:
            return await self._respond(reader, conn)
        except HttpError as exc:
            return error(exc.status, exc.reason)

    async def _respond(self, reader: asyncio.StreamReader, conn: _Connection) -> Response | None:
        try:
            async with asyncio.timeout(self.header_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return error(408, f"request head not received within {self.header_timeout:g} s")
        except asyncio.LimitOverrunError:
            return error(431, f"request head over {MAX_HEAD} bytes")
        except asyncio.IncompleteReadError as exc:
            return error(400, "request ended before its head") if exc.partial else None
        request = parse_head(head)
        if not self.hosts.allows(request.headers.get("host", "")):
            return error(421, "this collector is not addressed by that Host name")
        if request.method == "OPTIONS":
            return Response(204)
        if request.path == "/health" and request.method == "GET":
            return Response(200, {"ok": True})
        if request.path != "/events":
            return error(404, "unknown path; post events to /events")
        if request.method != "POST":
            return error(405, "use POST", "Allow: POST, OPTIONS")
        if not self._authorized(request):
            return error(401, "missing or wrong token (Authorization: Bearer <token>)")
        length = content_length(request)
        conn.phase = "body"
        try:
            async with asyncio.timeout(self.body_timeout):
                body = await reader.readexactly(length)
        except TimeoutError:
            return error(408, f"body not received within {self.body_timeout:g} s")
        except asyncio.IncompleteReadError as exc:
            return error(
                400, f"body ended after {len(exc.partial)} of its {length} bytes (Content-Length)"
            )
        conn.phase = "answer"
        return self._record(body)

    def _authorized(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        # Header values are Latin-1 as sent; compare bytes, so any byte is just a mismatch.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode("latin-1"), self.token.encode()
        )

    def _record(self, body: bytes) -> Response:
        events = parse_body(body)
        assert self._ws is not None
        report = record_events(self._ws, events, first_row=0, batch=None)
        status = 400 if events and report.rejected == len(events) else 200
        return Response(status, report.as_dict())
