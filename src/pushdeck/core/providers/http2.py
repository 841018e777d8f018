"""A lean HTTP/2 client on ``h2`` for the push providers.

Why not httpx: a push campaign is thousands of tiny POSTs to one origin, and httpx's
per-request machinery (request/response objects, anyio locks, one write per request)
costs far more CPU than the bytes on the wire. Here each request is one h2 stream, one
future and a deadline checked by one sweep per connection; writes made during the
same event-loop iteration are coalesced into a single TLS write.

Concurrency follows the server, not a constant: each connection is filled up to the
server's SETTINGS_MAX_CONCURRENT_STREAMS (APNs: 1 until the first answer, then up to
1,000; Google's front ends: 100), capped at ``max_streams`` per connection. Only when
every connection is full does the pool open another one (at most ``connections``; one at
a time, and not while a fresh connection may still raise its limit after its first
answer), each to the next of the host's addresses.

What it guarantees:
- never more streams open than the server's SETTINGS_MAX_CONCURRENT_STREAMS (we wait
  for the server's first SETTINGS before opening any stream);
- request bodies respect HTTP/2 flow control;
- a request the server provably did not process (GOAWAY with a lower last_stream_id,
  REFUSED_STREAM, or never written before the connection died) is retried transparently
  on a fresh connection; a request that was written but never answered raises
  ``TransportError`` because nothing is known about its delivery, while one that never
  left (no connection: DNS, refused, TLS; or never processed) raises ``NotSentError``;
- TLS verification is whatever the given ``ssl.SSLContext`` says (callers never turn it off).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import ssl
import struct
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hpack
from h2.connection import AllowedStreamIDs, ConnectionInputs, _decode_headers
from h2.stream import StreamInputs
from hpack.hpack import encode_integer
from hpack.table import HeaderTable

from pushdeck.core.common.errors import NotSentError, ProviderTimeoutError, TransportError
from pushdeck.core.net.tls import system_trust_context
from pushdeck.core.providers.connect_errors import connect_failure

Header = tuple[bytes, bytes]
#: ``resolve(host, port)`` -> the addresses to connect to, in order (see ``H2Client``).
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
_log = logging.getLogger(__name__)
_MAX_UNPROCESSED_RETRIES = 8
#: Connections per host when the first ones are full (Apple recommends several to APNs).
DEFAULT_CONNECTIONS = 4
#: Streams per connection even if the server allows more (h2 treats "no limit" as 2^31).
DEFAULT_MAX_STREAMS = 1000
_LAST_SAFE_STREAM_ID = 2**31 - 1 - 2 * 10_000  # stop opening streams well before the limit
_CLIENT_CONFIG = h2.config.H2Configuration(
    client_side=True,
    header_encoding=None,
    # h2's per-character header checks were the biggest CPU cost per request. Our own
    # headers are built from checked values (hex tokens, printable collapse ids), and of
    # a response we only read :status, a few headers and the body.
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    validate_inbound_headers=False,
)


class _LeanH2Connection(h2.connection.H2Connection):
    """h2's connection with the per-request O(n) costs removed.

    Profiling 1,000 concurrent streams showed two hot spots: h2 counts open streams by
    scanning every stream it knows on *each* new stream, and it huffman-encodes every
    header value. We drop closed streams as soon as they end (what h2's scan would do
    later) so ``len(self.streams)`` is the open count, and send headers as plain literals.
    """

    # How a frame for a long-closed stream is treated depends on remembering how it closed;
    # h2 remembers 65,536 streams per connection (~20 MB over a pool, for a campaign's
    # whole run). A few windows' worth is plenty: the server answers in order of seconds.
    MAX_CLOSED_STREAMS = 8192

    def __init__(self) -> None:
        super().__init__(config=_CLIENT_CONFIG)
        self.encoder = _CachingEncoder()
        self._partial = b""  # the start of a frame whose end has not arrived yet
        self._continuing = False  # h2 holds a HEADERS block awaiting CONTINUATION

    @property
    def open_outbound_streams(self) -> int:
        count = len(self.streams)
        if count >= self.remote_settings.max_concurrent_streams:
            count = super().open_outbound_streams  # exact count; also sweeps closed streams
        return count

    def forget_stream(self, stream_id: int) -> None:
        """Drop a closed stream now instead of during h2's next full scan."""
        stream = self.streams.get(stream_id)
        if stream is not None and stream.closed:
            del self.streams[stream_id]
            self._closed_streams[stream_id] = stream.closed_by

    # h2 builds hyperframe objects (with per-frame flag sets) for every frame it sends,
    # then serializes them: about half of a request's client CPU. A client request is
    # simple (no priority, padding or push), so the two methods below make the same state
    # transitions and flow-control accounting as h2's send_headers / send_data and write
    # the frames' bytes directly. tests/core/test_http2_transport.py checks them against
    # a server running h2's full validation.

    def send_request_headers(self, stream_id: int, headers: Sequence[Header], end: bool) -> None:
        """h2's ``send_headers`` for a new client stream."""
        limit = self.remote_settings.max_concurrent_streams
        if self.open_outbound_streams + 1 > limit:
            raise h2.exceptions.TooManyStreamsError(f"Max outbound streams is {limit}")
        self.state_machine.process_input(ConnectionInputs.SEND_HEADERS)
        stream = self._begin_new_stream(stream_id, AllowedStreamIDs.ODD)
        stream.state_machine.process_input(StreamInputs.SEND_HEADERS)
        block = self.encoder.encode(headers)
        if end:
            stream.state_machine.process_input(StreamInputs.SEND_END_STREAM)
        stream.request_method = headers[0][1]  # :method comes first (h2 reads it for HEAD)
        size = self.max_outbound_frame_size
        first, rest = block[:size], block[size:]
        flags = (_END_STREAM if end else 0) | (0 if rest else _END_HEADERS)
        out = self._data_to_send
        out += _frame_header(len(first), _HEADERS, flags, stream_id) + first
        while rest:
            chunk, rest = rest[:size], rest[size:]
            flags = 0 if rest else _END_HEADERS
            out += _frame_header(len(chunk), _CONTINUATION, flags, stream_id) + chunk

    def send_body(self, stream_id: int, data: bytes, end: bool) -> None:
        """h2's ``send_data`` for one frame the caller sized to the windows and frame size."""
        size = len(data)
        stream = self.streams[stream_id]
        if size > stream.outbound_flow_control_window or size > self.max_outbound_frame_size:
            raise h2.exceptions.FlowControlError(f"Cannot send {size} bytes now")
        self.state_machine.process_input(ConnectionInputs.SEND_DATA)
        stream.state_machine.process_input(StreamInputs.SEND_DATA)
        if end:
            stream.state_machine.process_input(StreamInputs.SEND_END_STREAM)
        stream.outbound_flow_control_window -= size
        self.outbound_flow_control_window -= size
        self._data_to_send += _frame_header(size, _DATA, _END_STREAM if end else 0, stream_id)
        self._data_to_send += data

    def receive_frames(self, data: bytes) -> list[h2.events.Event]:
        """h2's ``receive_data``, with a shortcut for the frame most answers are.

        An answer to a push request is usually one HEADERS frame (END_HEADERS, often
        END_STREAM) on a stream we opened. For those, this decodes the block and hands
        it to the stream's state machine as h2 does, without building hyperframe
        objects. Everything else (DATA, SETTINGS, GOAWAY, RST_STREAM, PING, padded or
        continued headers, closed streams) goes through h2 itself, in arrival order.
        h2 is only ever given whole frames, so its own buffer never holds a partial one.
        """
        buffer = self._partial + data if self._partial else data
        events: list[h2.events.Event] = []
        size, pos, slow = len(buffer), 0, 0
        limit = self.max_inbound_frame_size
        while size - pos >= 9:
            length = int.from_bytes(buffer[pos : pos + 3], "big")
            if length > limit:  # h2 reports the oversized frame as a protocol error
                pos = size
                break
            end = pos + 9 + length
            if end > size:
                break
            kind, flags = buffer[pos + 3], buffer[pos + 4]
            if kind == _HEADERS and flags & _HEADERS_SHORTCUT_MASK == _END_HEADERS:
                if slow < pos:
                    events += super().receive_data(buffer[slow:pos])
                stream_id = int.from_bytes(buffer[pos + 5 : pos + 9], "big") & 0x7FFFFFFF
                stream = self.streams.get(stream_id)
                if stream is not None and not stream.closed and not self._continuing:
                    block = buffer[pos + 9 : end]
                    events += self._receive_headers(stream, block, bool(flags & _END_STREAM))
                    slow = end
                else:
                    slow = pos  # h2 decides (it knows closed and reset streams)
            elif kind in (_HEADERS, _CONTINUATION):
                self._continuing = not flags & _END_HEADERS
            pos = end
        self._partial = buffer[pos:]
        if slow < pos:
            events += super().receive_data(buffer[slow:pos])
        return events

    def _receive_headers(
        self, stream: Any, block: bytes, end_stream: bool
    ) -> list[h2.events.Event]:
        # h2's _receive_headers_frame for a stream we opened (so no new-stream checks).
        try:
            # A list: hpack's Decoder.decode builds one (h2 only types it as iterable).
            headers = cast(list[Header], _decode_headers(self.decoder, block))
            events = self.state_machine.process_input(ConnectionInputs.RECV_HEADERS)
            machine = stream.state_machine
            if (
                end_stream
                and not machine.headers_received
                and headers
                and headers[0][0] == b":status"
                and not headers[0][1].startswith(b"1")
            ):
                # The whole answer in one frame (almost every push answer): the stream's
                # transitions and checks of h2's receive_headers, in its order, without
                # its two event objects and header pipeline (which, with our config,
                # only joins cookie crumbs: no push service answers with cookies).
                machine.process_input(StreamInputs.RECV_HEADERS)
                machine.process_input(StreamInputs.RECV_END_STREAM)
                stream._initialize_content_length(headers)
                return [*events, _Answer(stream.stream_id, headers)]
            _, stream_events = stream.receive_headers(
                headers, end_stream, self.config.header_encoding
            )
        except h2.exceptions.ProtocolError as exc:
            self._terminate_connection(exc.error_code)
            raise
        return [*events, *stream_events]


