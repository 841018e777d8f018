"""A plain HTTP server with a few images (and non-images) for preview image tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A 1×1 red PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489000000097048597300000f61"
    "00000f6101a83fa7690000000d49444154089963f8cfc0f01f00050001ffabce36890000000049454e44ae426082"
)


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert self.headers["Accept"] == "image/*"
        routes = {
            "/pic.png": (200, "image/png", PNG),
            "/page": (200, "text/html", b"<html></html>"),
            "/big.png": (200, "image/png", PNG + b"\0" * 5000),
        }
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/pic.png")
            self.end_headers()
            return
        status, kind, body = routes.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def image_server() -> Iterator[str]:
    """Serves /pic.png, /moved (→ /pic.png), /page (HTML), /big.png; 404 otherwise."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
