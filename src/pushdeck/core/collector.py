"""The local event collector: a small HTTP/1.1 server apps report engagement to.

``POST /events`` with ``Authorization: Bearer <token>`` and a JSON body that is one
event, a list of events, or ``{"events": [...]}`` (the fields of ``pushdeck.core.events``).
The answer is JSON: how many were recorded, duplicates, and each rejected event with
its index, field and reason. ``GET /health`` needs no token. Browsers (the service
worker) get CORS headers, so a page on the app's origin may post too.

It listens on 127.0.0.1 by default; the token is per workspace (``collector_token``).
The server runs on its own asyncio loop in its own thread with its own SQLite
connection (connections belong to the thread that opened them).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pushdeck.core.errors import ConfigError
from pushdeck.core.events import record_events
from pushdeck.core.store.workspace import Workspace

TOKEN_KEY = "collector_token"
MAX_BODY = 5 * 1024 * 1024
MAX_HEADER = 64 * 1024
_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    411: "Length Required",
    413: "Payload Too Large",
}


def collector_token(ws: Workspace, *, rotate: bool = False) -> str:
    """The workspace's collector token, created on first use (or replaced on ``rotate``).

    It only lets a caller add engagement events to this workspace, so it lives in the
    workspace (unlike provider secrets, which stay in the keyring).
    """
    current = ws.scalar("SELECT value FROM meta WHERE key = ?", (TOKEN_KEY,))
    if current and not rotate:
        return str(current)
    token = secrets.token_urlsafe(32)
    with ws.transaction() as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (TOKEN_KEY, token))
    return token


@dataclass(frozen=True)
class Response:
    status: int
    body: Mapping[str, Any] | None = None

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
        ]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def _error(status: int, reason: str) -> Response:
    return Response(status, {"error": reason})


class Collector:
    """Serve ``POST /events`` for one workspace file, in a background thread."""

    def __init__(
        self, workspace: Path | str, *, host: str = "127.0.0.1", port: int = 0, token: str = ""
    ) -> None:
        self.workspace_path = Path(workspace)
        self.host = host
        self.port = port
        self.token = token
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
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            if started is not None:
                started.set()
            async with self._server:
                await self._server.serve_forever()
        finally:
            self._ws.close()

    def start(self) -> Collector:
        """Start in a daemon thread; return once it listens (or raise why it cannot)."""
        self._thread = threading.Thread(target=self._run, name="pushdeck-collector", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._startup_error is not None:
            raise ConfigError(
                f"The event collector cannot listen on {self.host}:{self.port}: "
                f"{self._startup_error}",
                hint="Choose another port with --port, or stop what is using it.",
            )
        return self

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        self._task = loop.create_task(self.serve(self._ready))
        try:
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except OSError as exc:
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

    # ---- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            response = await self._respond(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            response = _error(400, "malformed HTTP request")
        try:
            writer.write(response.encode())
            await writer.drain()
        finally:
            writer.close()

    async def _respond(self, reader: asyncio.StreamReader) -> Response:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > MAX_HEADER:
            return _error(400, "headers too large")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {
            k.strip().lower(): v.strip()
            for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
        }
        if method == "OPTIONS":
            return Response(204)
        path = target.split("?", 1)[0]
        if path == "/health" and method == "GET":
            return Response(200, {"ok": True})
        if path != "/events":
            return _error(404, "unknown path; post events to /events")
        if method != "POST":
            return _error(405, "use POST")
        if not self._authorized(headers.get("authorization", "")):
            return _error(401, "missing or wrong token (Authorization: Bearer <token>)")
        length = headers.get("content-length")
        if length is None:
            return _error(411, "Content-Length is required")
        if int(length) > MAX_BODY:
            return _error(413, f"body over {MAX_BODY} bytes; send smaller batches")
        body = await reader.readexactly(int(length))
        return self._record(body)

    def _authorized(self, header: str) -> bool:
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), self.token)

    def _record(self, body: bytes) -> Response:
        try:
            doc = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not JSON ({exc})")
        events = doc.get("events") if isinstance(doc, dict) and "events" in doc else doc
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list):
            return _error(400, "send an event object, a list, or {'events': [...]}")
        assert self._ws is not None
        report = record_events(self._ws, events, first_row=0)
        status = 400 if events and report.rejected == len(events) else 200
        return Response(status, report.as_dict())
