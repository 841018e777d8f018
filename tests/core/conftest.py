"""Fixtures for core tests: fresh workspaces with an app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pushdeck.core.common.model import App
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(tmp_path / "test.pushdeck")
    add_app(
        workspace,
        App(
            "shop",
            apns_topic="com.example.shop",
            android_package="com.example.shop",
            web_origin="https://shop.example",
        ),
    )
    yield workspace
    workspace.close()
