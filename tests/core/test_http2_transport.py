"""The lean HTTP/2 client against the h2 fake server: streams, flow control, GOAWAY, loss."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import hpack
import pytest

from pushdeck.core.errors import NotSentError, ProviderTimeoutError, TransportError
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
