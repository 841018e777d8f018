"""The reusable HTTP/2 fake server answers real HTTP/2 clients over TLS."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fakes.h2server import H2Server, Request, Response
from tests.fakes.tls import make_pki


@pytest.fixture
def pki(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_pki(tmp_path / "pki")


async def test_handler_sees_request_and_answer_comes_back(pki) -> None:  # type: ignore[no-untyped-def]
    def handler(req: Request) -> Response:
        return Response(201, {"x-echo": req.headers["x-in"]}, req.method.encode() + req.body)

    server = await H2Server(handler, pki.server_context()).start()
    try:
        async with httpx.AsyncClient(http2=True, verify=pki.client_context()) as client:
            resp = await client.post(f"{server.url}/p", content=b"hi", headers={"x-in": "1"})
        assert resp.http_version == "HTTP/2"
        assert (resp.status_code, resp.headers["x-echo"], resp.content) == (201, "1", b"POSThi")
        assert server.requests[0].path == "/p"
    finally:
        await server.aclose()


async def test_fail_next_overrides_handler_then_recovers(pki) -> None:  # type: ignore[no-untyped-def]
    server = await H2Server(lambda r: (200, {}, b"ok"), pki.server_context()).start()
    server.fail_next(1, 429, {"retry-after": "7"}, b"slow")
    try:
        async with httpx.AsyncClient(http2=True, verify=pki.client_context()) as client:
            first = await client.get(server.url + "/")
            second = await client.get(server.url + "/")
        assert (first.status_code, first.headers["retry-after"]) == (429, "7")
        assert (second.status_code, second.content) == (200, b"ok")
    finally:
        await server.aclose()
