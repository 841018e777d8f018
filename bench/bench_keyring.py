"""A keyring backend for benchmarks only: secrets in a JSON file in the bench's temp folder.

The campaign command reads credentials from the OS keyring; a benchmark machine has
none. ``PYTHON_KEYRING_BACKEND=bench_keyring.FileKeyring`` (with this folder on
PYTHONPATH) and ``BENCH_KEYRING_FILE=/tmp/.../keyring.json`` select it. Never for real
secrets: Pushdeck itself refuses plain-text storage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["BENCH_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        path = self._path
        return json.loads(path.read_text()) if path.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}/{username}"] = password
        self._path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        data.pop(f"{service}/{username}", None)
        self._path.write_text(json.dumps(data))
