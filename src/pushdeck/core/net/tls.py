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

import truststore


def system_trust_context(ca_file: str = "") -> ssl.SSLContext:
    """A verifying client context: the OS trust store, plus ``ca_file`` when given."""
    context: ssl.SSLContext = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context