class _Answer(h2.events.Event):
    """A final response that ended its stream in one HEADERS frame (``receive_frames``):
    what h2 reports as ResponseReceived followed by StreamEnded."""

    __slots__ = ("headers", "stream_id")

    def __init__(self, stream_id: int, headers: list[Header]) -> None:
        self.stream_id = stream_id
        self.headers = headers


_DATA, _HEADERS, _CONTINUATION = 0x0, 0x1, 0x9
_END_STREAM, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x4, 0x8, 0x20
_HEADERS_SHORTCUT_MASK = _END_HEADERS | _PADDED | _PRIORITY
_FRAME_HEADER = struct.Struct(">HBBBL")


def _frame_header(length: int, kind: int, flags: int, stream_id: int) -> bytes:
    # RFC 9113 4.1: 24-bit length, type, flags, reserved bit + 31-bit stream id.
    return _FRAME_HEADER.pack(length >> 8, length & 0xFF, kind, flags, stream_id)


class _CountingTable(HeaderTable):
    """The HPACK dynamic table, counting insertions so cached encodings know when to expire."""

    inserts = 0

    def add(self, name: bytes, value: bytes) -> None:
        self.inserts += 1
        super().add(name, value)


class _CachingEncoder(hpack.Encoder):
    """HPACK encoding that costs a dict lookup per header once a campaign is running.

    - Headers marked never-indexed (the per-request :path and apns-id) are written as
      plain literals, which changes no state.
    - Every other header (method, authority, topic, push type, authorization...) is
      repeated on every request; once it is in the dynamic table its encoding is a fixed
      index, cached until anything new enters the table (indices shift then).
    - No huffman coding: a few more bytes on the wire, much less client CPU.
    """

    def __init__(self) -> None:
        super().__init__()
        self.header_table = _CountingTable()
        self._cache: dict[tuple[bytes, bytes], bytes] = {}
        self._cached_at = 0  # table.inserts when the cache was last valid

    def encode(self, headers: Any, huffman: bool = True) -> bytes:
        table = self.header_table
        assert isinstance(table, _CountingTable)
        if table.resized:  # a size update must lead the block: let hpack emit it
            self._cache.clear()
            return super().encode(headers, huffman=False)
        parts = []
        for header in headers:
            if isinstance(header, hpack.HeaderTuple) and not header.indexable:
                parts.append(_never_indexed(header[0], header[1]))
                continue
            key = (header[0], header[1])
            if table.inserts != self._cached_at:
                self._cache.clear()
                self._cached_at = table.inserts
            encoded = self._cache.get(key)
            if encoded is None:
                encoded = self.add(key, sensitive=False, huffman=False)
                if table.inserts == self._cached_at:  # already indexed: stable
                    self._cache[key] = encoded
            parts.append(encoded)
        return b"".join(parts)


