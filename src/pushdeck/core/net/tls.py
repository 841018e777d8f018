"""TLS client contexts that trust what the operating system trusts.

Every HTTPS and HTTP/2 connection Pushdeck opens verifies the server through
``truststore``: Security.framework (the Keychain) on macOS, CryptoAPI on Windows (which also
fetches a root Windows has not cached yet), and OpenSSL on Linux with the default CA file
and directory (``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured), falling back to the
distribution's own bundle (Debian, Fedora/RHEL, SUSE, Alpine paths) when the OpenSSL
directory the app was built with does not exist here. Why: a frozen bundle's OpenSSL only
knows the build machine's paths and python.org's macOS Python has no CA list at all, so a
provider moving to a new CA (APNs did in 2025) would break sends until Pushdeck shipped a
new list; the OS store is what the user's administrator and OS updates keep current.

A credential's extra CA file (``--ca-file``: a TLS-inspecting proxy, a staging server) is
trusted *in addition to* the system store on every platform: truststore hands the
certificates loaded with ``load_verify_locations`` to the OS verifier as extra anchors
(OpenSSL's store on Linux, ``SecTrustSetAnchorCertificates`` with system anchors kept on
macOS, a second chain engine tried after the system one on Windows).
"""

from __future__ import annotations

import ssl
import sys
from typing import Any

import truststore

#: Where truststore verifies with OpenSSL against the system CA files (not macOS or
#: Windows, where it asks the OS on every handshake).
_OPENSSL_VERIFIES = sys.platform not in ("darwin", "win32")


class _SystemTrustContext(truststore.SSLContext):
    """truststore's context, reading the system CA store once per context.

    Where OpenSSL verifies, truststore loads the system store into the context again
    for every connection (about 20 ms for Debian's 144 CAs: a tenth of a 2,000-message
    Web Push campaign's CPU over its four connections). The store loaded by the first
    connection stays in the context, so the later ones skip that step and are otherwise
    made exactly as truststore makes them. Contexts live as long as a provider (one
    send), so a CA the administrator adds is seen by the next send.
    """

    _store_loaded = False

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        if not (_OPENSSL_VERIFIES and self._store_loaded):
            made: ssl.SSLObject = super().wrap_bio(
                incoming, outgoing, server_side, server_hostname, session
            )
            self._store_loaded = True
            return made
        if self.check_hostname and not server_hostname:
            raise ValueError("check_hostname requires server_hostname")
        inner: Any = self._ctx  # the wrapped ssl.SSLContext, its store already loaded
        with self._ctx_lock:
            again: ssl.SSLObject = inner.wrap_bio(
                incoming, outgoing, server_side=server_side,
                server_hostname=server_hostname, session=session,
            )  # fmt: skip
        return again


def system_trust_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context: the OS trust store, plus ``ca_file`` when given."""
    context: ssl.SSLContext = _SystemTrustContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
