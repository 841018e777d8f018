"""Fixtures for core tests: fresh workspaces with an app.

``ws`` runs each test twice: on a SQLite file and on a fresh PostgreSQL database (the
throwaway server of tests/pg_fixtures.py). A test module that is about the file itself
(backups, integrity checks, WAL sharing, the staged import) asks for ``sqlite_ws``, or
overrides ``ws`` with it, instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pushdeck.core.common.model import App
from pushdeck.core.store import Workspace
from pushdeck.core.store.apps import add_app
from tests.fakes import tls

BACKENDS = ["sqlite", "postgresql"]


def _with_app(workspace: Workspace) -> Workspace:
    add_app(
        workspace,
        App(
            "shop",
            apns_topic="com.example.shop",
            android_package="com.example.shop",
            web_origin="https://shop.example",
        ),
    )
    return workspace


@pytest.fixture(params=BACKENDS)
def ws_target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's workspace lives: a file path, or a PostgreSQL URI (with its password,
    for opening it again from a second connection or process)."""
    if request.param == "sqlite":
        return tmp_path / "test.pushdeck"
    uri: str = request.getfixturevalue("pg_database")
    return uri


@pytest.fixture
def ws(ws_target: str | Path) -> Iterator[Workspace]:
    workspace = _with_app(Workspace.open(ws_target))
    yield workspace
    workspace.close()


@pytest.fixture
def sqlite_ws(tmp_path: Path) -> Iterator[Workspace]:
    """A workspace file (for tests about the file: backups, integrity, WAL, staging)."""
    workspace = _with_app(Workspace.open(tmp_path / "test.pushdeck"))
    yield workspace
    workspace.close()


@pytest.fixture
def pki(tmp_path: Path) -> tls.TestPKI:
    """A CA and a server certificate for the local fake providers (a module may define
    its own)."""
    return tls.make_pki(tmp_path / "pki")


@pytest.fixture
def key() -> ec.EllipticCurvePrivateKey:
    """An APNs signing key (.p8's P-256) for the fake APNs (tests/core/apns_setup.py)."""
    return ec.generate_private_key(ec.SECP256R1())
