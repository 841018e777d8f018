"""Provider connections trust the OS trust store, plus a credential's extra CA file.

The "system store" here is a temporary CA bundle named by ``SSL_CERT_FILE`` (and an empty
``SSL_CERT_DIR``): on Linux those are exactly the paths OpenSSL, and so truststore, reads
as the system store. The frozen bundle is checked the same way (and through the real
``/etc/ssl`` file in a private mount namespace) by tests/e2e/test_packaging.py.
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import truststore

from pushdeck.core.common.errors import NotSentError
from pushdeck.core.net.tls import system_trust_context
from pushdeck.core.providers.http2 import H2Client, client_ssl_context
from tests.fakes import tls
from tests.fakes.h2server import H2Server, Request, Response

Servers = dict[str, tuple[tls.TestPKI, H2Server]]


def ok(req: Request) -> Response:
    return Response(200, {}, b"ok")


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[Servers]:
    """Three servers, each with its own throwaway CA: 'system', 'extra' and 'unknown'."""
    out = {}
    for name in ("system", "extra", "unknown"):
        pki = tls.make_pki(tmp_path / name)
        out[name] = (pki, await H2Server(ok, pki.server_context()).start())
    yield out
    for _, server in out.values():
        await server.aclose()


@pytest.fixture
def system_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, servers: Servers) -> Path:
    """A system store holding only the 'system' server's CA."""
    bundle = tmp_path / "store" / "ca-certificates.crt"
    bundle.parent.mkdir()
    bundle.write_bytes(servers["system"][0].ca_file.read_bytes())
    (tmp_path / "store" / "certs").mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "store" / "certs"))
    return bundle


async def _get(server: H2Server, context: ssl.SSLContext) -> int:
    client = H2Client(server.url, context)
    try:
        response = await client.request(client.base_headers(b"GET", b"/"), b"")
        return response.status
    finally:
        await client.aclose()


def test_contexts_verify_through_the_os_trust_store() -> None:
    # On macOS and Windows only truststore's context asks the OS (Keychain, CryptoAPI);
    # a plain ssl context there trusts whatever CA list Python was built with.
    for context in (client_ssl_context(), client_ssl_context(""), system_trust_context()):
        assert isinstance(context, truststore.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


async def test_a_ca_only_in_the_system_store_is_trusted_without_a_ca_file(
    servers: Servers, system_store: Path
) -> None:
    assert await _get(servers["system"][1], client_ssl_context()) == 200


async def test_the_extra_ca_file_is_trusted_on_top_of_the_system_store(
    servers: Servers, system_store: Path
) -> None:
    context = client_ssl_context(str(servers["extra"][0].ca_file))
    assert await _get(servers["extra"][1], context) == 200  # the extra CA
    assert await _get(servers["system"][1], context) == 200  # and still the system store


async def test_a_ca_in_neither_is_refused_with_a_plain_reason(
    servers: Servers, system_store: Path
) -> None:
    context = client_ssl_context(str(servers["extra"][0].ca_file))
    server = servers["unknown"][1]
    with pytest.raises(NotSentError) as info:
        await _get(server, context)
    message = str(info.value)
    assert message.startswith(f"Could not connect to 127.0.0.1:{server.port}: ")
    assert "its TLS certificate is not trusted" in message and "--ca-file" in info.value.hint


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the OS verifies there")
async def test_a_context_reads_the_system_store_once_and_a_new_one_reads_it_again(
    servers: Servers, system_store: Path
) -> None:
    # Re-reading the store for each of a send's connections cost ~20 ms apiece (a tenth of
    # a 2,000-message Web Push campaign's CPU). A context (one provider, one send) keeps
    # what its first connection read; the next send's context reads the store afresh.
    context = client_ssl_context()
    assert await _get(servers["system"][1], context) == 200
    system_store.write_bytes(servers["unknown"][0].ca_file.read_bytes())  # the admin's change
    assert await _get(servers["system"][1], context) == 200  # same context, same store
    with pytest.raises(NotSentError):
        await _get(servers["unknown"][1], context)
    assert await _get(servers["unknown"][1], client_ssl_context()) == 200  # the next send
