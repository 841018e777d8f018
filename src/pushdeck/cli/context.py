"""What every CLI command shares: the workspace, output helpers, progress."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from pushdeck.core.common.paths import WORKSPACE_ENV
from pushdeck.core.common.workspace_location import (
    PostgresLocation,
    local_workspace_path,
    resolve_workspace_location,
)
from pushdeck.core.store import Workspace


class Context:
    def __init__(self, workspace: str | None, *, debug: bool = False) -> None:
        import os

        self.workspace_given = workspace is not None or WORKSPACE_ENV in os.environ
        # A file path or a PostgreSQL URI, or WorkspaceLocationError (another URI
        # scheme): never a local file named after a URI.
        self.location = resolve_workspace_location(workspace)
        #: What Workspace.open takes: the file, or the URI (with its password: never print
        #: it, print ``self.location.redacted()``).
        self.workspace_target: Path | str = (
            self.location.uri if isinstance(self.location, PostgresLocation) else self.location.path
        )
        self.debug = debug
        self._ws: Workspace | None = None

    def workspace(self, *, create: bool = True) -> Workspace:
        if self._ws is None:
            self._ws = Workspace.open(self.workspace_target, create=create)
        return self._ws

    @property
    def workspace_path(self) -> Path:
        """The workspace file, for what needs one (a demo file, the app);
        WorkspaceLocationError for a PostgreSQL workspace."""
        return local_workspace_path(self.location)

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    @staticmethod
    def print_json(value: Any) -> None:
        print(json.dumps(value, indent=2, ensure_ascii=False, default=str))

    @staticmethod
    def table(rows: list[list[Any]], headers: list[str]) -> None:
        cells = [headers, *[[str(c) for c in r] for r in rows]]
        widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
        for index, row in enumerate(cells):
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
            if index == 0:
                print("  ".join("-" * w for w in widths))


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 1)
        self.enabled = sys.stderr.isatty()
        self._last = 0.0

    def update(self, done: int, extra: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and done < self.total):
            return
        self._last = now
        fraction = min(done / self.total, 1.0)
        bar = "#" * int(fraction * 30)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {fraction:6.1%} {extra}   ")
        sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
