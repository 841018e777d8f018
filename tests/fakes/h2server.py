"""A small, reusable HTTP/2-over-TLS server on raw ``h2`` for the local provider fakes.

Usage (inside a test, on the test's own event loop)::

    async def handler(req: Request) -> Response:
        # req.method, req.path, req.headers (lower-case names -> str), req.body (bytes)
        return Response(200, {"apns-id": req.headers.get("apns-id", "")}, b"")

    server = H2Server(handler, pki.server_context())
    await server.start()                # binds 127.0.0.1 on an ephemeral port
    url = server.url                    # "https://127.0.0.1:<port>"
    ...
    await server.aclose()

Or in a background thread with its own loop (e.g. for a benchmark)::

    with H2Server(handler, ctx).running_in_thread() as server: ...

The handler API, kept deliberately tiny:
- ``handler(request) -> Response`` where ``Response(status, headers, body)``; a plain
  ``(status, headers, body)`` tuple is accepted too. The handler may be sync or async.
- ``Request`` has ``method``, ``path``, ``headers`` (dict, lower-case names; the last
  value wins), ``raw_headers`` (every header pair in order, to spot duplicates),
  ``body``, ``stream_id``, ``connection_id`` and ``peer_cert`` (the verified client
  certificate as ``ssl.SSLSocket.getpeercert()`` returns it, or ``None``).

Fault injection (all optional, safe to call while running on the same loop):
- ``max_concurrent_streams=N``: advertised in SETTINGS; a client opening more streams
  than that is a protocol error (h2 raises, the connection is dropped).
- ``fail_next(count, status, headers, body)``: the next ``count`` requests get this
  answer instead of the handler's (e.g. 503, or 429 with ``Retry-After``).
- ``goaway_after(n, reason=b"")``: on every connection, after the n-th request, answer the
  requests received so far, send GOAWAY with that last stream id and close. Streams the
  client opened after that are never handed to the handler (the client must retry them).
- ``drop_after(n)``: after receiving the n-th request on a connection, close the TCP
  connection abruptly without answering it (nothing is known about its delivery).
- ``drop_connections()``: close every open connection now (simulates idle loss).
- ``streams_after_first(n)``: like APNs, start with ``max_concurrent_streams`` (e.g. 1)
  and raise the limit to ``n`` with a SETTINGS frame once the first request is answered.
  ``apns_like=True`` is the shorthand for what Apple does: 1 stream, then 1,000.
- ``latency=0.06``: every answer leaves that many seconds after its request arrived
  (a provider a WAN round trip away); the handler still runs at once, and the stream
  stays open meanwhile, so the client's concurrency is what the fake measures.

Outage switches, driven by a file so that another thread or process (a CLI under test, a
script) can turn them on and off by creating and deleting it:
- ``outage_while(path, response)``: while ``path`` exists every request gets ``response``
  (a 503, or a 429 storm with ``Retry-After`` in seconds or as an HTTP-date).
- ``hang_while(path)``: while ``path`` exists requests are read and never answered (a
  service that accepts connections and then says nothing).
- ``refuse_while(path)``: while ``path`` exists nothing listens on the port (connection
  refused) and open connections are dropped.
``outage_answers`` and ``hung`` count what was answered / swallowed by a switch.

``lean=True`` (benchmarks): skip h2's per-character header validation and huffman
coding so the server costs less CPU than the client it measures.

Observation: ``requests`` (every request handed to the handler, in order, unless
``record=False``), ``count_header(name)`` (a Counter of a header's values, e.g. apns-id for
duplicate detection), ``max_streams_seen`` (the highest number of streams open at once on
one connection), ``connections`` (how many TLS connections were accepted),
``limit_violations`` (streams a client opened beyond the limit it had been told; must stay
0: h2 also refuses them, which drops the connection and counts in ``protocol_errors``),
``streams_per_connection`` (connection id -> most streams open at once on it).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import ssl
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
import hpack


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    stream_id: int = 0
    connection_id: int = 0
    raw_headers: list[tuple[str, str]] = field(default_factory=list)
    peer_cert: dict[str, Any] | None = None
    authority: str = ""  # the :authority pseudo-header (host[:port] the client addressed)


@dataclass
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


HandlerResult = Response | tuple[int, Mapping[str, str], bytes]
Handler = Callable[[Request], HandlerResult | Awaitable[HandlerResult]]


class _Stream:
    __slots__ = ("body", "headers")

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        self.headers = headers
        self.body = bytearray()


class _ServerH2(h2.connection.H2Connection):
    """h2 with an O(1) open-stream count: closed streams are dropped as soon as they end
    (h2 would otherwise rescan every stream on each new one), so the fake stays cheaper
    than the clients it measures. The limit is still enforced exactly."""

    @property
    def open_inbound_streams(self) -> int:
        count = len(self.streams)
        if count >= self.local_settings.max_concurrent_streams:
            count = super().open_inbound_streams  # exact; sweeps closed streams
        return count

    def forget_stream(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None and stream.closed:
            del self.streams[stream_id]
            self._closed_streams[stream_id] = stream.closed_by


class _PlainEncoder(hpack.Encoder):
    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        return super().encode(headers, huffman=False)


class _ServerProtocol(asyncio.Protocol):
    """One accepted connection: h2 state, per-stream buffers, pending handler tasks."""

    def __init__(self, server: H2Server, connection_id: int) -> None:
        self.server = server
        self.connection_id = connection_id
        lean = server.lean
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding="utf-8",
            validate_inbound_headers=not lean,
            validate_outbound_headers=not lean,
            normalize_outbound_headers=not lean,
        )
        self.conn = _ServerH2(config=config)
        if lean:
            self.conn.encoder = _PlainEncoder()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.received = 0
        self.in_flight: set[int] = set()
        self.goaway_last: int | None = None
        self.raised = False
        self.window_open = asyncio.Event()
        self.peer_cert: dict[str, Any] | None = None

    # -- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer_cert = transport.get_extra_info("peercert") or None
        self.server._open.add(self)
        limit = self.server.max_concurrent_streams
        if limit is not None:
            # Put the limit in the very first SETTINGS frame (update_settings would send a
            # second frame that a client may legitimately not have seen yet).
            values = dict(self.conn.local_settings.items())
            values[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = limit
            self.conn.local_settings = h2.settings.Settings(client=False, initial_values=values)
        self.conn.initiate_connection()
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._open.discard(self)
        self.window_open.set()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            # A misbehaving client (e.g. too many streams); h2 queued a GOAWAY for it.
            self.server.protocol_errors += 1
            self._flush()
            self._close()
            return
        for event in events:
            self._on_event(event)
        self._flush()

    # -- event handling ----------------------------------------------------
    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self.streams[event.stream_id] = _Stream(list(event.headers or []))
            self._count_open_streams()
        elif isinstance(event, h2.events.DataReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.body += event.data or b""
            self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            self._on_request_complete(event.stream_id)
        elif isinstance(event, h2.events.WindowUpdated):
            self.window_open.set()
        elif isinstance(event, h2.events.StreamReset):
            self.streams.pop(event.stream_id, None)
            self.in_flight.discard(event.stream_id)
            self.conn.forget_stream(event.stream_id)
            self._maybe_goaway()

    def _count_open_streams(self) -> None:
        server = self.server
        open_now = self.conn.open_inbound_streams
        if open_now > self.conn.local_settings.max_concurrent_streams:
            server.limit_violations += 1  # (h2 raises first; this is the belt and braces)
        server.max_streams_seen = max(server.max_streams_seen, open_now)
        seen = server.streams_per_connection
        if open_now > seen.get(self.connection_id, 0):
            seen[self.connection_id] = open_now

    def _on_request_complete(self, stream_id: int) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is None or self.goaway_last is not None:
            return  # after GOAWAY: never processed, the client must retry it
        self.received += 1
        drop_after = self.server._drop_after
        if drop_after is not None and self.received >= drop_after:
            self._close()
            return
        request = self._make_request(stream_id, stream)
        if self.server._switch_on(self.server._hang_file):
            self.server.hung.append(request)  # read, never answered
            return
        self.in_flight.add(stream_id)
        result = self.server._respond_now(request)
        latency = self.server.latency
        if isinstance(result, Response) and latency > 0:
            # A timer, not a task, per delayed answer: the fake must stay cheap.
            asyncio.get_running_loop().call_later(latency, self._send_later, stream_id, result)
        elif isinstance(result, Response):
            # Synchronous handlers answer right here: no task per request, so the fake
            # stays much cheaper than the clients it is used to measure.
            self._send_now(stream_id, result)
        else:
            task = asyncio.ensure_future(self._answer(request, result, latency))
            self.server._tasks.add(task)
            task.add_done_callback(self.server._tasks.discard)
        goaway_after = self.server._goaway_after
        if goaway_after is not None and self.received >= goaway_after:
            self.goaway_last = stream_id
            self._maybe_goaway()

    def _make_request(self, stream_id: int, stream: _Stream) -> Request:
        pseudo = {k: v for k, v in stream.headers if k.startswith(":")}
        plain = [(k, v) for k, v in stream.headers if not k.startswith(":")]
        return Request(
            method=pseudo.get(":method", ""),
            path=pseudo.get(":path", ""),
            headers=dict(plain),
            body=bytes(stream.body),
            stream_id=stream_id,
            connection_id=self.connection_id,
            raw_headers=plain,
            peer_cert=self.peer_cert,
            authority=pseudo.get(":authority", ""),
        )

    def _send_later(self, stream_id: int, response: Response) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if stream_id not in self.in_flight:
            return  # reset by the client meanwhile
        try:
            self._send_now(stream_id, response)
        except h2.exceptions.ProtocolError:  # the client reset the stream meanwhile
            self.in_flight.discard(stream_id)
            self._maybe_goaway()
        self._flush()

    def _send_now(self, stream_id: int, response: Response) -> None:
        window = self.conn.local_flow_control_window(stream_id)
        if len(response.body) > min(window, self.conn.max_outbound_frame_size):
            task = asyncio.ensure_future(self._answer_with(stream_id, response))
            self.server._tasks.add(task)
            task.add_done_callback(self.server._tasks.discard)
            return
        headers = [(":status", str(response.status)), *response.headers.items()]
        self.conn.send_headers(stream_id, headers, end_stream=not response.body)
        if response.body:
            self.conn.send_data(stream_id, response.body, end_stream=True)
        self.conn.forget_stream(stream_id)
        self.in_flight.discard(stream_id)
        self._maybe_raise_streams()
        self._maybe_goaway()

    def _maybe_raise_streams(self) -> None:
        # APNs allows one stream until a first request succeeds, then raises the limit.
        raised = self.server._streams_after_first
        if raised is not None and not self.raised:
            self.raised = True
            self.conn.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: raised})

    async def _answer_with(self, stream_id: int, response: Response) -> None:
        try:
            await self._send_response(stream_id, response)
        except (h2.exceptions.ProtocolError, ConnectionError):
            pass
        finally:
            self.in_flight.discard(stream_id)
            self._maybe_goaway()

    async def _answer(
        self, request: Request, pending: Awaitable[HandlerResult], latency: float = 0.0
    ) -> None:
        try:
            response = _as_response(await pending)
            if latency > 0:
                await asyncio.sleep(latency)
            await self._send_response(request.stream_id, response)
        except (h2.exceptions.ProtocolError, ConnectionError):
            pass  # the client went away or reset the stream
        finally:
            self.in_flight.discard(request.stream_id)
            self._maybe_goaway()

    async def _send_response(self, stream_id: int, response: Response) -> None:
        headers = [(":status", str(response.status)), *response.headers.items()]
        body = response.body
        self.conn.send_headers(stream_id, headers, end_stream=not body)
        while body:
            window = min(
                self.conn.local_flow_control_window(stream_id), self.conn.max_outbound_frame_size
            )
            if window <= 0:
                self.window_open.clear()
                self._flush()
                await self.window_open.wait()
                if self.transport is None or self.transport.is_closing():
                    return
                continue
            chunk, body = body[:window], body[window:]
            self.conn.send_data(stream_id, chunk, end_stream=not body)
        self.conn.forget_stream(stream_id)
        self._flush()

    def _maybe_goaway(self) -> None:
        if self.goaway_last is None or self.in_flight:
            return
        reason = self.server._goaway_reason
        self.conn.close_connection(last_stream_id=self.goaway_last, additional_data=reason)
        self._flush()
        self._close()

    # -- plumbing ----------------------------------------------------------
    def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class H2Server:
    """An HTTP/2 server on 127.0.0.1:<ephemeral> calling ``handler`` once per request."""

    def __init__(
        self,
        handler: Handler,
        ssl_context: ssl.SSLContext,
        *,
        max_concurrent_streams: int | None = None,
        record: bool = True,
        lean: bool = False,
        latency: float = 0.0,
        apns_like: bool = False,
    ) -> None:
        self.handler = handler
        self.lean = lean
        self.latency = latency
        self.ssl_context = ssl_context
        self.max_concurrent_streams = 1 if apns_like else max_concurrent_streams
        self.record = record
        self.requests: list[Request] = []
        self.max_streams_seen = 0
        self.streams_per_connection: dict[int, int] = {}
        self.limit_violations = 0
        self.connections = 0
        self.protocol_errors = 0
        self.port = 0
        self._faults: list[Response] = []
        self._goaway_after: int | None = None
        self._goaway_reason = b""
        self._drop_after: int | None = None
        self._streams_after_first: int | None = 1000 if apns_like else None
        self._outage_file: Path | None = None
        self._outage_response = Response(503)
        self._hang_file: Path | None = None
        self._refuse_file: Path | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.outage_answers = 0
        self.hung: list[Request] = []
        self._server: asyncio.Server | None = None
        self._open: set[_ServerProtocol] = set()
        self._tasks: set[asyncio.Future[None]] = set()
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    # -- fault injection ---------------------------------------------------
    def fail_next(
        self, count: int, status: int, headers: Mapping[str, str] | None = None, body: bytes = b""
    ) -> None:
        self._faults.extend(Response(status, dict(headers or {}), body) for _ in range(count))

    def goaway_after(self, n: int | None, reason: bytes = b"") -> None:
        self._goaway_after, self._goaway_reason = n, reason

    def drop_after(self, n: int | None) -> None:
        self._drop_after = n

    def streams_after_first(self, n: int | None) -> None:
        self._streams_after_first = n

    def outage_while(self, path: Path | None, response: Response | None = None) -> None:
        self._outage_file = path
        self._outage_response = response or Response(503)

    def hang_while(self, path: Path | None) -> None:
        self._hang_file = path

    def refuse_while(self, path: Path | None) -> None:
        """Close the listening socket while ``path`` exists (call on the server's loop)."""
        self._refuse_file = path
        if path is not None and self._watcher is None:
            self._watcher = asyncio.ensure_future(self._watch_refusal())

    @staticmethod
    def _switch_on(path: Path | None) -> bool:
        return path is not None and path.exists()

    async def _watch_refusal(self) -> None:
        while self._refuse_file is not None:
            refusing = self._switch_on(self._refuse_file)
            if refusing and self._server is not None:
                self._server.close()
                self._server = None
                self.drop_connections()
            elif not refusing and self._server is None:
                await self._listen(self.port)
            await asyncio.sleep(0.05)

    def drop_connections(self) -> None:
        for protocol in list(self._open):
            protocol._close()

    def count_header(self, name: str) -> Counter[str]:
        return Counter(r.headers.get(name, "") for r in self.requests)

    # -- lifecycle ---------------------------------------------------------
    async def start(self) -> H2Server:
        await self._listen(0)
        return self

    async def _listen(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._new_protocol, "127.0.0.1", port, ssl=self.ssl_context, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._refuse_file = None
            self._watcher.cancel()
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    @contextlib.contextmanager
    def running_in_thread(self) -> Iterator[H2Server]:
        """Run the server on its own event loop in a daemon thread."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.aclose(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()

    # -- internals ---------------------------------------------------------
    def _new_protocol(self) -> _ServerProtocol:
        self.connections += 1
        return _ServerProtocol(self, next(self._ids))

    def _respond_now(self, request: Request) -> Response | Awaitable[HandlerResult]:
        if self.record:
            self.requests.append(request)
        if self._switch_on(self._outage_file):
            self.outage_answers += 1
            return self._outage_response
        if self._faults:
            return self._faults.pop(0)
        result = self.handler(request)
        if isinstance(result, Response | tuple):
            return _as_response(result)
        return result


def _as_response(result: HandlerResult) -> Response:
    if isinstance(result, Response):
        return result
    status, headers, body = result
    return Response(status, headers, body)
