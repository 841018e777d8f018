"""The lean HTTP/2 client against the h2 fake server: streams, flow control, GOAWAY, loss."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import hpack
import pytest

from pushdeck.core.common.errors import NotSentError, ProviderTimeoutError, TransportError
from pushdeck.core.providers.http2 import H2Client, _CachingEncoder, client_ssl_context
from tests.fakes import tls
from tests.fakes.h2server import H2Server, Request, Response


def echo(req: Request) -> Response:
    return Response(200, {"x-id": req.headers.get("x-id", "")}, req.body[-10:])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tls.TestPKI:
    return tls.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
async def server(pki: tls.TestPKI) -> AsyncIterator[H2Server]:
    srv = await H2Server(echo, pki.server_context(), max_concurrent_streams=5).start()
    yield srv
    await srv.aclose()


def client_for(srv: H2Server, pki: tls.TestPKI, **kw: float) -> H2Client:
    return H2Client(srv.url, client_ssl_context(str(pki.ca_file)), **kw)  # type: ignore[arg-type]


async def post(client: H2Client, ident: str, body: bytes = b"x") -> tuple[int, str, bytes]:
    headers = [*client.base_headers(b"POST", b"/send"), (b"x-id", ident.encode())]
    resp = await client.request(headers, body)
    return resp.status, resp.headers["x-id"], resp.body


async def test_many_concurrent_requests_respect_max_concurrent_streams(server, pki) -> None:  # type: ignore[no-untyped-def]
    client = client_for(server, pki)
    try:
        results = await asyncio.gather(*(post(client, str(i)) for i in range(200)))
    finally:
        await client.aclose()
    assert [r[1] for r in results] == [str(i) for i in range(200)]
    assert server.max_streams_seen <= 5
    assert server.protocol_errors == 0


async def test_body_larger_than_flow_control_window_arrives_whole(server, pki) -> None:  # type: ignore[no-untyped-def]
    client = client_for(server, pki)
    body = bytes(range(256)) * 1000  # 256 kB > the 64 kB initial window
    try:
        status, _, tail = await post(client, "big", body)
    finally:
        await client.aclose()
    assert status == 200 and tail == body[-10:]
    assert server.requests[0].body == body


async def test_goaway_retries_unprocessed_streams_exactly_once(server, pki) -> None:  # type: ignore[no-untyped-def]
    server.goaway_after(7, b'{"reason":"Shutdown"}')
    client = client_for(server, pki)
    try:
        results = await asyncio.gather(*(post(client, str(i)) for i in range(40)))
    finally:
        await client.aclose()
    assert sorted(r[1] for r in results) == sorted(str(i) for i in range(40))
    counts = server.count_header("x-id")
    assert set(counts.values()) == {1} and len(counts) == 40  # none lost, none duplicated
    assert server.connections >= 6


async def test_idle_connection_closed_by_server_is_replaced(server, pki) -> None:  # type: ignore[no-untyped-def]
    client = client_for(server, pki)
    try:
        await post(client, "a")
        server.drop_connections()
        await asyncio.sleep(0.05)
        assert (await post(client, "b"))[1] == "b"
    finally:
        await client.aclose()
    assert server.connections == 2


async def test_connection_lost_after_sending_is_a_transport_error(server, pki) -> None:  # type: ignore[no-untyped-def]
    server.drop_after(1)
    client = client_for(server, pki)
    try:
        with pytest.raises(TransportError, match="lost before the server answered"):
            await post(client, "a")
    finally:
        await client.aclose()


async def test_no_answer_in_time_is_a_timeout(pki) -> None:  # type: ignore[no-untyped-def]
    async def slow(req: Request) -> Response:
        await asyncio.sleep(5)
        return Response(200)

    srv = await H2Server(slow, pki.server_context()).start()
    client = client_for(srv, pki, request_timeout=0.2)
    try:
        with pytest.raises(ProviderTimeoutError):
            await post(client, "a")
    finally:
        await client.aclose()
        await srv.aclose()


async def test_connection_refused_is_a_transport_error(pki) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as sock:  # find a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = H2Client(f"https://127.0.0.1:{port}", client_ssl_context(str(pki.ca_file)))
    with pytest.raises(NotSentError, match=r"Could not connect .*: connection refused") as info:
        await post(client, "a")
    assert isinstance(info.value.__cause__, OSError)


async def test_untrusted_server_certificate_is_refused(server) -> None:  # type: ignore[no-untyped-def]
    client = H2Client(server.url, client_ssl_context())  # no extra CA: the fake is untrusted
    with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED"):
        await post(client, "a")


async def test_limit_raised_by_the_server_after_the_first_request_is_used(pki) -> None:  # type: ignore[no-untyped-def]
    srv = await H2Server(echo, pki.server_context(), max_concurrent_streams=1).start()
    srv.streams_after_first(8)  # APNs: one stream until the first request is authorized
    client = client_for(srv, pki)
    try:
        results = await asyncio.gather(*(post(client, str(i)) for i in range(60)))
    finally:
        await client.aclose()
        await srv.aclose()
    assert len(results) == 60 and srv.protocol_errors == 0
    # One stream until the first answer, then exactly the raised limit, never more.
    assert srv.max_streams_seen == 8


def test_cached_hpack_encodings_decode_correctly_across_table_changes() -> None:
    encoder, decoder = _CachingEncoder(), hpack.Decoder()
    fixed = [(b":method", b"POST"), (b"apns-topic", b"com.example"), (b"authorization", b"b1")]
    blocks = []
    for i in range(5):
        path = hpack.NeverIndexedHeaderTuple(b":path", f"/3/device/{i}".encode())
        extra = [(b"apns-expiration", str(i // 2).encode())]  # new entries shift indices
        blocks.append([fixed[0], path, *fixed[1:], *extra])
    encoder.header_table_size = 256  # a SETTINGS_HEADER_TABLE_SIZE change mid-connection
    blocks.append([*fixed, (b"authorization", b"b2")])
    long_path = hpack.NeverIndexedHeaderTuple(b":path", b"/3/device/" + b"ab" * 200)
    blocks.append([fixed[0], long_path, hpack.NeverIndexedHeaderTuple(b"x" * 130, b"v")])
    for headers in blocks:
        decoded = decoder.decode(encoder.encode(headers), raw=True)
        assert [tuple(h) for h in decoded] == [tuple(h) for h in headers]


async def test_pool_opens_more_connections_only_when_the_first_is_full(server, pki) -> None:  # type: ignore[no-untyped-def]
    client = H2Client(server.url, client_ssl_context(str(pki.ca_file)), connections=3)
    try:
        await post(client, "warm")
        assert server.connections == 1
        results = await asyncio.gather(*(post(client, str(i)) for i in range(60)))
    finally:
        await client.aclose()
    assert len(results) == 60 and server.connections == 3 and server.max_streams_seen <= 5


# -- concurrency follows the server (issue 19) --------------------------------------------


async def test_one_connection_is_filled_far_beyond_64_streams_when_the_server_allows(pki) -> None:  # type: ignore[no-untyped-def]
    # APNs-like: 1 stream until the first answer, then 1,000; answers 50 ms after arrival.
    srv = await H2Server(echo, pki.server_context(), apns_like=True, latency=0.05).start()
    client = client_for(srv, pki, connections=1)
    try:
        results = await asyncio.gather(*(post(client, str(i)) for i in range(600)))
    finally:
        await client.aclose()
        await srv.aclose()
    assert sorted(r[1] for r in results) == sorted(str(i) for i in range(600))
    assert srv.connections == 1
    assert srv.max_streams_seen >= 500  # all but the first wait in one batch, not 64 at a time
    assert srv.limit_violations == 0 and srv.protocol_errors == 0


async def test_never_more_streams_than_the_server_advertised(pki) -> None:  # type: ignore[no-untyped-def]
    srv = await H2Server(echo, pki.server_context(), max_concurrent_streams=1, latency=0.02).start()
    srv.streams_after_first(70)
    client = client_for(srv, pki, connections=2)
    try:
        results = await asyncio.gather(*(post(client, str(i)) for i in range(700)))
    finally:
        await client.aclose()
        await srv.aclose()
    assert len(results) == 700
    assert srv.limit_violations == 0 and srv.protocol_errors == 0
    assert max(srv.streams_per_connection.values()) == 70  # filled exactly to the limit
    assert srv.connections == 2


async def test_a_second_connection_opens_only_when_the_first_is_full(pki) -> None:  # type: ignore[no-untyped-def]
    context = pki.server_context()
    srv = await H2Server(echo, context, max_concurrent_streams=40, latency=0.05).start()
    client = client_for(srv, pki, connections=4)
    try:
        await post(client, "warm")
        await asyncio.gather(*(post(client, str(i)) for i in range(40)))
        assert srv.connections == 1  # 40 fit in the first connection
        await asyncio.gather(*(post(client, str(i)) for i in range(70)))
        assert srv.connections == 2  # 70 do not: one more, not the pool's four
    finally:
        await client.aclose()
        await srv.aclose()
    assert max(srv.streams_per_connection.values()) == 40
    assert srv.limit_violations == 0 and srv.protocol_errors == 0


async def test_connections_start_at_successive_addresses_and_skip_dead_ones(  # type: ignore[no-untyped-def]
    server, pki, monkeypatch
) -> None:
    client = client_for(server, pki, connections=3)
    dead = "127.0.0.3"  # loopback, but nothing listens there on this port

    async def addresses() -> list[str]:
        return [dead, "127.0.0.1"]

    monkeypatch.setattr(client, "_addresses", addresses)
    loop = asyncio.get_running_loop()
    original = loop.create_connection
    tried: list[str] = []

    async def recording(factory, host, port, **kw):  # type: ignore[no-untyped-def]
        tried.append(host)
        return await original(factory, host, port, **kw)

    monkeypatch.setattr(loop, "create_connection", recording)
    try:
        await post(client, "warm")
        await asyncio.gather(*(post(client, str(i)) for i in range(12)))  # > 5: a second one
    finally:
        await client.aclose()
    assert tried[:3] == [dead, "127.0.0.1", "127.0.0.1"]  # 1st falls through, 2nd starts at B
    assert server.connections >= 2


async def test_header_block_larger_than_a_frame_goes_out_as_continuations(server, pki) -> None:  # type: ignore[no-untyped-def]
    # The client writes HEADERS/CONTINUATION bytes itself: the fake parses them with h2's
    # full validation, so a malformed frame would fail the request.
    client = client_for(server, pki)
    big = "v" * 40_000  # > the 16 kB default frame size: HEADERS + 2 CONTINUATION frames
    headers = [*client.base_headers(b"POST", b"/send"), (b"x-id", b"c"), (b"x-big", big.encode())]
    try:
        response = await client.request(headers, b"body")
        again = await post(client, "after")  # the HPACK state is still in step
    finally:
        await client.aclose()
    assert response.status == 200 and server.requests[0].headers["x-big"] == big
    assert again[1] == "after" and server.protocol_errors == 0


def _answered_in_memory(chunk: int) -> list[tuple[str, int, object]]:
    """Client and server h2 connections wired in memory; the server's bytes reach the
    client ``chunk`` bytes at a time. Returns what the client saw, in order."""
    import h2.config
    import h2.connection
    import h2.events
    from h2.stream import StreamClosedBy

    from pushdeck.core.providers.http2 import _Answer, _LeanH2Connection

    client = _LeanH2Connection()
    server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    client.initiate_connection()
    server.initiate_connection()
    server.receive_data(client.data_to_send())
    client.receive_frames(server.data_to_send())
    server.receive_data(client.data_to_send())  # SETTINGS ACK
    for stream_id in (1, 3, 5, 7, 9):
        client.send_request_headers(
            stream_id,
            [
                (b":method", b"POST"),
                (b":scheme", b"https"),
                (b":authority", b"x"),
                (b":path", b"/"),
            ],
            False,
        )
        client.send_body(stream_id, b"hello", True)
    server.receive_data(client.data_to_send())
    server.send_headers(1, [(":status", "200"), ("apns-id", "a")], end_stream=True)
    server.send_headers(3, [(":status", "400"), ("x-big", "b" * 40_000)])  # + CONTINUATION
    server.send_data(3, b'{"reason":"BadDeviceToken"}', end_stream=True)
    server.send_headers(5, [(":status", "200")], end_stream=True)
    server.reset_stream(7)
    server.send_headers(9, [(":status", "200"), ("apns-id", "z")], end_stream=True)
    server.ping(b"12345678")
    wire = server.data_to_send()
    seen: list[tuple[str, int, object]] = []
    for start in range(0, len(wire), chunk):
        for event in client.receive_frames(wire[start : start + chunk]):
            if isinstance(event, _Answer):  # a whole answer in one HEADERS frame
                seen.append(("answer", event.stream_id, dict(event.headers).get(b":status")))
                seen.append(("StreamEnded", event.stream_id, None))
            elif isinstance(event, h2.events.ResponseReceived):
                seen.append(("response", event.stream_id, dict(event.headers).get(b":status")))
            elif isinstance(event, h2.events.DataReceived):
                seen.append(("data", event.stream_id, event.data))
            elif isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                seen.append((type(event).__name__, event.stream_id, None))
            elif isinstance(event, h2.events.PingReceived):
                seen.append(("ping", 0, event.ping_data))
    for stream_id in (1, 3, 5, 9):  # closed as h2 closes a stream the server ended
        stream = client.streams[stream_id]
        assert stream.closed and stream.closed_by == StreamClosedBy.RECV_END_STREAM
    return seen


def test_answers_are_read_the_same_whole_or_in_pieces() -> None:
    # The client reads most answers without h2's frame objects; split anywhere (TLS
    # records do), interleaved with CONTINUATION, DATA, RST_STREAM and PING, the events
    # must be exactly what arrives in one piece.
    # A whole answer in one HEADERS frame comes as one _Answer (h2's ResponseReceived
    # and StreamEnded in one), with the same status and the stream closed as h2 closes it.
    whole = _answered_in_memory(1 << 20)
    assert [e[:2] for e in whole] == [
        ("answer", 1), ("StreamEnded", 1), ("response", 3), ("data", 3),
        ("StreamEnded", 3), ("answer", 5), ("StreamEnded", 5), ("StreamReset", 7),
        ("answer", 9), ("StreamEnded", 9), ("ping", 0),
    ]  # fmt: skip
    assert [e[2] for e in whole if e[0] in ("answer", "response")] == [
        b"200",
        b"400",
        b"200",
        b"200",
    ]
    for chunk in (1, 7, 9, 10, 4096):
        pieces = _answered_in_memory(chunk)
        merged: list[tuple[str, int, object]] = []
        for event in pieces:  # DATA may arrive in several events when split
            if merged and event[0] == "data" and merged[-1][:2] == event[:2]:
                merged[-1] = ("data", event[1], merged[-1][2] + event[2])  # type: ignore[operator]
            else:
                merged.append(event)
        assert merged == whole, chunk
