"""Fetching message images by URL for the previews (``core.media``), against a local server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pushdeck.core.errors import TransportError, ValidationError
from pushdeck.core.media import fetch_image
from tests.fakes.image_server import PNG, image_server


@pytest.fixture
def server() -> Iterator[str]:
    with image_server() as url:
        yield url


def test_fetches_an_image_and_follows_redirects(server: str) -> None:
    assert fetch_image(f"{server}/pic.png") == PNG
    assert fetch_image(f"{server}/moved") == PNG


def test_data_urls_need_no_network() -> None:
    import base64

    assert fetch_image("data:image/png;base64," + base64.b64encode(PNG).decode()) == PNG


def test_refuses_what_a_device_would_not_show(server: str) -> None:
    with pytest.raises(TransportError, match="HTTP 404"):
        fetch_image(f"{server}/missing.png")
    with pytest.raises(ValidationError, match="not an image: the server sent text/html"):
        fetch_image(f"{server}/page")
    with pytest.raises(ValidationError, match="larger than"):
        fetch_image(f"{server}/big.png", max_bytes=1000)
    with pytest.raises(ValidationError, match="not an http"):
        fetch_image("ftp://example.com/a.png")
    with pytest.raises(TransportError, match="could not be fetched"):
        fetch_image("http://127.0.0.1:9/nothing-listens-here.png", timeout=2)
