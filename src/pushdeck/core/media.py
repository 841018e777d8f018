"""Fetching the image a message refers to by URL, so the previews can show it.

The app does no network I/O itself (an import-linter contract), so its image loader calls
``fetch_image`` from a worker thread, never the GUI thread. What a device would do is
mirrored loosely: http(s) or data: URLs, redirects followed, an image content type
required, and a size cap well above what the platforms display (APNs notification
service extensions and FCM both work with images of a few MB at most).
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from pushdeck.core.errors import TransportError, ValidationError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
TIMEOUT_SECONDS = 10.0


def fetch_image(
    url: str,
    *,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_IMAGE_BYTES,
    context: ssl.SSLContext | None = None,
) -> bytes:
    """The bytes of the image at ``url``; raise a clear error for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "data"):
        raise ValidationError(f"{url!r} is not an http(s) or data: URL.", field="image_url")
    request = urllib.request.Request(
        url, headers={"User-Agent": "Pushdeck preview", "Accept": "image/*"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            kind = response.headers.get_content_type()
            if not kind.startswith("image/"):
                raise ValidationError(
                    f"{_short(url)} is not an image: the server sent {kind}.",
                    field="image_url",
                    hint="Point the message at the image file itself (PNG, JPEG, GIF).",
                )
            data: bytes = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise TransportError(f"{_short(url)}: the server answered HTTP {exc.code}.") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TransportError(f"{_short(url)} could not be fetched: {reason}.") from None
    if len(data) > max_bytes:
        raise ValidationError(
            f"{_short(url)} is larger than {max_bytes // (1024 * 1024)} MB.",
            field="image_url",
            hint="Devices may not show an image this large; use a smaller one.",
        )
    return data


def _short(url: str) -> str:
    return url if len(url) <= 80 else url[:77] + "…"
