"""Plain words for a connection that could not be made (the request never left).

``socket``/``ssl`` errors read like "[Errno -2] Name or service not known" or
"[SSL: CERTIFICATE_VERIFY_FAILED] … (_ssl.c:1006)". What a user needs is which host,
what went wrong in everyday words, and what to check::

    Could not connect to api.push.apple.com: name not resolved.
      → Check the network connection and the host name.

Every such failure is a ``NotSentError``: nothing was written, so nothing can have
been delivered and a later retry cannot duplicate it.
"""

from __future__ import annotations

import errno
import socket
import ssl

from pushdeck.core.common.errors import NotSentError

_NETWORK = "Check the network connection"


def connect_failure(host: str, port: int, exc: BaseException, timeout: float = 0.0) -> NotSentError:
    """The ``NotSentError`` for a failed connection attempt to ``host:port``."""
    why, hint = _why(exc, timeout)
    where = host if port == 443 else f"{host}:{port}"
    return NotSentError(f"Could not connect to {where}: {why}.", hint=hint)


def _why(exc: BaseException, timeout: float) -> tuple[str, str]:
    if isinstance(exc, socket.gaierror):
        return _lookup(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = exc.verify_message or exc.reason or "verification failed"
        return (
            f"its TLS certificate is not trusted ({detail}; CERTIFICATE_VERIFY_FAILED)",
            "Behind a proxy that inspects TLS, add its CA file to the credential (--ca-file).",
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"the TLS handshake failed ({exc.reason or exc})",
            "Check the endpoint; behind a proxy, add its CA file to the credential.",
        )
    if isinstance(exc, TimeoutError):
        return (
            f"no answer within {timeout:g} s" if timeout else "the connection timed out",
            f"{_NETWORK}; the service may be unreachable from here.",
        )
    if isinstance(exc, OSError):
        return _socket(exc)
    return str(exc) or type(exc).__name__, f"{_NETWORK} and the endpoint."


def _lookup(exc: socket.gaierror) -> tuple[str, str]:
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return "name not resolved", f"{_NETWORK} and the host name."
    if exc.errno == socket.EAI_AGAIN:
        return (
            "name lookup failed (no DNS server answered)",
            f"{_NETWORK}; it may be offline.",
        )
    return f"name lookup failed ({exc.strerror or exc})", f"{_NETWORK} and the host name."


def _socket(exc: OSError) -> tuple[str, str]:
    text = str(exc)
    code = exc.errno
    if isinstance(exc, ConnectionRefusedError) or (code is None and "[Errno 111]" in text):
        return (
            "connection refused (nothing is listening there)",
            "The service may be down, or the endpoint or port is wrong.",
        )
    if code in (errno.ENETUNREACH, errno.ENETDOWN):
        return "network unreachable", f"{_NETWORK}; this machine may be offline."
    if code == errno.EHOSTUNREACH:
        return "host unreachable", f"{_NETWORK}; a firewall may block it."
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset while opening", "Try again; the service may be restarting."
    return exc.strerror or text or type(exc).__name__, f"{_NETWORK} and the endpoint."