def _never_indexed(name: bytes, value: bytes) -> bytes:
    # RFC 7541 6.2.3 "Literal Header Field Never Indexed -- New Name", no huffman. Lengths
    # under 127 fit the 7-bit prefix in one byte (every :path and apns-id does).
    n, v = len(name), len(value)
    if n < 127 and v < 127:
        return b"\x10" + _BYTE[n] + name + _BYTE[v] + value
    return b"\x10" + encode_integer(n, 7) + name + encode_integer(v, 7) + value


_BYTE = [bytes([i]) for i in range(256)]


@dataclass(frozen=True, slots=True)
class H2Response:
    status: int
    headers: dict[str, str]
    body: bytes


class StreamNotProcessed(Exception):
    """The server did not process the request; it is safe to send it again."""


class _Stream:
    __slots__ = ("body", "deadline", "future", "headers", "pending")

    def __init__(self, future: asyncio.Future[H2Response]) -> None:
        self.future = future
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.pending = b""  # request body still waiting for flow-control window
        self.deadline = 0.0  # loop time after which the request times out


class _Connection(asyncio.Protocol):
    """One HTTP/2 connection: h2 state plus the futures of its open streams."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: _PoolCallback,
        stream_cap: int = DEFAULT_MAX_STREAMS,
    ) -> None:
        self.loop = loop
        self.pool = pool
        self.h2 = _LeanH2Connection()
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, _Stream] = {}
        self.ready: asyncio.Future[None] = loop.create_future()
        self.max_streams = 1  # until the server's SETTINGS say otherwise
        self.stream_cap = stream_cap  # our own ceiling, whatever the server allows
        self.active = 0  # streams reserved by the pool (open or about to open)
        self.answered = False  # a first response came back (APNs raises its limit then)
        self.accepting = True
        self.retiring = False
        self.goaway_last: int | None = None
        self.goaway_reason = ""
        self.flushed_upto = 0  # highest stream id whose frames were handed to the socket
        self._sweeper: asyncio.TimerHandle | None = None
        self._sweep_every = 1.0
        self._flush_scheduled = False

    # -- asyncio callbacks -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but the same API.
        self.transport = cast(asyncio.Transport, transport)
        self.h2.initiate_connection()
        self._flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_frames(data)
        except h2.exceptions.ProtocolError as exc:
            self._abort(TransportError(f"HTTP/2 protocol error from the server: {exc}"))
            return
        for event in events:
            self._on_event(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.accepting = False
        if self._sweeper is not None:
            self._sweeper.cancel()
        if not self.ready.done():
            self.ready.set_exception(TransportError(f"Connection closed during setup: {exc}"))
            self.ready.exception()  # retrieved: the opener may have timed out and gone
        detail = self.goaway_reason or (str(exc) if exc else "closed by the server")
        for stream_id in list(self.streams):
            if self._unprocessed(stream_id):
                self._fail(stream_id, StreamNotProcessed(detail))
            else:
                self._fail(
                    stream_id,
                    TransportError(
                        f"The connection was lost before the server answered ({detail}).",
                        hint="Delivery of this notification is unknown; sending it again "
                        "may show it twice.",
                    ),
                )
        self.pool.closed(self)

    # -- events --------------------------------------------------------------
    def _on_event(self, event: h2.events.Event) -> None:
        if type(event) is _Answer:
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.headers = event.headers
            self._on_stream_ended(event.stream_id)
        elif isinstance(event, h2.events.ResponseReceived):
            stream = self.streams.get(event.stream_id)
            if stream is not None:
                stream.headers = list(event.headers or [])
        elif isinstance(event, h2.events.DataReceived):
            self._on_data(event)
        elif isinstance(event, h2.events.StreamEnded):
            self._on_stream_ended(event.stream_id)
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            self._on_settings(event)
        elif isinstance(event, h2.events.WindowUpdated):
            self._send_pending()
        elif isinstance(event, h2.events.StreamReset):
            self._on_reset(event)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._on_goaway(event)

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream_id = event.stream_id
        assert stream_id is not None
        stream = self.streams.get(stream_id)
        if stream is not None and event.data:
            stream.body.append(event.data)
        if event.flow_controlled_length:
            with contextlib.suppress(h2.exceptions.StreamClosedError):
                self.h2.acknowledge_received_data(event.flow_controlled_length, stream_id)

    def _on_stream_ended(self, stream_id: int) -> None:
        self.h2.forget_stream(stream_id)
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if not self.answered:
            self.answered = True
            self.pool.capacity_changed()  # the pool may now open another connection
        headers = {k.decode(): v.decode("utf-8", "replace") for k, v in stream.headers}
        status = int(headers.pop(":status", "0"))
        if not stream.future.done():
            stream.future.set_result(H2Response(status, headers, b"".join(stream.body)))

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        changed = event.changed_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS)
        self.max_streams = min(self.h2.remote_settings.max_concurrent_streams, self.stream_cap)
        if changed is not None or not self.ready.done():
            self.pool.capacity_changed()
        if not self.ready.done():
            self.ready.set_result(None)

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        stream_id = event.stream_id
        assert stream_id is not None
        if event.error_code == h2.errors.ErrorCodes.REFUSED_STREAM:
            self._fail(stream_id, StreamNotProcessed("the server refused the stream"))
        else:
            self._fail(
                stream_id, TransportError(f"The server reset the request ({event.error_code!r}).")
            )

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.accepting = False
        self.goaway_last = event.last_stream_id or 0
        data = event.additional_data or b""
        self.goaway_reason = (
            f"GOAWAY {event.error_code!r} {data.decode('utf-8', 'replace')}".strip()
        )
        unprocessed = [s for s in self.streams if s > self.goaway_last]
        _log.info("%s; %d request(s) will be sent again", self.goaway_reason, len(unprocessed))
        for stream_id in unprocessed:
            self._fail(stream_id, StreamNotProcessed(self.goaway_reason))
        self.pool.capacity_changed()
        if not self.streams and self.transport is not None:
            self.transport.close()

    # -- sending -------------------------------------------------------------
    def start_request(
        self, headers: Sequence[Header], body: bytes, timeout: float
    ) -> asyncio.Future[H2Response]:
        """Open a stream now (the caller reserved capacity) and return its response future."""
        stream_id = self.h2.get_next_available_stream_id()
        if stream_id >= _LAST_SAFE_STREAM_ID:
            self.accepting = False
        future: asyncio.Future[H2Response] = self.loop.create_future()
        stream = _Stream(future)
        self.streams[stream_id] = stream
        try:
            self.h2.send_request_headers(stream_id, headers, not body)
            if body:
                stream.pending = body
                self._send_body(stream_id, stream)
        except h2.exceptions.TooManyStreamsError as exc:
            self.streams.pop(stream_id, None)
            raise StreamNotProcessed(str(exc)) from exc  # nothing was sent: try again
        except h2.exceptions.ProtocolError as exc:
            self.streams.pop(stream_id, None)
            self._abort(TransportError(f"HTTP/2 state error while sending: {exc}"))
            raise TransportError(f"HTTP/2 state error while sending: {exc}") from exc
        stream.deadline = self.loop.time() + timeout
        if self._sweeper is None:
            self._sweep_every = min(1.0, timeout / 4)
            self._sweeper = self.loop.call_later(self._sweep_every, self._sweep)
        self._schedule_flush()
        return future

    def _send_body(self, stream_id: int, stream: _Stream) -> None:
        while stream.pending:
            window = min(
                self.h2.local_flow_control_window(stream_id), self.h2.max_outbound_frame_size
            )
            if window <= 0:
                return  # resumed by WindowUpdated
            chunk, stream.pending = stream.pending[:window], stream.pending[window:]
            self.h2.send_body(stream_id, chunk, not stream.pending)

    def _send_pending(self) -> None:
        for stream_id, stream in list(self.streams.items()):
            if stream.pending:
                self._send_body(stream_id, stream)

    def _sweep(self) -> None:
        # One timer per connection instead of one per request: a campaign keeps
        # hundreds of streams open, and timer heap churn showed up in profiles.
        self._sweeper = None
        now = self.loop.time()
        for stream_id in [sid for sid, st in self.streams.items() if st.deadline <= now]:
            self._timeout(stream_id)
        if self.streams:
            self._sweeper = self.loop.call_later(self._sweep_every, self._sweep)

    def _timeout(self, stream_id: int) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
        self._fail(stream_id, ProviderTimeoutError("The push service did not answer in time."))
        self._schedule_flush()

    def _fail(self, stream_id: int, exc: Exception) -> None:
        self.h2.forget_stream(stream_id)
        stream = self.streams.pop(stream_id, None)
        if stream is None:
            return
        if not stream.future.done():
            stream.future.set_exception(exc)

    def _unprocessed(self, stream_id: int) -> bool:
        if self.goaway_last is not None and stream_id > self.goaway_last:
            return True
        return stream_id > self.flushed_upto

    # -- writing -------------------------------------------------------------
    def _schedule_flush(self) -> None:
        # Coalesce: every request started in this loop iteration goes out in one write.
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.h2.data_to_send()
        transport = self.transport
        if data and transport is not None and not transport.is_closing():
            transport.write(data)
            self.flushed_upto = self.h2.highest_outbound_stream_id or 0
        if self.streams or transport is None:
            return
        if self.retiring:
            self.close()
        elif self.goaway_last is not None:
            transport.close()

    def _abort(self, exc: TransportError) -> None:
        self.accepting = False
        for stream_id in list(self.streams):
            self._fail(stream_id, exc)
        if self.transport is not None:
            self.transport.abort()

    def retire(self) -> None:
        """Open no new streams; close gracefully once the open ones are answered."""
        self.accepting = False
        self.retiring = True
        if not self.streams:
            self.close()

    def close(self) -> None:
        self.accepting = False
        self.retiring = False
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self.h2.close_connection()
        transport.write(self.h2.data_to_send())
        transport.close()


class _PoolCallback:
    """What a connection tells its pool (kept tiny to avoid a reference tangle)."""

    def __init__(self, client: H2Client) -> None:
        self.client = client

    def closed(self, conn: _Connection) -> None:
        self.client._forget(conn)

    def capacity_changed(self) -> None:
        self.client._wake_for_capacity()


class H2Client:
    """Requests to one HTTPS origin over a small pool of HTTP/2 connections.

    ``connections`` bounds the pool (more open only when the others are full);
    ``max_streams`` caps the streams of one connection below what the server allows.
    """

    def __init__(
        self,
        origin: str,
        ssl_context: ssl.SSLContext,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        max_streams: int = DEFAULT_MAX_STREAMS,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        resolve: Resolver | None = None,
    ) -> None:
        """``resolve``, when given, picks the addresses each new connection goes to (the
        Web Push provider passes one that admits only public addresses); TLS and
        ``:authority`` still name the origin's host."""
        parts = urlsplit(origin)
        if parts.scheme != "https" or not parts.hostname:
            raise TransportError(f"Not an https origin: {origin!r}")
        self.host = parts.hostname
        self.port = parts.port or 443
        self.authority = parts.netloc.encode()
        self.ssl_context = ssl_context
        self.size = max(1, connections)
        self.max_streams = max(1, max_streams)
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.resolve = resolve
        self._conns: list[_Connection] = []
        self._connecting = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._callback = _PoolCallback(self)
        self._closed = False
        self.connections_opened = 0
        self.waits = 0  # times a request waited for a stream (woken futilely: counted again)

    def base_headers(self, method: bytes, path: bytes) -> list[Header]:
        """The pseudo-headers every request starts with."""
        return [
            (b":method", method),
            (b":scheme", b"https"),
            (b":authority", self.authority),
            (b":path", path),
        ]

    async def request(self, headers: Sequence[Header], body: bytes = b"") -> H2Response:
        """Send one request (``headers`` from ``base_headers`` plus extras) and await its answer."""
        for _ in range(_MAX_UNPROCESSED_RETRIES):
            conn = await self._acquire()
            try:
                return await conn.start_request(headers, body, self.request_timeout)
            except StreamNotProcessed:
                continue  # provably not processed: safe to send on another connection
            finally:
                self._release(conn)
        raise NotSentError(  # each attempt provably unprocessed: nothing was delivered
            "The push service kept closing connections before processing the request.",
            hint="Try again later; if it persists the service may be rejecting this client.",
        )

    def retire_connections(self) -> None:
        """Finish what is in flight, then use fresh connections for everything new."""
        for conn in self._conns:
            conn.retire()
        self._wake_all()

    async def aclose(self) -> None:
        self._closed = True
        for conn in list(self._conns):
            conn.close()
        self._conns.clear()
        self._wake_all()

    # -- pool ----------------------------------------------------------------
    async def _acquire(self) -> _Connection:
        while True:
            if self._closed:
                raise NotSentError("The provider connection pool is closed.")
            conn = self._pick()
            if conn is not None:
                conn.active += 1
                return conn
            if self._should_connect():
                await self._connect()
                continue
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self.waits += 1
            await waiter

    def _should_connect(self) -> bool:
        """Every connection is full: open another, unless one is already on its way,
        the pool is at its bound, or a connection has not answered yet (APNs raises its
        limit from 1 to 1,000 after the first answer: no need for more connections)."""
        if self._connecting:
            return False
        live = [c for c in self._conns if c.accepting]
        return len(live) < self.size and all(c.answered for c in live)

    def _pick(self) -> _Connection | None:
        best: _Connection | None = None
        for conn in self._conns:
            if (
                conn.accepting
                and conn.active < conn.max_streams
                and (best is None or conn.active < best.active)
            ):
                best = conn
        return best

    def _release(self, conn: _Connection) -> None:
        conn.active -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def _wake_for_capacity(self) -> None:
        """Wake as many waiters as there are free streams, plus one that may decide to
        open another connection. Waking every waiter on each change cost a campaign
        thousands of futile task steps (2,000 sends waiting on 100-stream connections:
        three times as many wake-ups as requests)."""
        free = 1
        for conn in self._conns:
            if conn.accepting and conn.active < conn.max_streams:
                free += conn.max_streams - conn.active
        while self._waiters and free > 0:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1

    def _forget(self, conn: _Connection) -> None:
        if conn in self._conns:
            self._conns.remove(conn)
        self._wake_all()

    async def _connect(self) -> None:
        self._connecting += 1
        try:
            conn = await self._open()
        except BaseException:
            self._connecting -= 1
            self._wake_all()  # each waiter decides again (another try, or the error)
            raise
        self._connecting -= 1
        self._conns = [c for c in self._conns if c.accepting]
        if conn.accepting:  # it may already have been closed by the server
            self._conns.append(conn)
        self._wake_for_capacity()

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        # Every failure here happens before any request is written: NotSentError, so
        # the dispatcher knows a retry cannot duplicate anything.
        try:
            async with asyncio.timeout(self.connect_timeout):
                if self.resolve is not None:  # only addresses the caller admits
                    addresses = list(await self.resolve(self.host, self.port))
                else:
                    addresses = await self._addresses()
                if not addresses:
                    raise TransportError(f"{self.host} has no address to connect to.")
                # Spread the pool over the host's addresses: each new connection starts
                # at the next one, and falls through to the others if it cannot connect.
                start = self.connections_opened % len(addresses)
                conn = await self._connect_to(loop, addresses[start:] + addresses[:start])
                self._check_alpn(conn)
                await conn.ready
        except (OSError, ssl.SSLError) as exc:  # TimeoutError is an OSError
            raise connect_failure(self.host, self.port, exc, self.connect_timeout) from exc
        except NotSentError:
            raise
        except TransportError as exc:  # closed during setup, before any request
            raise NotSentError(exc.message, hint=exc.hint) from exc
        self.connections_opened += 1
        _log.debug("HTTP/2 connection %d to %s:%d", self.connections_opened, self.host, self.port)
        return conn

    async def _connect_to(
        self, loop: asyncio.AbstractEventLoop, targets: Sequence[str]
    ) -> _Connection:
        # The first target that answers, in order, as create_connection does for a name.
        for index, target in enumerate(targets):
            try:
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop, self._callback, self.max_streams),
                    target,
                    self.port,
                    ssl=self.ssl_context,
                    server_hostname=self.host,
                )
                return conn
            except OSError:
                if index == len(targets) - 1:
                    raise
        raise TransportError(f"{self.host} has no address to connect to.")

    async def _addresses(self) -> list[str]:
        """The host's addresses (resolved afresh for each new connection), IPv4 and IPv6
        interleaved in the resolver's order of preference, duplicates dropped."""
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise OSError(f"{self.host} has no address")
        return addresses

    def _check_alpn(self, conn: _Connection) -> None:
        assert conn.transport is not None
        ssl_object = conn.transport.get_extra_info("ssl_object")
        protocol = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if protocol != "h2":
            conn.close()
            raise NotSentError(
                f"{self.host}:{self.port} does not speak HTTP/2 (ALPN {protocol!r})."
            )


def json_object(body: bytes) -> dict[str, Any]:
    """A response body as a JSON object; anything else is wrapped, never raised."""
    try:
        value = json.loads(body) if body else {}
    except ValueError:
        return {"text": body.decode("utf-8", "replace")}
    return value if isinstance(value, dict) else {"value": value}


def client_ssl_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying TLS context offering only h2: the OS trust store plus ``ca_file``."""
    context = system_trust_context(ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    return context
