"""A plain HTTP server with a few images (and non-images) for preview image tests."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# A 1×1 red PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489000000097048597300000f61"
    "00000f6101a83fa7690000000d49444154089963f8cfc0f01f00050001ffabce36890000000049454e44ae426082"
)
#: Seconds between two bytes of /drip.png: the whole image takes about 15 s.
DRIP_INTERVAL = 15 / len(PNG)


class _Images(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        assert self.headers["Accept"] == "image/*"
        self.server.seen.append(self.path)
        routes = {
            "/pic.png": (200, "image/png", PNG),
            "/page": (200, "text/html", b"<html></html>"),
            "/big.png": (200, "image/png", PNG + b"\0" * 5000),
        }
        path = urlsplit(self.path)
        if path.path in ("/moved", "/to"):
            target = parse_qs(path.query).get("url", ["/pic.png"])[0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path.path == "/drip.png":
            self._drip()
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _drip(self) -> None:
        # A slowloris in reverse: every byte arrives well within any read timeout.
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.flush()
        for index in range(len(PNG)):
            if self.server.stopping.wait(DRIP_INTERVAL):
                return
            try:
                self.wfile.write(PNG[index : index + 1])
                self.wfile.flush()
            except OSError:
                return  # the client gave up

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, seen: list[str]) -> None:
        super().__init__((host, 0), _Images)
        self.seen = seen
        self.stopping = threading.Event()


@contextmanager
def image_server(
    host: str = "127.0.0.1",
    seen: list[str] | None = None,
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """Serves /pic.png, /moved (→ /pic.png), /to?url=U (→ U), /page (HTML), /big.png and
    /drip.png (one byte at a time, about 15 s in all); 404 otherwise. Each request's path
    is appended to ``seen``. With ``tls`` (a server context) it speaks HTTPS."""
    httpd = _Server(host, seen if seen is not None else [])
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"{'https' if tls else 'http'}://{host}:{httpd.server_address[1]}"
    httpd.stopping.set()
    httpd.shutdown()
    httpd.server_close()
